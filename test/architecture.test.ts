// The architecture, held by a test over the source text (no database, no build): which folder may import which,
// that the imports of src/ form no cycle, that the store alone speaks SQL to the links table, and that the engine
// reads job payloads through their schemas. Arrows point one way (server -> sync -> clients and store -> domain, the
// domain pure); the emulators and src/ are two independent readings of the providers' APIs, so that each catches
// the other's mistakes, and import nothing from each other (tests, the demo and the CLI's dispatch wire them).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** One module specifier a file names, where, and how. */
interface Import {
  specifier: string;
  line: number;
  /** `import type` / `export type`, or braces holding only `type` names: erased at run time. */
  typeOnly: boolean;
  /** `import('...')`: loaded when the code runs, not when the module loads. */
  dynamic: boolean;
  /** For a relative specifier, the file it names (repository-relative, `/`-separated). */
  target?: string;
}

interface SourceFile {
  path: string;
  text: string;
  imports: Import[];
}

function sourcesUnder(folder: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(root, dir))) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const path = posix.join(dir, name);
      if (statSync(join(root, path)).isDirectory()) walk(path);
      else if (name.endsWith('.ts')) out.push(path);
    }
  };
  walk(folder);
  return out.sort();
}

const lineAt = (text: string, index: number): number => text.slice(0, index).split('\n').length;

/** Whether the line holding `index` is a comment line (`//`, or a `*` line of a block comment). */
function inCommentLine(text: string, index: number): boolean {
  const start = text.lastIndexOf('\n', index - 1) + 1;
  const head = text.slice(start, index).trimStart();
  return head.startsWith('//') || head.startsWith('*') || head.startsWith('/*');
}

