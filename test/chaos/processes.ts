// The supervisor's side of the engine processes: spawn, talk over IPC, SIGKILL, restart.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, ChildRequest } from './engineProcess.ts';

const entry = fileURLToPath(new URL('./engineProcess.ts', import.meta.url));

type Pending = {
  resolve: (rows: Record<string, unknown>[]) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
};
type Request = ChildRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** One engine process with a fixed role; `kill()` + `start()` is a crash and a restart on the same store. */
export class EngineProcess {
  private child: ChildProcess | undefined;
  private ready: Promise<void> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private output = '';
  kills = 0;

  constructor(
    readonly name: string,
    private readonly flags: string[],
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): Promise<void> {
    const child = fork(entry, this.flags, {
      env: this.env,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child = child;
    this.output = '';
    // Only the tail is kept: enough to explain a crash without holding a long run's logs in memory.
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString('utf8')).slice(-8000);
    };
    // Writes to a process that was just killed fail with EPIPE; request() reports them, nothing else to do here.
    child.on('error', () => {});
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.ready = new Promise<void>((resolve, reject) => {
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        reject(new Error(`${this.name} exited before it was ready (${code ?? signal}):\n${this.output}`));
      child.once('exit', onExit);
      child.on('message', (raw: unknown) => {
        const message = raw as ChildMessage;
        if (message.type === 'ready') {
          child.off('exit', onExit);
          resolve();
          return;
        }
        const waiting = this.pending.get(message.id);
        if (!waiting) return;
        this.pending.delete(message.id);
        clearTimeout(waiting.timer);
        if (message.error !== undefined) waiting.reject(new Error(message.error));
        else waiting.resolve(message.rows ?? []);
      });
    });
    child.on('exit', () => {
      for (const [id, waiting] of this.pending) {
        clearTimeout(waiting.timer);
        waiting.reject(new Error(`${this.name} exited`));
        this.pending.delete(id);
      }
    });
    return this.ready;
  }

  async whenReady(): Promise<void> {
    await this.ready;
  }

  /** Sends a request to the process; rejects if it dies or does not answer in time. */
  async request(message: Request, timeoutMs = 30_000): Promise<Record<string, unknown>[]> {
    await this.ready;
    const child = this.child;
    if (!child || !this.alive) throw new Error(`${this.name} is not running`);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name} did not answer ${message.type} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      child.send({ ...message, id } as ChildRequest, (error) => {
        if (!error) return;
        // The process died between the check above and the write (EPIPE): the caller retries.
        clearTimeout(timer);
        this.pending.delete(id);
        reject(error);
      });
    });
  }

  query<T extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.request({ type: 'query', sql, params }) as Promise<T[]>;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
    if (signal === 'SIGKILL') this.kills += 1;
  }

  /** A clean stop (SIGTERM), with SIGKILL after a grace period. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }

  tail(): string {
    return this.output;
  }
}
