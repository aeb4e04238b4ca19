/**
 * Parses the later parts of a large migration on a worker thread while the main thread parses and
 * judges the first part, then judges the worker's parts as they arrive. Parsing is most of the
 * work and a statement's parse does not depend on the ones before it; judging does (tables
 * created, lock_timeout, transactions), so it stays on the main thread, in file order.
 *
 * One worker serves the whole process; it keeps the process alive only while a parse is in flight.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { compiledParser } from './parser.js';

/** Below this size a migration is parsed on one thread: starting the worker would cost more than it saves. */
export const PARALLEL_MIN_BYTES = 256 * 1024;

/**
 * The share of a large file the main thread parses itself. The rest goes to the worker in
 * `WORKER_PARTS` parts, so the main thread can judge the first of them while the worker parses
 * the next. The main thread also judges everything, so it parses the smaller share; 0.2 to 0.4
 * measured alike on the benchmark file within noise, 0.3 best.
 */
export const MAIN_THREAD_SHARE = 0.3;
/**
 * The main thread ends by judging the worker's last part, after the worker is done: smaller parts
 * shorten that tail. 6 parts: 240 ms on the benchmark file, against 244 with 4 and 242 with 8
 * (medians of 25, two cores).
 */
const WORKER_PARTS = 6;

/** Where, as fractions of the worker's text, its parts start (after the first). */
export const WORKER_CUTS: readonly number[] = Array.from({ length: WORKER_PARTS - 1 }, (_, part) => (part + 1) / WORKER_PARTS);

export interface ParseRequest {
  readonly id: number;
  readonly wasm: WebAssembly.Module;
  /** The worker's text: the file from the main thread's cut on. */
  readonly sql: string;
  /** Fractions of `sql` at which to cut it into parts (see splitPoints). */
  readonly fractions: readonly number[];
  /** Statement types worth handing back (see wantedTypes). */
  readonly wanted: readonly string[];
}

/** One part of the worker's text, parsed: what readStatements needs to make a StatementList of it. */
export interface ParsedPart {
  readonly json: string;
  readonly byteLength: number;
  /** start, end (in `json`) and index (within the part) of each wanted statement. */
  readonly ranges: number[];
  /** Statements in the part, wanted or not. */
  readonly count: number;
  readonly last: boolean;
}

export type ParseReply =
  | ({ readonly id: number; readonly type: 'part' } & ParsedPart)
  /** A part does not parse on its own: a syntax error, or a cut inside a statement. */
  | { readonly id: number; readonly type: 'unparsable' }
  | { readonly id: number; readonly type: 'failed'; readonly message: string };

export interface RemoteParse {
  /** The next part in file order; undefined when a part did not parse or the worker failed (lint the file on this thread instead). */
  next(): Promise<ParsedPart | undefined>;
  /** Stops waiting for this parse: the process may exit while the worker finishes it. */
  close(): void;
}

/**
 * node:worker_threads, loaded when a worker is first started: most lints never start one, and
 * loading it costs ~3 ms of a run that squawk finishes in ~45.
 */
function workerThreads(): typeof import('node:worker_threads') {
  return createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');
}

let worker: Worker | undefined;
let unusable = false;
let nextId = 1;
interface Inbox {
  readonly replies: ParseReply[];
  wake: (() => void) | undefined;
}

const inbox = new Map<number, Inbox>();

/**
 * Two threads when a second core is free to run one; otherwise one. A worker that has to wait for a
 * core only adds its start-up to a run that other processes already slow down (measured on two
 * cores with one kept busy: 350 ms instead of 286 on the benchmark file).
 */
export function defaultThreads(): number {
  const cores = availableParallelism();
  if (cores < 2) return 1;
  // This process's own worker, once started, is among the threads running.
  if (worker) return 2;
  return coresBusyElsewhere() <= cores - 2 ? 2 : 1;
}

/**
 * How many cores other work occupies now. Linux counts the threads running or ready to run at this
 * instant (the fourth field of /proc/loadavg, this thread among them). The one-minute load average
 * stands in elsewhere, though it lags: lints run back to back push it past 1 on their own, after
 * which every run would keep to one thread.
 */
export function coresBusyElsewhere(): number {
  try {
    const running = Number.parseInt(readFileSync('/proc/loadavg', 'latin1').split(' ')[3] ?? '', 10);
    if (running >= 1) return running - 1;
  } catch {
    // Not Linux.
  }
  return loadavg()[0] ?? 0;
}

function failAll(message: string): void {
  unusable = true;
  worker = undefined;
  for (const [id, box] of inbox) {
    box.replies.push({ id, type: 'failed', message });
    box.wake?.();
  }
}

/**
 * Starts the worker thread now, so that it has booted by the time a large file is ready for it:
 * the standalone lint entry calls this first thing when it is given one.
 */
export function warmUpParseWorker(): void {
  theWorker();
}

function theWorker(): Worker | undefined {
  if (unusable) return undefined;
  if (!worker) {
    try {
      worker = import.meta.url.endsWith('.ts') ? sourceWorker() : new (workerThreads().Worker)(new URL('./parse-worker.js', import.meta.url));
    } catch {
      unusable = true;
      return undefined;
    }
    worker.on('message', (reply: ParseReply) => {
      const box = inbox.get(reply.id);
      if (!box) return;
      box.replies.push(reply);
      box.wake?.();
    });
    worker.on('error', (error) => failAll(error.message));
    worker.on('exit', (code) => failAll(`the lint worker exited with code ${code}`));
    // After the listeners: adding a 'message' listener refs a worker again, and an idle worker
    // (started early, then not needed: the lint refused a file or a flag) kept the process alive.
    worker.unref();
  }
  return worker;
}

/**
 * Run from the TypeScript sources (tests, development: `node --import tsx`), the worker is a .ts
 * file, and a worker thread does not inherit tsx's module hooks: register them in it first.
 */
function sourceWorker(): Worker {
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./parse-worker.ts', import.meta.url).href;
  return new (workerThreads().Worker)(`import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`, { eval: true });
}

/** Starts parsing `sql` in parts on the worker; undefined when there is no worker to be had. */
export async function parseRemotely(sql: string, wanted: ReadonlySet<string>): Promise<RemoteParse | undefined> {
  const target = theWorker();
  if (!target) return undefined;
  const id = nextId++;
  const box: Inbox = { replies: [], wake: undefined };
  inbox.set(id, box);
  if (inbox.size === 1) target.ref();
  const request: ParseRequest = { id, wasm: await compiledParser(), sql, fractions: WORKER_CUTS, wanted: [...wanted] };
  target.postMessage(request);
  let done = false;
  const close = () => {
    if (done) return;
    done = true;
    inbox.delete(id);
    if (inbox.size === 0) worker?.unref();
  };
  return {
    async next() {
      if (done) return undefined;
      while (box.replies.length === 0) await new Promise<void>((resolve) => (box.wake = resolve));
      box.wake = undefined;
      const reply = box.replies.shift() as ParseReply;
      if (reply.type !== 'part') {
        close();
        return undefined;
      }
      if (reply.last) close();
      return reply;
    },
    close,
  };
}
