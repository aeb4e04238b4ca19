/**
 * Steady HTTP load against the test fleet's HAProxy frontend, from a separate Node process so it
 * neither slows the process under test nor is slowed by it. Every request is counted: success,
 * status, socket error, version answered. Half the requests go over keep-alive connections and
 * half over a fresh connection each, because a missed drain hurts the two differently (a reused
 * connection closed under it, a connect refused).
 *
 * Bounded: the load stops by itself after `durationMs` (default 60 s, at most 5 min) and never
 * exceeds `rps` (at most 2000).
 */
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LoadOptions {
  /** Full URL to request, e.g. the HAProxy frontend `http://127.10.20.1:8080/`. */
  url: string;
  rps: number;
  durationMs?: number;
  /** A request without a complete answer after this long counts as an error 'timeout'. Default 5 s. */
  requestTimeoutMs?: number;
}

export interface ConnectionTally {
  sent: number;
  ok: number;
  failed: number;
}

export interface FailureSample {
  /** Milliseconds since the load started. */
  atMs: number;
  connection: 'keep-alive' | 'fresh';
  /** 'status 503', 'ECONNRESET', 'timeout', ... */
  what: string;
}

export interface LoadTally {
  durationMs: number;
  sent: number;
  /** 2xx answers read to the end. */
  ok: number;
  /** Everything else: non-2xx answers, socket errors, timeouts. */
  failed: number;
  /** Answers by HTTP status, successful ones included. */
  byStatus: Record<string, number>;
  /** Requests that got no complete answer, by error code. */
  errors: Record<string, number>;
  /** The `version` field of successful answers. */
  versions: Record<string, number>;
  keepAlive: ConnectionTally;
  fresh: ConnectionTally;
  /** Requests not sent because too many were already in flight (the target is too slow). */
  skipped: number;
  /** The first failures, for the message of a failing test. */
  firstFailures: FailureSample[];
}

export interface LoadHandle {
  /** Stops sending, waits for requests in flight, returns the tally. Also fine after the load ended by itself. */
  stop(): Promise<LoadTally>;
}

export const LIMITS = { maxRps: 2000, maxDurationMs: 5 * 60_000, defaultDurationMs: 60_000 } as const;

export interface WorkerSettings {
  url: string;
  rps: number;
  durationMs: number;
  requestTimeoutMs: number;
}

export type WorkerMessage = { type: 'ready' } | { type: 'tally'; tally: LoadTally };

const WORKER = join(dirname(fileURLToPath(import.meta.url)), 'loadgen-worker.ts');
const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Resolves once the load is running. */
export async function startLoad(options: LoadOptions): Promise<LoadHandle> {
  const settings: WorkerSettings = {
    url: new URL(options.url).toString(),
    rps: options.rps,
    durationMs: options.durationMs ?? LIMITS.defaultDurationMs,
    requestTimeoutMs: options.requestTimeoutMs ?? 5000,
  };
  if (!(settings.rps > 0 && settings.rps <= LIMITS.maxRps)) throw new Error(`load: rps must be in 1..${LIMITS.maxRps}, got ${settings.rps}`);
  if (!(settings.durationMs > 0 && settings.durationMs <= LIMITS.maxDurationMs)) {
    throw new Error(`load: durationMs must be in 1..${LIMITS.maxDurationMs}, got ${settings.durationMs}`);
  }

  const worker = fork(WORKER, [JSON.stringify(settings)], {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const tally = new Promise<LoadTally>((resolve, reject) => {
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'tally') resolve(message.tally);
    });
    // After a tally this rejection is a no-op: a promise settles once.
    worker.once('exit', (code, signal) => reject(new Error(`load generator exited without a tally (code ${code}, signal ${signal})`)));
  });
  // Rejections are reported through stop(); until then nobody awaits this promise.
  tally.catch(() => {});
  await new Promise<void>((resolve, reject) => {
    const onMessage = (message: WorkerMessage) => {
      if (message.type !== 'ready') return;
      worker.off('message', onMessage);
      resolve();
    };
    worker.on('message', onMessage);
    tally.catch(reject);
  });

  return {
    async stop() {
      if (worker.connected && worker.exitCode === null) worker.send({ type: 'stop' });
      const deadline = settings.requestTimeoutMs + 5000;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          worker.kill('SIGKILL');
          reject(new Error(`load generator did not report within ${deadline}ms of stop`));
        }, deadline);
      });
      try {
        return await Promise.race([tally, timeout]);
      } finally {
        clearTimeout(timer);
        if (worker.connected) worker.disconnect();
      }
    },
  };
}
