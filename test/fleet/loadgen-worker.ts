/**
 * The load generator's child process (see loadgen.ts). Settings come as JSON in argv[2]; it
 * reports 'ready', sends at a steady rate until told to stop (or its duration ends), waits for
 * the requests in flight and sends the tally over IPC, then exits.
 */
import { Agent, request } from 'node:http';
import type { FailureSample, LoadTally, WorkerMessage, WorkerSettings } from './loadgen.js';

const MAX_IN_FLIGHT = 500;
const MAX_SAMPLES = 20;
const TICK_MS = 5;

const settings = JSON.parse(process.argv[2] ?? '{}') as WorkerSettings;
const url = new URL(settings.url);
const keepAliveAgent = new Agent({ keepAlive: true, maxSockets: 64 });
const started = Date.now();
const tally: LoadTally = {
  durationMs: 0,
  sent: 0,
  ok: 0,
  failed: 0,
  byStatus: {},
  errors: {},
  versions: {},
  keepAlive: { sent: 0, ok: 0, failed: 0 },
  fresh: { sent: 0, ok: 0, failed: 0 },
  skipped: 0,
  firstFailures: [],
};
let inFlight = 0;
let due = 0;
let stopping = false;
let drained: (() => void) | undefined;

function send(message: WorkerMessage, then: () => void = () => {}): void {
  process.send?.(message, undefined, undefined, () => then());
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

function fire(connection: 'keep-alive' | 'fresh'): void {
  const perConnection = connection === 'keep-alive' ? tally.keepAlive : tally.fresh;
  tally.sent += 1;
  perConnection.sent += 1;
  inFlight += 1;
  let finished = false;
  const finish = (outcome: { version: string } | { failure: string }) => {
    if (finished) return;
    finished = true;
    inFlight -= 1;
    if ('version' in outcome) {
      tally.ok += 1;
      perConnection.ok += 1;
      bump(tally.versions, outcome.version);
    } else {
      tally.failed += 1;
      perConnection.failed += 1;
      if (tally.firstFailures.length < MAX_SAMPLES) {
        const sample: FailureSample = { atMs: Date.now() - started, connection, what: outcome.failure };
        tally.firstFailures.push(sample);
      }
    }
    if (stopping && inFlight === 0) drained?.();
  };
  const fail = (error: NodeJS.ErrnoException) => {
    const code = error.code ?? error.message;
    bump(tally.errors, code);
    finish({ failure: code });
  };
  // agent: false is a new connection per request, closed after the answer.
  const req = request(url, { agent: connection === 'keep-alive' ? keepAliveAgent : false, timeout: settings.requestTimeoutMs }, (response) => {
    const status = response.statusCode ?? 0;
    bump(tally.byStatus, String(status));
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.on('error', fail);
    response.on('aborted', () => fail(Object.assign(new Error('response aborted'), { code: 'ABORTED' })));
    response.on('end', () => {
      if (status < 200 || status > 299) return finish({ failure: `status ${status}` });
      let version = 'unknown';
      try {
        version = String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { version?: unknown }).version ?? 'unknown');
      } catch {
        // A 2xx that is not the app's JSON still counts as served; its version is 'unknown'.
      }
      finish({ version });
    });
  });
  req.on('timeout', () => req.destroy(Object.assign(new Error('no answer in time'), { code: 'timeout' })));
  req.on('error', fail);
  req.end();
}

function tick(): void {
  const elapsed = Date.now() - started;
  if (elapsed >= settings.durationMs) return void stop();
  const target = Math.floor((elapsed * settings.rps) / 1000);
  while (due < target) {
    due += 1;
    if (inFlight >= MAX_IN_FLIGHT) {
      tally.skipped += 1;
      continue;
    }
    fire(due % 2 === 0 ? 'keep-alive' : 'fresh');
  }
}

const timer = setInterval(tick, TICK_MS);

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  tally.durationMs = Date.now() - started;
  // Parent gone: nobody will read a tally, and the load must not outlive the test.
  if (!process.connected) process.exit(0);
  if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
  keepAliveAgent.destroy();
  send({ type: 'tally', tally }, () => process.exit(0));
}

process.on('message', (message: { type?: string }) => {
  if (message.type === 'stop') void stop();
});
process.on('disconnect', () => {
  if (!stopping) process.exit(0);
});
send({ type: 'ready' });
