/**
 * Lints the second part of a large migration on a worker thread while the main thread does the
 * first: parsing is most of the work, and a statement's parse does not depend on the ones before
 * it. The rules do depend on what came before (tables created, lock_timeout, transactions), so the
 * worker judges its part only once the main thread has sent the context its own part leaves.
 *
 * One worker serves the whole process; it keeps the process alive only while a part is in flight.
 */
import { availableParallelism, loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ContextSnapshot } from './context.js';
import { compiledParser } from './parser.js';
import type { Finding, LintSettings, SuppressedFinding } from './types.js';

/** Below this size a migration is parsed on one thread: starting the worker would cost more than it saves. */
export const PARALLEL_MIN_BYTES = 256 * 1024;

/** Starting the worker thread costs about as long as linting this much SQL (measured on 2 cores, Node 20). */
const WORKER_START_BYTES = 150 * 1024;

/**
 * The share of a file the main thread keeps: more than half, since the worker starts late, by
 * the time it takes to start. With `bytes` = 800 KB the main thread takes the first 59 %.
 */
export function mainThreadShare(bytes: number): number {
  return Math.min(0.85, 0.5 + WORKER_START_BYTES / (2 * bytes));
}

export interface PartParse {
  readonly id: number;
  readonly type: 'parse';
  readonly wasm: WebAssembly.Module;
  readonly path: string;
  /** The whole file: the worker needs all of it for positions and suppression comments. */
  readonly sql: string;
  /** Where the worker's part starts, in characters and in bytes. */
  readonly from: number;
  readonly fromByte: number;
  readonly settings: LintSettings;
}

export type PartMessage =
  | PartParse
  | { readonly id: number; readonly type: 'lint'; readonly state: ContextSnapshot; readonly indexBase: number }
  | { readonly id: number; readonly type: 'cancel' };

export interface RemoteVerdicts {
  readonly findings: Finding[];
  readonly suppressed: SuppressedFinding[];
  /** Lines of the suppression comments the worker's part used. */
  readonly usedSuppressionLines: number[];
  /** Statements in the worker's part. */
  readonly count: number;
  /** The context after the worker's part: the run-wide part of it carries on to the next file. */
  readonly state: ContextSnapshot;
}

export type PartReply =
  | { readonly id: number; readonly type: 'parsed'; readonly ok: boolean }
  | ({ readonly id: number; readonly type: 'linted' } & RemoteVerdicts)
  | { readonly id: number; readonly type: 'failed'; readonly message: string };

export interface RemotePart {
  /** False when the part does not parse on its own, or the worker failed: lint the file on this thread instead. */
  readonly parsed: Promise<boolean>;
  /** Judges the part, starting from `state`; `indexBase` is the number of statements before it. */
  lint(state: ContextSnapshot, indexBase: number): Promise<RemoteVerdicts>;
  cancel(): void;
}

let worker: Worker | undefined;
let unusable = false;
let nextId = 1;
const waiting = new Map<number, (reply: PartReply) => void>();

/**
 * Two threads when a second core is free to run one; otherwise one. A worker that has to wait for a
 * core only adds its start-up (about 0.1 s of CPU) to a run that other processes already slow down.
 */
export function defaultThreads(): number {
  const cores = availableParallelism();
  return cores >= 2 && (loadavg()[0] ?? 0) <= cores - 1 ? 2 : 1;
}

function failAll(message: string): void {
  unusable = true;
  worker = undefined;
  for (const [id, settle] of waiting) settle({ id, type: 'failed', message });
  waiting.clear();
}

function theWorker(): Worker | undefined {
  if (unusable) return undefined;
  if (!worker) {
    try {
      worker = import.meta.url.endsWith('.ts') ? sourceWorker() : new Worker(new URL('./lint-worker.js', import.meta.url));
    } catch {
      unusable = true;
      return undefined;
    }
    worker.unref();
    worker.on('message', (reply: PartReply) => {
      const settle = waiting.get(reply.id);
      waiting.delete(reply.id);
      if (waiting.size === 0) worker?.unref();
      settle?.(reply);
    });
    worker.on('error', (error) => failAll(error.message));
    worker.on('exit', (code) => failAll(`the lint worker exited with code ${code}`));
  }
  return worker;
}

/**
 * Run from the TypeScript sources (tests, development: `node --import tsx`), the worker is a .ts
 * file, and a worker thread does not inherit tsx's module hooks: register them in it first.
 */
function sourceWorker(): Worker {
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./lint-worker.ts', import.meta.url).href;
  return new Worker(`import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`, { eval: true });
}

function ask(target: Worker, message: PartMessage): Promise<PartReply> {
  return new Promise((resolve) => {
    waiting.set(message.id, resolve);
    target.ref();
    target.postMessage(message);
  });
}

/** Starts parsing `sql` from character `from` on the worker; undefined when there is no worker to be had. */
export async function startRemotePart(request: Omit<PartParse, 'id' | 'type' | 'wasm'>): Promise<RemotePart | undefined> {
  const target = theWorker();
  if (!target) return undefined;
  const id = nextId++;
  const parsed = ask(target, { ...request, id, type: 'parse', wasm: await compiledParser() }).then((reply) => reply.type === 'parsed' && reply.ok);
  return {
    parsed,
    async lint(state, indexBase) {
      const reply = await ask(target, { id, type: 'lint', state, indexBase });
      if (reply.type !== 'linted') throw new Error(`linting ${request.path} on a worker thread failed: ${reply.type === 'failed' ? reply.message : reply.type}`);
      return reply;
    },
    cancel() {
      if (!unusable) target.postMessage({ id, type: 'cancel' } satisfies PartMessage);
    },
  };
}
