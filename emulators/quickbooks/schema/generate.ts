// Regenerates xsd.generated.ts from Intuit's published XSD schemas (the authoritative field lists).
// Run: node --import tsx emulators/quickbooks/schema/generate.ts [xsdDir] (default: the vendor specs' quickbooks/xsd)
// Only structure is extracted (type -> fields, enums); documentation is dropped.
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findVendorSpecs } from '../../common/vendorSpecs.ts';

export interface XsdComplexType {
  base?: string;
  /** simpleContent types (ReferenceType, ...) serialise their text as JSON `value`. */
  simpleContent?: boolean;
  fields: Record<string, { type: string; many: boolean }>;
}

export interface XsdModel {
  complexTypes: Record<string, XsdComplexType>;
  enums: Record<string, string[]>;
}

const stripPrefix = (t: string): string => t.replace(/^[a-z]+:/, '');

/** A small tag walker: enough for Intuit's XSDs, which use sequence/choice/group/extension and named types. */
export function parseXsd(sources: string[]): XsdModel {
  const complexTypes: Record<string, XsdComplexType> = {};
  const enums: Record<string, string[]> = {};
  const groups: Record<string, XsdComplexType['fields']> = {};
  const groupRefs: Array<{ into: XsdComplexType['fields']; name: string }> = [];
  for (const raw of sources) {
    const text = raw.replace(/<!--[\s\S]*?-->/g, '').replace(/<xs:annotation>[\s\S]*?<\/xs:annotation>/g, '');
    const tagRe = /<(\/?)xs:(\w+)([^>]*?)(\/?)>/g;
    const stack: Array<{
      tag: string;
      name?: string;
      fields?: XsdComplexType['fields'];
      enumValues?: string[];
      anonymous?: boolean;
    }> = [];
    let m: RegExpExecArray | null;
    while ((m = tagRe.exec(text))) {
      const [, closing, tag, attrs, selfClosing] = m as unknown as [string, string, string, string, string];
      const attr = (n: string): string | undefined => new RegExp(`\\b${n}="([^"]*)"`).exec(attrs)?.[1];
      if (closing) {
        stack.pop();
        continue;
      }
      const frame: (typeof stack)[number] = { tag };
      const owner = [...stack].reverse().find((f) => f.fields || f.anonymous);
      if (tag === 'complexType') {
        const name = attr('name');
        if (name && !owner) {
          const ct: XsdComplexType = { fields: {} };
          complexTypes[name] = ct;
          frame.name = name;
          frame.fields = ct.fields;
        } else frame.anonymous = true;
      } else if (tag === 'group' && attr('name')) {
        const fields: XsdComplexType['fields'] = {};
        groups[attr('name')!] = fields;
        frame.fields = fields;
      } else if (tag === 'group' && attr('ref') && owner?.fields) {
        groupRefs.push({ into: owner.fields, name: stripPrefix(attr('ref')!) });
      } else if (tag === 'simpleType' && attr('name') && !owner) {
        frame.name = attr('name');
        frame.enumValues = [];
        enums[frame.name!] = frame.enumValues;
      } else if (tag === 'enumeration') {
        const e = [...stack].reverse().find((f) => f.enumValues);
        if (e) e.enumValues!.push(attr('value') ?? '');
      } else if ((tag === 'extension' || tag === 'restriction') && owner?.fields && owner.name) {
        const ct = complexTypes[owner.name]!;
        const base = stripPrefix(attr('base') ?? '');
        if (stack.some((f) => f.tag === 'simpleContent')) ct.simpleContent = true;
        else if (tag === 'extension') ct.base = base;
      } else if (tag === 'element' && owner?.fields && !owner.anonymous) {
        const name = attr('name');
        if (name) {
          const max = attr('maxOccurs');
          const inChoiceMany = stack.some((f) => f.tag === 'choice' && f.name === 'many');
          owner.fields[name] = {
            type: stripPrefix(attr('type') ?? 'anonymous'),
            many: max === 'unbounded' || inChoiceMany,
          };
        }
      } else if (tag === 'attribute' && owner?.fields && !owner.anonymous) {
        const name = attr('name');
        if (name) owner.fields[name] = { type: stripPrefix(attr('type') ?? 'xs:string'), many: false };
      } else if (tag === 'choice') {
        if (attr('maxOccurs') === 'unbounded') frame.name = 'many';
      }
      if (!selfClosing) stack.push(frame);
    }
  }
  for (const ref of groupRefs) Object.assign(ref.into, groups[ref.name] ?? {});
  for (const [name, values] of Object.entries(enums)) if (values.length === 0) delete enums[name];
  return { complexTypes, enums };
}

export function loadXsdDir(dir: string): XsdModel {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.xsd'))
    .sort();
  return parseXsd(files.map((f) => readFileSync(join(dir, f), 'utf8')));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const here = dirname(fileURLToPath(import.meta.url));
  const dir = process.argv[2] ?? findVendorSpecs('quickbooks/xsd').dir;
  const model = loadXsdDir(dir);
  const out =
    "// Generated by schema/generate.ts from Intuit's QuickBooks Online v3 XSD schemas. Do not edit by hand.\n" +
    "import type { XsdModel } from './generate.ts';\n\n" +
    `export const xsd: XsdModel = ${JSON.stringify(model)};\n`;
  writeFileSync(join(here, 'xsd.generated.ts'), out);
  process.stdout.write(
    `${Object.keys(model.complexTypes).length} complex types, ${Object.keys(model.enums).length} enums\n`,
  );
}
