import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { appendFile, chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { FileStateStore } from '../../src/journal/file-store.js';
import { StateFileError } from '../../src/journal/file/durable-files.js';
import { JournalFile } from '../../src/journal/file/journal-file.js';
import { stateStoreFor } from '../../src/journal/from-config.js';
import { LockHeldError } from '../../src/journal/lock.js';
import type { RunRecord, Transition } from '../../src/journal/state-store.js';
import { validateConfig } from '../../src/config/load.js';
import { stateStoreBehaviour } from '../support/state-store-suite.js';

const roots: string[] = [];
after(async () => {
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

async function tempRoot(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ship-file-store-'));
  roots.push(dir);
  return join(dir, '.ship');
}

function runRecord(app: string, runId: string): RunRecord {
  return { runId, app, command: 'deploy', version: 'v2', hosts: ['web1'], resume: {}, actor: { osUser: 'alice', hostname: 'laptop' }, startedAt: new Date().toISOString() };
}

function transition(runId: string, host: string, to: Transition['to'], from: Transition['from'] = 'in-service'): Transition {
  return { runId, host, from, to, at: new Date().toISOString() };
}

describe('file store: shared behaviour', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ship-file-store-'));
  roots.push(dir);
  stateStoreBehaviour({
    open: () => new FileStateStore(join(dir, '.ship')),
    // The lock file's modification time is its heartbeat.
    ageHeartbeat: async (app, ageMs) => {
      const then = new Date(Date.now() - ageMs);
      await utimes(join(dir, '.ship', 'locks', `${app}.json`), then, then);
    },
  });
});

describe('file store: what is appended in one turn of the event loop goes to disk in one write', () => {
  const record = (host: string, to: Transition['to']) => ({ type: 'transition' as const, transition: transition('run-group', host, to) });
  const lines = async (file: string) =>
    (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).transition.to as string);
  const journalIn = async (name: string) => {
    const file = join(await tempRoot(), name);
    await mkdir(join(file, '..'), { recursive: true });
    return { file, journal: await JournalFile.create(file, 'run-group') };
  };

  test("a record written behind ('out', not waited for) shares the write of the record after it ('activating'), ahead of it", async () => {
    const { file, journal } = await journalIn('behind.jsonl');
    try {
      const out = journal.append(record('web1', 'out'));
      const activating = journal.append(record('web1', 'activating'));
      await Promise.all([out, activating]);
      assert.equal(journal.writes, 1, 'one O_DSYNC write for both');
      assert.deepEqual(await lines(file), ['out', 'activating']);
    } finally {
      await journal.close();
    }
  });

  test("a batch's instances leaving together are one write, and records that come while it is under way the next", async () => {
    const { file, journal } = await journalIn('batch.jsonl');
    try {
      const first = Promise.all(['web1', 'web2', 'web3', 'web4'].map((host) => journal.append(record(host, 'draining'))));
      // Appended in the next turn, while the first write may still be under way.
      await new Promise((resolve) => setImmediate(resolve));
      const second = Promise.all(['web1', 'web2'].map((host) => journal.append(record(host, 'out'))));
      await Promise.all([first, second]);
      assert.equal(journal.writes, 2);
      assert.deepEqual(await lines(file), ['draining', 'draining', 'draining', 'draining', 'out', 'out']);
    } finally {
      await journal.close();
    }
  });

  test('a record with nothing after it is on disk when its turn ends; close writes one still held', async () => {
    const { file, journal } = await journalIn('alone.jsonl');
    await journal.append(record('web1', 'in-service'));
    assert.deepEqual(await lines(file), ['in-service']);
    void journal.append(record('web2', 'in-service'));
    await journal.close();
    assert.deepEqual(await lines(file), ['in-service', 'in-service']);
    assert.equal(journal.writes, 2);
  });
});

describe('file store: files', () => {
  test('folders are 0700 and files 0600, even where .ship already existed wide open; another user cannot read them', async (t) => {
    const root = await tempRoot();
    await mkdir(root, { mode: 0o755 });
    await chmod(root, 0o755);
    const store = new FileStateStore(root);
    t.after(() => store.close());
    await store.beginRun(runRecord('shop', 'run-1'));
    await store.recordTransition(transition('run-1', 'web1', 'draining'));
    await store.acquireLock(
      {
        runId: 'run-1',
        pid: process.pid,
        app: 'shop',
        command: 'deploy',
        actor: { osUser: 'alice', hostname: 'laptop' },
        acquiredAt: new Date().toISOString(),
        heartbeatAt: new Date().toISOString(),
      },
      { staleAfterMs: 10 },
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    await store.breakLock('shop', { osUser: 'bob', hostname: 'desk' }, 'testing modes');

    for (const dir of [root, join(root, 'runs'), join(root, 'runs', 'shop'), join(root, 'locks')]) {
      assert.equal((await stat(dir)).mode & 0o777, 0o700, dir);
    }
    const files = [join(root, 'runs', 'shop', 'run-1.jsonl'), join(root, 'runs', 'shop', 'latest'), join(root, 'locks', 'shop.breaks.jsonl')];
    await store.acquireLock(
      {
        runId: 'run-2',
        pid: process.pid,
        app: 'shop',
        command: 'deploy',
        actor: { osUser: 'alice', hostname: 'laptop' },
        acquiredAt: new Date().toISOString(),
        heartbeatAt: new Date().toISOString(),
      },
      { staleAfterMs: 30_000 },
    );
    files.push(join(root, 'locks', 'shop.json'));
    for (const file of files) {
      const mode = (await stat(file)).mode & 0o777;
      assert.equal(mode, 0o600, `${file} is ${mode.toString(8)}`);
      assert.equal(mode & 0o077, 0, `${file} readable by group or others`);
    }
    // As root, prove it for real: an unprivileged account is refused.
    if (process.getuid?.() === 0 && (await execa('id', ['-u', 'nobody'], { reject: false })).exitCode === 0) {
      const uid = Number((await execa('id', ['-u', 'nobody'])).stdout);
      const gid = Number((await execa('id', ['-g', 'nobody'])).stdout);
      for (const file of files) {
        const read = await execa('cat', [file], { uid, gid, reject: false });
        assert.notEqual(read.exitCode, 0, `nobody could read ${file}`);
        assert.match(read.stderr, /Permission denied/);
      }
    }
  });

  test('a run is one JSONL file of whole lines; `latest` names the newest run and no temporary file is left', async (t) => {
    const root = await tempRoot();
    const store = new FileStateStore(root);
    t.after(() => store.close());
    await store.beginRun(runRecord('shop', 'run-1'));
    await store.beginRun(runRecord('shop', 'run-2'));
    await Promise.all(['web1', 'web2', 'web3', 'web4'].map((host) => store.recordTransition(transition('run-2', host, 'draining'))));
    await store.finishRun('run-2', { status: 'succeeded', summary: { hosts: [], outOfRotation: [] }, finishedAt: new Date().toISOString() });
    const dir = join(root, 'runs', 'shop');
    assert.deepEqual((await readdir(dir)).sort(), ['latest', 'run-1.jsonl', 'run-2.jsonl']);
    assert.equal(await readFile(join(dir, 'latest'), 'utf8'), 'run-2\n');
    const lines = (await readFile(join(dir, 'run-2.jsonl'), 'utf8')).split('\n');
    assert.equal(lines.pop(), '');
    assert.deepEqual(
      lines.map((line) => (JSON.parse(line) as { type: string }).type),
      ['run', 'transition', 'transition', 'transition', 'transition', 'outcome'],
    );
    assert.deepEqual(await readdir(join(root, 'locks')).catch(() => []), []);
  });

  test('a final line torn by a crash is ignored with a warning; a resumed run cuts it off before appending', async (t) => {
    const root = await tempRoot();
    const store = new FileStateStore(root);
    t.after(() => store.close());
    await store.beginRun(runRecord('shop', 'run-torn'));
    await store.recordTransition(transition('run-torn', 'web1', 'draining'));
    const file = join(root, 'runs', 'shop', 'run-torn.jsonl');
    await appendFile(file, '{"type":"transition","transition":{"runId":"run-torn","host":"web1","fr');

    const reader = new FileStateStore(root);
    const torn = await reader.lastRun('shop');
    assert.deepEqual(
      torn?.transitions.map((t) => t.to),
      ['draining'],
    );
    assert.equal(torn?.warnings?.length, 1);
    assert.match(torn!.warnings![0]!, /run-torn\.jsonl: line 3 was cut short by an interrupted write/);

    // A new process resumes the run: its first append must not land after the fragment.
    const resumed = new FileStateStore(root);
    t.after(() => resumed.close());
    await resumed.recordTransition(transition('run-torn', 'web1', 'out', 'draining'));
    const after = await new FileStateStore(root).lastRun('shop');
    assert.deepEqual(
      after?.transitions.map((t) => t.to),
      ['draining', 'out'],
    );
    assert.match(after?.warnings?.join('\n') ?? '', /dropped \d+ bytes of a record cut short/);
    for (const line of (await readFile(file, 'utf8')).trimEnd().split('\n')) JSON.parse(line);
  });

  test('a whole record that only lost its newline is kept, with a warning, and the next append goes on a new line', async (t) => {
    const root = await tempRoot();
    const store = new FileStateStore(root);
    await store.beginRun(runRecord('shop', 'run-nl'));
    await store.close();
    const file = join(root, 'runs', 'shop', 'run-nl.jsonl');
    await appendFile(file, JSON.stringify({ type: 'transition', transition: transition('run-nl', 'web1', 'draining') }));
    const entry = await new FileStateStore(root).lastRun('shop');
    assert.deepEqual(
      entry?.transitions.map((t) => t.to),
      ['draining'],
    );
    assert.match(entry?.warnings?.[0] ?? '', /line 2 lacks its end of line/);
    const resumed = new FileStateStore(root);
    t.after(() => resumed.close());
    await resumed.recordTransition(transition('run-nl', 'web1', 'out', 'draining'));
    const after = await new FileStateStore(root).lastRun('shop');
    assert.deepEqual(
      after?.transitions.map((t) => t.to),
      ['draining', 'out'],
    );
    assert.equal(after?.warnings, undefined);
  });

  test('garbage in a journal is a clear error naming the file and the line', async () => {
    const root = await tempRoot();
    const store = new FileStateStore(root);
    await store.beginRun(runRecord('shop', 'run-bad'));
    await store.recordTransition(transition('run-bad', 'web1', 'draining'));
    await store.close();
    const file = join(root, 'runs', 'shop', 'run-bad.jsonl');
    const lines = (await readFile(file, 'utf8')).split('\n');
    await writeFile(file, [lines[0], 'not json at all', lines[1], ''].join('\n'));
    await assert.rejects(new FileStateStore(root).lastRun('shop'), (error: unknown) => {
      assert.ok(error instanceof StateFileError);
      assert.ok(error.message.startsWith(`${file}: line 2 is not JSON`), error.message);
      assert.match(error.message, /move the file aside/);
      return true;
    });
    await writeFile(file, '\u0000\u0001binary garbage\n');
    await assert.rejects(new FileStateStore(root).run('run-bad'), new RegExp(`${file.replace(/[.]/g, '\\.')}: line 1 is not JSON`));
    await writeFile(file, '{"type":"transition","transition":{"runId":"x","host":"web1","from":"out","to":"in-service","at":"now"}}\n');
    await assert.rejects(new FileStateStore(root).run('run-bad'), /line 1 is not a run header/);
    await writeFile(file, '');
    await assert.rejects(new FileStateStore(root).run('run-bad'), /line 1 is not a run header \(the file is empty/);
  });

  test('`latest` naming a journal that was removed falls back to the newest journal present', async () => {
    const root = await tempRoot();
    const store = new FileStateStore(root);
    await store.beginRun({ ...runRecord('shop', 'run-old'), startedAt: '2024-01-01T00:00:00.000Z' });
    await store.beginRun({ ...runRecord('shop', 'run-mid'), startedAt: '2024-02-01T00:00:00.000Z' });
    await store.beginRun({ ...runRecord('shop', 'run-new'), startedAt: '2024-03-01T00:00:00.000Z' });
    await store.close();
    await rm(join(root, 'runs', 'shop', 'run-new.jsonl'));
    assert.equal((await new FileStateStore(root).lastRun('shop'))?.run.runId, 'run-mid');
  });

  test('app names and run ids that could leave the folder are refused', async () => {
    const store = new FileStateStore(await tempRoot());
    await assert.rejects(store.beginRun(runRecord('../etc', 'run-1')), /app "\.\.\/etc" is not usable as a file name/);
    await assert.rejects(store.beginRun(runRecord('shop', '../../x')), /run id .* is not usable/);
    await assert.rejects(store.currentLock('a/b'), /not usable/);
  });

  test('a damaged lock file still locks, names its path, and can be broken once it is old', async (t) => {
    const root = await tempRoot();
    const store = new FileStateStore(root);
    t.after(() => store.close());
    await store.currentLock('shop'); // nothing yet
    await mkdir(join(root, 'locks'), { recursive: true });
    const lockFile = join(root, 'locks', 'shop.json');
    await writeFile(lockFile, '{"runId": "half', { mode: 0o600 });
    const refusal = await store
      .acquireLock(
        {
          runId: 'run-1',
          pid: process.pid,
          app: 'shop',
          command: 'deploy',
          actor: { osUser: 'alice', hostname: 'laptop' },
          acquiredAt: new Date().toISOString(),
          heartbeatAt: new Date().toISOString(),
        },
        { staleAfterMs: 30_000 },
      )
      .then(
        () => assert.fail('a damaged lock was ignored'),
        (error: unknown) => error,
      );
    assert.ok(refusal instanceof LockHeldError);
    assert.equal(refusal.stale, false);
    assert.ok(refusal.message.includes(lockFile), refusal.message);
    const old = new Date(Date.now() - 60_000);
    await utimes(lockFile, old, old);
    assert.equal((await store.currentLock('shop'))?.stale, true);
    assert.equal((await store.breakLock('shop', { osUser: 'bob', hostname: 'desk' }, 'damaged lock file'))?.runId, '(unreadable)');
    assert.equal(await store.currentLock('shop'), undefined);
  });

  test('separate processes racing for the lock: exactly one wins, every round', async (t) => {
    const root = await tempRoot();
    const gate = await mkdtemp(join(tmpdir(), 'ship-lock-race-'));
    roots.push(gate);
    const storeModule = fileURLToPath(new URL('../../src/journal/file-store.ts', import.meta.url));
    const rounds = 5;
    // Each child says it is ready, spins until the round's gate file appears, then grabs the lock:
    // the acquires of all children start within microseconds of each other.
    const script = `
      const { existsSync } = await import('node:fs');
      const { FileStateStore } = await import(${JSON.stringify(storeModule)});
      const store = new FileStateStore(${JSON.stringify(root)});
      for (let round = 0; round < ${rounds}; round++) {
        const app = 'race' + round;
        await store.currentLock(app);
        console.log('ready ' + round);
        while (!existsSync(${JSON.stringify(gate)} + '/go' + round)) {}
        const now = new Date().toISOString();
        try {
          await store.acquireLock({ runId: 'run-' + process.pid, pid: process.pid, app, command: 'deploy', actor: { osUser: 'racer', hostname: 'here' }, acquiredAt: now, heartbeatAt: now }, { staleAfterMs: 30000 });
          console.log('round ' + round + ' won run-' + process.pid);
        } catch (error) {
          console.log('round ' + round + ' ' + (error.name === 'LockHeldError' ? 'refused by ' + error.holder.runId : 'error ' + error.message));
        }
      }`;
    const children = Array.from({ length: 4 }, () =>
      execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { reject: false, timeout: 60_000, buffer: true }),
    );
    t.after(() => {
      for (const child of children) child.kill();
    });
    const lines = children.map(() => [] as string[]);
    children.forEach((child, i) => {
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => lines[i]!.push(...chunk.split('\n').filter(Boolean)));
    });
    const waitFor = async (predicate: () => boolean) => {
      const deadline = Date.now() + 30_000;
      while (!predicate()) {
        if (Date.now() > deadline) assert.fail(`children stuck: ${JSON.stringify(lines)}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    for (let round = 0; round < rounds; round++) {
      await waitFor(() => lines.every((out) => out.includes(`ready ${round}`)));
      await writeFile(join(gate, `go${round}`), '');
      await waitFor(() => lines.every((out) => out.some((line) => line.startsWith(`round ${round} `))));
      const results = lines.map((out) => out.find((line) => line.startsWith(`round ${round} `))!.slice(`round ${round} `.length));
      const winners = results.filter((result) => result.startsWith('won '));
      assert.equal(winners.length, 1, results.join('\n'));
      const winner = winners[0]!.slice('won '.length);
      for (const result of results.filter((r) => !r.startsWith('won '))) assert.equal(result, `refused by ${winner}`);
      assert.equal((await new FileStateStore(root).currentLock(`race${round}`))?.runId, winner);
    }
    await Promise.all(children);
  });

  test('a transition costs one append: 2,000 of them, sequential and concurrent, stay well within the CPU budget', async (t) => {
    const root = await tempRoot();
    const store = new FileStateStore(root);
    t.after(() => store.close());
    await store.beginRun(runRecord('shop', 'run-load'));
    const count = 1000;
    const cpuBefore = process.cpuUsage();
    for (let i = 0; i < count; i++) await store.recordTransition(transition('run-load', `web${i}`, 'draining'));
    await Promise.all(Array.from({ length: count }, (_, i) => store.recordTransition(transition('run-load', `web${i}`, 'out', 'draining'))));
    const cpu = process.cpuUsage(cpuBefore);
    const cpuPerTransitionMs = (cpu.user + cpu.system) / 1000 / (2 * count);
    t.diagnostic(`CPU per transition: ${cpuPerTransitionMs.toFixed(3)} ms`);
    // About 0.1 ms here, most of it the kernel's flush; rewriting a whole file per transition would be
    // many times that by the thousandth record. The bound leaves room for a loaded machine.
    assert.ok(cpuPerTransitionMs < 0.5, `CPU per transition ${cpuPerTransitionMs} ms`);
    const entry = await store.run('run-load');
    assert.equal(entry?.transitions.length, 2 * count);
    assert.deepEqual(
      entry?.transitions.slice(0, 3).map((t) => t.host),
      ['web0', 'web1', 'web2'],
    );
  });

  test('stateStoreFor puts .ship next to the config, or uses state.path relative to it', async () => {
    const base = { app: 'shop', hosts: [{ name: 'web1', address: '127.0.0.1' }], loadBalancer: { type: 'none' }, health: { tcp: { port: 80 } } };
    const byDefault = await stateStoreFor({ ...validateConfig(base, 'x.ts'), file: '/srv/deploy/orchestrator.config.ts', dir: '/srv/deploy' });
    assert.ok(byDefault instanceof FileStateStore);
    assert.equal(byDefault.root, '/srv/deploy/.ship');
    const custom = await stateStoreFor({ ...validateConfig({ ...base, state: { store: 'file', path: 'state/ship' } }, 'x.ts'), file: '/srv/deploy/c.ts', dir: '/srv/deploy' });
    assert.equal((custom as FileStateStore).root, '/srv/deploy/state/ship');
    const postgres = await stateStoreFor({
      ...validateConfig({ ...base, state: { store: 'postgres', url: 'postgres://ship:hunter22@db:5432/ship' } }, 'x.ts'),
      file: '/srv/c.ts',
      dir: '/srv',
    });
    assert.equal(postgres.kind, 'postgres');
    await postgres.close();
  });
});

describe('file store: links and places it refuses', () => {
  function lockHolder(runId: string) {
    const now = new Date().toISOString();
    return { runId, pid: process.pid, app: 'shop', command: 'deploy', actor: { osUser: 'alice', hostname: 'laptop' }, acquiredAt: now, heartbeatAt: now };
  }

  /** Rejects with a StateFileError naming `path` as a symbolic link. */
  async function refusesLink(promise: Promise<unknown>, path: string): Promise<void> {
    const error = await promise.then(
      () => assert.fail(`went through the link ${path}`),
      (e: unknown) => e,
    );
    assert.ok(error instanceof StateFileError, String(error));
    assert.equal(error.file, path);
    assert.match(error.message, /is a symbolic link, and ship follows none in its state folder: .*replace the link with the real folder or file/);
  }

  test('a state folder that is a symbolic link is refused, naming it, and the folder it points at is left as it was', async (t) => {
    const root = await tempRoot();
    const target = join(root, '..', 'shared-0755');
    await mkdir(target, { mode: 0o755 });
    await chmod(target, 0o755);
    await symlink(target, root);
    const store = new FileStateStore(root);
    t.after(() => store.close());
    await refusesLink(store.acquireLock(lockHolder('run-1'), { staleAfterMs: 30_000 }), root);
    await refusesLink(store.beginRun(runRecord('shop', 'run-1')), root);
    await refusesLink(store.currentLock('shop'), root);
    await refusesLink(store.lastRun('shop'), root);
    assert.equal((await stat(target)).mode & 0o777, 0o755, 'ship chmod-ed the folder the link points at');
    assert.deepEqual(await readdir(target), []);
  });

  test('links inside the state folder are refused: a folder, the lock, the log of broken locks, a journal, `latest`', async (t) => {
    const root = await tempRoot();
    const store = new FileStateStore(root);
    t.after(() => store.close());
    const elsewhere = join(root, '..', 'elsewhere');
    await mkdir(elsewhere);
    const victim = join(elsewhere, 'victim.txt');
    await writeFile(victim, 'precious\n');

    // The log of broken locks pointing at another file: `ship unlock --force` would append to it.
    await store.acquireLock(lockHolder('run-dead'), { staleAfterMs: 10 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    const breaks = join(root, 'locks', 'shop.breaks.jsonl');
    await symlink(victim, breaks);
    await refusesLink(store.breakLock('shop', { osUser: 'bob', hostname: 'desk' }, 'stale'), breaks);
    assert.equal(await readFile(victim, 'utf8'), 'precious\n');
    assert.equal((await store.currentLock('shop'))?.runId, 'run-dead', 'a lock is not broken unless its break is recorded');
    await rm(breaks);
    await store.breakLock('shop', { osUser: 'bob', hostname: 'desk' }, 'stale');

    // The lock itself.
    const lock = join(root, 'locks', 'shop.json');
    await symlink(victim, lock);
    await refusesLink(store.currentLock('shop'), lock);
    await refusesLink(store.acquireLock(lockHolder('run-2'), { staleAfterMs: 30_000 }), lock);
    await rm(lock);

    // A folder under the root.
    await symlink(elsewhere, join(root, 'runs'));
    const other = new FileStateStore(root);
    t.after(() => other.close());
    await refusesLink(other.beginRun(runRecord('shop', 'run-3')), join(root, 'runs'));
    await refusesLink(other.lastRun('shop'), join(root, 'runs'));
    await rm(join(root, 'runs'));

    // `latest` and a journal.
    const third = new FileStateStore(root);
    t.after(() => third.close());
    await third.beginRun(runRecord('shop', 'run-4'));
    const latest = join(root, 'runs', 'shop', 'latest');
    await rm(latest);
    await symlink(victim, latest);
    await refusesLink(third.lastRun('shop'), latest);
    await rm(latest);
    const journal = join(root, 'runs', 'shop', 'run-5.jsonl');
    await symlink(victim, journal);
    await refusesLink(new FileStateStore(root).run('run-5'), journal);
    assert.deepEqual(await readdir(elsewhere), ['victim.txt']);
    assert.equal(await readFile(victim, 'utf8'), 'precious\n');
  });

  test('a FIFO in place of the lock is refused at once, not waited on', { timeout: 10_000 }, async (t) => {
    const root = await tempRoot();
    const store = new FileStateStore(root);
    t.after(() => store.close());
    await store.acquireLock(lockHolder('run-1'), { staleAfterMs: 30_000 });
    await store.releaseLock('shop', 'run-1');
    const lock = join(root, 'locks', 'shop.json');
    await execa('mkfifo', [lock]);
    await assert.rejects(store.currentLock('shop'), (error: unknown) => error instanceof StateFileError && error.file === lock && /is not a regular file/.test(error.message));
  });

  test('state.path on a pseudo-filesystem (/sys, /dev) is refused, naming it and the field, before anything is created', async (t) => {
    const name = `ship-state-test-${process.pid}-${Date.now()}`;
    t.after(() => rm(join('/dev', name), { recursive: true, force: true }));
    // In a container /dev is often an ordinary tmpfs, which is storage (if short-lived) and allowed.
    const devIsDevtmpfs = / \/dev rw,.* - devtmpfs /.test(await readFile('/proc/self/mountinfo', 'utf8'));
    const cases: Array<[string, string]> = [
      [join('/sys', name), 'sysfs'],
      ['/proc/self/ship', 'proc'],
    ];
    if (devIsDevtmpfs) cases.push([join('/dev', name), 'devtmpfs']);
    for (const [root, type] of cases) {
      const store = new FileStateStore(root);
      await assert.rejects(store.currentLock('shop'), (error: unknown) => {
        assert.ok(error instanceof StateFileError, String(error));
        assert.equal(error.file, root);
        assert.match(error.message, new RegExp(`state\\.path is on a pseudo-filesystem \\(${type} mounted at /\\w+\\).*set state\\.path to a folder on a disk`));
        return true;
      });
      await assert.rejects(store.lastRun('shop'), StateFileError);
      await store.close();
    }
    if (!devIsDevtmpfs) return;
    await assert.rejects(stat(join('/dev', name)), { code: 'ENOENT' });
    // Writing is refused too, before anything is created (as root, /dev would take it).
    const dev = new FileStateStore(join('/dev', name));
    await assert.rejects(dev.acquireLock(lockHolder('run-1'), { staleAfterMs: 30_000 }), /pseudo-filesystem \(devtmpfs/);
    await assert.rejects(stat(join('/dev', name)), { code: 'ENOENT' });
  });
});
