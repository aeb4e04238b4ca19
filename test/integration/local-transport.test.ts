import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sh } from '../../src/shell/sh.js';
import { LocalTransport } from '../../src/transport/local.js';
import { TransportError } from '../../src/transport/transport.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ship-local-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Alive means present and not a zombie (pid 1 here does not reap orphans). */
async function alive(pid: number): Promise<boolean> {
  const status = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return status !== undefined && status.slice(status.lastIndexOf(')') + 2)[0] !== 'Z';
}

async function pidsFrom(path: string, count: number): Promise<number[]> {
  for (let i = 0; i < 100; i++) {
    const pids = (await readFile(path, 'utf8').catch(() => '')).split('\n').filter(Boolean).map(Number);
    if (pids.length >= count) return pids;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`no ${count} pids in ${path}`);
}

async function rejection(promise: Promise<unknown>): Promise<TransportError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof TransportError, `expected a TransportError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the promise to reject');
}

test('exec: exit code, separate streams, streamed chunks', async () => {
  const local = new LocalTransport({ host: 'laptop' });
  const chunks: string[] = [];
  const result = await local.exec(sh`echo out; echo err >&2; exit 3`, { onStdout: (c) => chunks.push(c) });
  assert.deepEqual({ code: result.code, stdout: result.stdout, stderr: result.stderr }, { code: 3, stdout: 'out\n', stderr: 'err\n' });
  assert.equal(chunks.join(''), 'out\n');
  const quoted = `a 'b' "c" $(nope) ; \n`;
  assert.equal((await local.exec(sh`printf %s ${quoted}`)).stdout, quoted);
});

test('stdin reaches the command, and is closed after it', async () => {
  const local = new LocalTransport({ host: 'laptop' });
  const value = `secret 'x' $(nope)\nline two`;
  assert.equal((await local.exec(sh`cat`, { stdin: value })).stdout, value);
  assert.equal((await local.exec(sh`wc -c`, { stdin: '' })).stdout.trim(), '0');
});

test('stored output keeps the tail of a very long output; callbacks still see all of it', async () => {
  let streamed = 0;
  const result = await new LocalTransport().exec(sh`head -c 6000000 /dev/zero | tr '\\0' a; echo END`, { onStdout: (c) => (streamed += c.length) });
  assert.equal(streamed, 6_000_004);
  assert.ok(result.stdout.length < 4_300_000, `kept ${result.stdout.length} characters`);
  assert.match(result.stdout, /^\[ship: first \d+ characters of output dropped\]\n/);
  assert.ok(result.stdout.endsWith('aaaaEND\n'));
});

test('a timed-out command and its children are killed', async () => {
  const local = new LocalTransport();
  const pidFile = join(dir, 'timeout.pids');
  const running = local.exec(sh`sleep 30 & echo $! >> ${pidFile}; echo $$ >> ${pidFile}; sleep 30`, { timeoutMs: 500 });
  const pids = await pidsFrom(pidFile, 2);
  for (const pid of pids) assert.ok(await alive(pid), `pid ${pid} runs before the deadline`);
  const error = await rejection(running);
  assert.equal(error.kind, 'timeout');
  assert.match(error.message, /^localhost: command timed out after 500ms; killed process group \d+$/);
  for (const pid of pids) assert.ok(!(await alive(pid)), `pid ${pid} was killed`);
});

test('abort kills the command', async () => {
  const local = new LocalTransport();
  const pidFile = join(dir, 'abort.pids');
  const controller = new AbortController();
  const running = local.exec(sh`echo $$ > ${pidFile}; exec sleep 30`, { signal: controller.signal });
  const [pid] = await pidsFrom(pidFile, 1);
  controller.abort();
  assert.equal((await rejection(running)).kind, 'exec');
  assert.ok(!(await alive(pid!)));
});

test('sudo runs through sudo -n', async () => {
  const result = await new LocalTransport().exec(sh`echo "$SUDO_COMMAND"`, { sudo: true });
  assert.equal(result.code, 0, result.stderr);
  // sudo's shell gets pipefail too (see withPipefail), then runs the command.
  assert.match(result.stdout, /\/sh -c if \(set -o pipefail\)[\s\S]*\necho "\$SUDO_COMMAND"/);
});

test('a pipeline whose earlier command fails fails the command (pipefail), even where sh has none', async () => {
  const local = new LocalTransport();
  assert.equal((await local.exec(sh`false | true`)).code, 1);
  assert.equal((await local.exec(sh`true | true`)).code, 0);
  const tail = await local.exec(sh`printf 'a\nb\n' | tail -n +nope | cat`);
  assert.notEqual(tail.code, 0, 'tail refusing its option used to be hidden by the last command');
  assert.equal((await local.exec(sh`false | true || echo ignored on purpose`)).code, 0);
});

test('upload copies through a temp name, verifies, applies the mode, leaves no temp file', async () => {
  const local = new LocalTransport();
  const source = join(dir, 'source.bin');
  const content = randomBytes(1024 * 1024 + 3);
  await writeFile(source, content);
  const target = join(dir, 'target.bin');
  const result = await local.upload(source, target, { mode: 0o640 });
  assert.deepEqual(result, { bytes: content.length, sha256: createHash('sha256').update(content).digest('hex') });
  assert.ok((await readFile(target)).equals(content));
  assert.equal((await stat(target)).mode & 0o777, 0o640);
  assert.deepEqual(
    (await readdir(dir)).filter((f) => f.includes('ship-upload')),
    [],
  );
});

test('upload into a missing directory fails as an upload error naming the target', async () => {
  const source = join(dir, 'small.bin');
  await writeFile(source, 'x');
  const error = await rejection(new LocalTransport().upload(source, join(dir, 'missing', 'x.bin')));
  assert.equal(error.kind, 'upload');
  assert.ok(error.message.includes(join(dir, 'missing', 'x.bin')));
});

test('after close, exec fails with a closed error', async () => {
  const local = new LocalTransport();
  await local.close();
  assert.equal((await rejection(local.exec(sh`true`))).kind, 'closed');
});