// Statements start a line (Biome formats every file), so a match at a line start is code, not a comment's words.
const STATIC_IMPORT =
  /^[ \t]*(import|export)[ \t]+(type[ \t]+)?((?:[\w$]+[ \t]*,[ \t]*)?(?:\{[^}]*\}|\*(?:[ \t]+as[ \t]+[\w$]+)?|[\w$]+))[ \t]*from[ \t]*(['"])([^'"\n]+)\4/gm;
const BARE_IMPORT = /^[ \t]*import[ \t]*(['"])([^'"\n]+)\1/gm;
const DYNAMIC_IMPORT = /\bimport\(\s*(['"])([^'"\n]+)\1\s*\)/g;

/** The imports of a module's text. `path` (repository-relative) resolves relative specifiers. */
function importsOf(path: string, text: string): Import[] {
  const imports: Import[] = [];
  const add = (specifier: string, index: number, typeOnly: boolean, dynamic: boolean): void => {
    const target = specifier.startsWith('.') ? posix.normalize(posix.join(posix.dirname(path), specifier)) : undefined;
    imports.push({ specifier, line: lineAt(text, index), typeOnly, dynamic, ...(target ? { target } : {}) });
  };
  for (const m of text.matchAll(STATIC_IMPORT)) {
    const clause = m[3]!;
    const braces = /\{([^}]*)\}/.exec(clause);
    const names = braces
      ? braces[1]!
          .split(',')
          .map((name) => name.trim())
          .filter(Boolean)
      : [];
    // `import { type A, type B }` is erased like `import type { A, B }`; a default name beside the braces is not.
    const onlyTypeNames =
      clause.trimStart().startsWith('{') && names.length > 0 && names.every((name) => name.startsWith('type '));
    add(m[5]!, m.index, Boolean(m[2]) || onlyTypeNames, false);
  }
  for (const m of text.matchAll(BARE_IMPORT)) add(m[2]!, m.index, false, false);
  for (const m of text.matchAll(DYNAMIC_IMPORT)) if (!inCommentLine(text, m.index)) add(m[2]!, m.index, false, true);
  return imports.sort((a, b) => a.line - b.line);
}

function read(paths: string[]): SourceFile[] {
  return paths.map((path) => {
    const text = readFileSync(join(root, path), 'utf8');
    return { path, text, imports: importsOf(path, text) };
  });
}

const src = read(sourcesUnder('src'));
const emulators = read(sourcesUnder('emulators'));
const under = (folder: string) => (path: string | undefined) => path?.startsWith(`${folder}/`) === true;

const where = (file: SourceFile, imp: Import): string =>
  `${file.path}:${imp.line} imports '${imp.specifier}'${imp.dynamic ? ' (dynamic)' : ''}`;

/** Every import of `files` that `forbidden` catches, as readable lines. */
function offending(files: SourceFile[], forbidden: (imp: Import, file: SourceFile) => boolean): string[] {
  return files.flatMap((file) => file.imports.filter((imp) => forbidden(imp, file)).map((imp) => where(file, imp)));
}

/** Lines of `files` matching `pattern`, as `path:line: text`. */
function linesMatching(files: SourceFile[], pattern: RegExp): string[] {
  return files.flatMap((file) =>
    file.text
      .split('\n')
      .map((text, i) => ({ text, line: i + 1 }))
      .filter(({ text }) => pattern.test(text))
      .map(({ text, line }) => `${file.path}:${line}: ${text.trim()}`),
  );
}

type Graph = Map<string, Map<string, number>>;

/** The import graph among `files`: file -> (imported file -> line of the first such import). */
function graphOf(files: SourceFile[]): Graph {
  const known = new Set(files.map((file) => file.path));
  const graph: Graph = new Map();
  for (const file of files) {
    const edges = new Map<string, number>();
    for (const imp of file.imports)
      if (imp.target && known.has(imp.target) && !edges.has(imp.target)) edges.set(imp.target, imp.line);
    graph.set(file.path, edges);
  }
  return graph;
}

/** Strongly connected components with more than one module (or a module importing itself): Tarjan's algorithm. */
function tangles(graph: Graph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const to of graph.get(node)?.keys() ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(node, Math.min(low.get(node)!, index.get(to)!));
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || graph.get(node)?.has(node)) found.push(component.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return found.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** The shortest cycle through `start` within `component` (breadth first), as the modules in import order. */
function shortestCycle(graph: Graph, component: string[], start: string): string[] {
  const inside = new Set(component);
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const to of graph.get(node)?.keys() ?? []) {
      if (!inside.has(to)) continue;
      if (to === start) {
        const path = [node];
        while (path[0] !== start) path.unshift(cameFrom.get(path[0]!)!);
        return [...path, start];
      }
      if (!cameFrom.has(to)) {
        cameFrom.set(to, node);
        queue.push(to);
      }
    }
  }
  return [start];
}

/** A readable account of each cycle: its modules, and one shortest loop with the line of each import. */
function describeCycles(graph: Graph): string[] {
  return tangles(graph).map((component) => {
    const loop = shortestCycle(graph, component, component[0]!);
    const steps = loop
      .slice(0, -1)
      .map((from, i) => `    ${from}:${graph.get(from)!.get(loop[i + 1]!)} -> ${loop[i + 1]}`);
    return [`  ${component.length} modules: ${component.join(', ')}`, '    e.g.', ...steps].join('\n');
  });
}

const NODE_IO = new Set([
  'child_process',
  'cluster',
  'dgram',
  'dns',
  'fs',
  'fs/promises',
  'http',
  'http2',
  'https',
  'inspector',
  'net',
  'readline',
  'repl',
  'tls',
  'worker_threads',
]);
const IO_PACKAGES = ['pg', 'pg-boss', '@electric-sql/pglite', 'fastify', '@fastify', 'pino', 'prom-client'];

/** Whether a bare specifier names an I/O module of Node or an I/O package (with any subpath). */
function isIo(specifier: string): boolean {
  const builtin = specifier.startsWith('node:') ? specifier.slice('node:'.length) : specifier;
  if (NODE_IO.has(builtin) && (specifier.startsWith('node:') || builtinModules.includes(builtin))) return true;
  return IO_PACKAGES.some((name) => specifier === name || specifier.startsWith(`${name}/`));
}

describe('architecture', () => {
  it('reads the sources (the checks below are not vacuous)', () => {
    assert.ok(src.length > 100, `src/ has ${src.length} modules`);
    assert.ok(emulators.length > 50, `emulators/ has ${emulators.length} modules`);
    assert.ok(
      src.some((file) => file.imports.some((imp) => imp.target === 'src/domain/money.ts')),
      'src/domain/money.ts is imported somewhere',
    );
  });

  it('reads every form of import and export specifier, and resolves relative ones', () => {
    const text = [
      "import a from './a.ts';",
      "import * as b from '../b.ts';",
      "import c, { d } from 'pkg';",
      "import type { E } from './e.ts';",
      "import { type F, type G } from './fg.ts';",
      "import { type H, h } from './h.ts';",
      'import {',
      '  i,',
      '  j,',
      "} from './ij.ts';",
      "import './side.ts';",
      "export { k } from './k.ts';",
      "export * from './l.ts';",
      "export type { M } from './m.ts';",
      '// import n from "./not-this.ts"; nor `import("./nor-this.ts")` in a comment',
      "const later = await import('node:fs');",
    ].join('\n');
    const read = importsOf('src/x/y.ts', text).map(({ specifier, line, typeOnly, dynamic, target }) => ({
      specifier,
      line,
      typeOnly,
      dynamic,
      target,
    }));
    assert.deepEqual(read, [
      { specifier: './a.ts', line: 1, typeOnly: false, dynamic: false, target: 'src/x/a.ts' },
      { specifier: '../b.ts', line: 2, typeOnly: false, dynamic: false, target: 'src/b.ts' },
      { specifier: 'pkg', line: 3, typeOnly: false, dynamic: false, target: undefined },
      { specifier: './e.ts', line: 4, typeOnly: true, dynamic: false, target: 'src/x/e.ts' },
      { specifier: './fg.ts', line: 5, typeOnly: true, dynamic: false, target: 'src/x/fg.ts' },
      { specifier: './h.ts', line: 6, typeOnly: false, dynamic: false, target: 'src/x/h.ts' },
      { specifier: './ij.ts', line: 7, typeOnly: false, dynamic: false, target: 'src/x/ij.ts' },
      { specifier: './side.ts', line: 11, typeOnly: false, dynamic: false, target: 'src/x/side.ts' },
      { specifier: './k.ts', line: 12, typeOnly: false, dynamic: false, target: 'src/x/k.ts' },
      { specifier: './l.ts', line: 13, typeOnly: false, dynamic: false, target: 'src/x/l.ts' },
      { specifier: './m.ts', line: 14, typeOnly: true, dynamic: false, target: 'src/x/m.ts' },
      { specifier: 'node:fs', line: 16, typeOnly: false, dynamic: true, target: undefined },
    ]);
  });

  it('finds and describes a cycle, and none in a graph without one', () => {
    const file = (path: string, ...targets: string[]): SourceFile => ({
      path,
      text: '',
      imports: targets.map((target, i) => ({
        specifier: target,
        line: i + 1,
        typeOnly: false,
        dynamic: false,
        target,
      })),
    });
    const acyclic = graphOf([file('a.ts', 'b.ts', 'c.ts'), file('b.ts', 'c.ts'), file('c.ts')]);
    assert.deepEqual(describeCycles(acyclic), []);
    const cyclic = graphOf([
      file('a.ts', 'b.ts'),
      file('b.ts', 'c.ts'),
      file('c.ts', 'a.ts', 'b.ts'),
      file('d.ts', 'd.ts'),
    ]);
    assert.deepEqual(describeCycles(cyclic), [
      '  3 modules: a.ts, b.ts, c.ts\n    e.g.\n    a.ts:1 -> b.ts\n    b.ts:1 -> c.ts\n    c.ts:1 -> a.ts',
      '  1 modules: d.ts\n    e.g.\n    d.ts:1 -> d.ts',
    ]);
  });

  it('has no import cycle among the modules of src/', () => {
    const cycles = describeCycles(graphOf(src));
    assert.ok(cycles.length === 0, `import cycles in src/ (type-only imports included):\n${cycles.join('\n')}`);
  });

  it('keeps the emulators and src/ apart (the CLI may dispatch to the emulators when it runs)', () => {
    const fromEmulators = offending(emulators, (imp) => under('src')(imp.target));
    // `ledgerlink emulator` and the demo are dispatched to from src/cli.ts when the command runs: the emulators are
    // products of their own, and no module of src/ loads them otherwise.
    const dispatch = (imp: Import, file: SourceFile) => imp.dynamic && file.path === 'src/cli.ts';
    const fromSrc = offending(
      src,
      (imp, file) => (under('emulators')(imp.target) || under('test')(imp.target)) && !dispatch(imp, file),
    );
    assert.deepEqual(fromEmulators, [], 'emulators/ imports from src/');
    assert.deepEqual(fromSrc, [], 'src/ imports from emulators/ or test/');
  });

  it('keeps src/domain/ pure: no I/O module, no client, store or other room of src/', () => {
    const domain = src.filter((file) => under('src/domain')(file.path));
    assert.ok(domain.length > 10);
    const io = offending(domain, (imp) => (imp.target ? !under('src/domain')(imp.target) : isIo(imp.specifier)));
    assert.deepEqual(io, [], 'src/domain/ imports I/O or another room of src/');
  });

  it('speaks SQL to the links table only in src/store/', () => {
    const outside = src.filter((file) => !under('src/store')(file.path));
    const statements = linesMatching(outside, /(FROM|INTO|UPDATE|JOIN)\s+links\b/);
    assert.deepEqual(statements, [], `SQL against links outside src/store/ (${statements.length} lines)`);
  });

  it('reads job payloads through schemas in the engine, never by coercion', () => {
    const engine = src.filter((file) => under('src/sync/engine')(file.path));
    assert.ok(engine.length > 0, 'src/sync/engine/ has modules');
    const coercions = linesMatching(engine, /String\(data\.|typeof data\./);
    assert.deepEqual(coercions, [], `job data coerced in src/sync/engine/ (${coercions.length} lines)`);
  });

  it('keeps src/store/ below the flows and the server', () => {
    const store = src.filter((file) => under('src/store')(file.path));
    const upward = offending(store, (imp) => under('src/sync')(imp.target) || under('src/server')(imp.target));
    assert.deepEqual(upward, [], 'src/store/ imports from src/sync/ or src/server/');
  });
});
