/**
 * `quiet`: the config field (defaults, the signal name normalised, each refusal naming its field)
 * and the playbook transform, whose steps are compared as the shell text they build for each
 * delivery (container, pidFile, command; with and without idleCommand).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../src/config/load.js';
import { quietSchema, type QuietConfig } from '../../src/config/quiet.js';
import { definePlaybook, run, type ContainerSpec, type RunStep } from '../../src/playbook/define.js';
import { quietSteps, signalCommand, waitCommand, withQuiet } from '../../src/playbook/quiet.js';
import { sh } from '../../src/shell/sh.js';
import { configProblems, minimalConfig } from '../support/config-problems.js';
import { WORKER_CONTAINER } from '../support/container-spec.js';

const container: ContainerSpec = WORKER_CONTAINER;
const quiet = (input: Record<string, unknown>): QuietConfig => quietSchema.parse(input);
const containerConfig = { image: 'registry.example.com/acme/shop', name: 'shop-worker' };

// ---- the config field

test('defaults: TSTP and 30s; the signal name is normalised (SIG prefix, any case)', () => {
  const loaded = validateConfig({ ...minimalConfig, quiet: { pidFile: '/srv/shop/worker.pid' } }, 'f').config;
  assert.deepEqual(loaded.quiet, { signal: 'TSTP', wait: 30_000, pidFile: '/srv/shop/worker.pid' });
  for (const [given, normal] of [
    ['TSTP', 'TSTP'],
    ['SIGTSTP', 'TSTP'],
    ['usr1', 'USR1'],
    ['SigQuit', 'QUIT'],
    [' TERM ', 'TERM'],
  ]) {
    assert.equal(quiet({ signal: given, command: 'x' }).signal, normal, given);
  }
  assert.equal(quiet({ wait: '60s', command: 'x' }).wait, 60_000);
});

test('refused: quiet without container and without pidFile or command, naming quiet', () => {
  assert.deepEqual(configProblems({ ...minimalConfig, quiet: { signal: 'TSTP', wait: '60s' } }), [
    "quiet: nothing to send TSTP to: without container, set quiet.pidFile (the worker's pid file on the host) or quiet.command (run instead of sending the signal)",
  ]);
  assert.doesNotThrow(() => validateConfig({ ...minimalConfig, container: containerConfig, quiet: { signal: 'TSTP' } }, 'f'));
  assert.doesNotThrow(() => validateConfig({ ...minimalConfig, quiet: { command: 'sv 2 worker' } }, 'f'));
});

test('refused: pidFile together with command, naming quiet.command', () => {
  assert.deepEqual(configProblems({ ...minimalConfig, quiet: { pidFile: '/srv/shop/worker.pid', command: 'sv 2 worker' } }), [
    'quiet.command: command replaces sending the signal to the process in pidFile: set one of quiet.pidFile and quiet.command, not both',
  ]);
});

test('refused: a signal that is not a signal name, naming quiet.signal', () => {
  for (const signal of ['TSPT', '20', 'SIG', '']) {
    const [problem, ...more] = configProblems({ ...minimalConfig, quiet: { signal, command: 'x' } });
    assert.match(problem!, /^quiet\.signal: ".*" is not a signal name: use one like 'TSTP', 'SIGTSTP', 'USR1', 'QUIT' or 'TERM'$/, signal);
    assert.deepEqual(more, []);
  }
});

test('refused: KILL and STOP, which the app cannot catch, naming quiet.signal', () => {
  for (const signal of ['KILL', 'SIGSTOP']) {
    const [problem] = configProblems({ ...minimalConfig, quiet: { signal, command: 'x' } });
    assert.match(problem!, /^quiet\.signal: ".*" cannot be caught by the app, so it could not finish its jobs/, signal);
  }
});

test("refused: pidFile with container (a pid inside the container is not the host's), naming quiet.pidFile", () => {
  const [problem] = configProblems({ ...minimalConfig, container: containerConfig, quiet: { pidFile: '/srv/shop/worker.pid' } });
  assert.match(problem!, /^quiet\.pidFile: with container, the signal goes to the container/);
});

// ---- the transform

test('withQuiet puts the two quiet steps first in activate and rollback and leaves the rest of the playbook alone', () => {
  const restart = run(sh`systemctl restart shop-worker`, { name: 'restart' });
  const reload = run(sh`kill -USR2 1`, { name: 'reload' });
  const playbook = definePlaybook({ name: 'p', stage: [run(sh`true`, { name: 'stage' })], activate: [restart], rollback: [restart], gracefulReload: [reload] });
  const quieted = withQuiet(playbook, quiet({ idleCommand: 'bin/idle', wait: '45s' }), container);
  assert.deepEqual(
    quieted.activate.map((s) => s.name),
    ['quiet: send TSTP to container shop-worker', 'quiet: wait until idle (up to 45s)', 'restart'],
  );
  assert.deepEqual(quieted.gracefulReload, [reload], 'a graceful reload keeps serving: nothing to quiet');
  assert.equal(quieted.stage, playbook.stage);
  assert.deepEqual(
    quieted.rollback.map((s) => s.name),
    ['quiet: send TSTP to container shop-worker', 'quiet: wait until idle (up to 45s)', 'restart'],
    'a failed verify restarts the new worker: it is quieted first too',
  );
  assert.deepEqual(withQuiet(definePlaybook({ name: 'q', activate: [restart] }), quiet({ wait: '5s' }), container).rollback, [], 'no rollback phase, none added');
  assert.deepEqual(playbook.activate, [restart], 'the playbook given is not changed');
});

test('step names say where the signal goes; the wait step may run longer than wait, the signal step keeps the default', () => {
  const names = (q: QuietConfig, c?: ContainerSpec) => quietSteps(q, c).map((s) => [s.name, s.timeoutMs]);
  assert.deepEqual(names(quiet({}), container), [
    ['quiet: send TSTP to container shop-worker', undefined],
    ['quiet: wait 30s', 60_000],
  ]);
  assert.deepEqual(names(quiet({ pidFile: '~/shop/tmp/pids/sidekiq.pid', signal: 'USR1', wait: '2m', idleCommand: 'x' })), [
    ['quiet: send USR1 to the pid in ~/shop/tmp/pids/sidekiq.pid', undefined],
    ['quiet: wait until idle (up to 120s)', 150_000],
  ]);
  assert.deepEqual(names(quiet({ command: 'sv 2 worker', wait: 1500 })), [
    ['quiet: run quiet.command', undefined],
    ['quiet: wait 2s', 32_000],
  ]);
  assert.throws(() => quietSteps(quiet({})), /quiet: set pidFile or command, or run a container/);
});

test('container delivery: the engine kills with the signal, only a running container', () => {
  assert.equal(
    signalCommand(quiet({}), container).text,
    `E=podman;
if ! [ "$("$E" container inspect --format '{{.State.Running}}' shop-worker 2>/dev/null)" = true ]; then echo 'ship: quiet: container shop-worker is not running: nothing to quiet'; exit 0; fi
"$E" kill --signal TSTP shop-worker >/dev/null || exit 1
echo 'ship: quiet: sent TSTP to container shop-worker'`,
  );
  // Without an engine in the config, the host's is found as for every container step.
  assert.match(
    signalCommand(quiet({}), { ...container, engine: undefined } as unknown as ContainerSpec).text,
    /^if command -v docker >\/dev\/null 2>&1; then E=docker; elif command -v podman/,
  );
});

test('container delivery with idleCommand: polled, quoted, every second until idle, a stopped container or the deadline', () => {
  assert.equal(
    waitCommand(quiet({ wait: '60s', idleCommand: "bin/jobs idle --queue 'default'" }), container).text,
    `E=podman;
gone() { ! [ "$("$E" container inspect --format '{{.State.Running}}' shop-worker 2>/dev/null)" = true ]; }
start=$(date +%s); end=$((start + 60))
while :; do
  if gone; then echo 'ship: quiet: container shop-worker is not running: nothing to wait for'; exit 0; fi
  if out=$(sh -c 'bin/jobs idle --queue '\\''default'\\''' 2>&1); then echo 'ship: quiet: idle after' "$(( $(date +%s) - start ))s"; exit 0; else s=$?; fi
  if [ "$s" -eq 126 ] || [ "$s" -eq 127 ]; then echo 'ship: quiet: idleCommand could not run (exit' "$s):" >&2; printf '%s\\n' "$out" | tail -n 5 >&2; exit 1; fi
  [ "$(date +%s)" -lt "$end" ] || break
  sleep 1
done
echo 'ship: quiet: not idle after 60s; restarting anyway (the app'\\''s own shutdown handles the jobs still running)' >&2
[ -z "$out" ] || { echo 'ship: quiet: idleCommand last said:' >&2; printf '%s\\n' "$out" | tail -n 5 >&2; }`,
  );
});

test('container delivery without idleCommand: the whole wait, unless the container stops', () => {
  assert.equal(
    waitCommand(quiet({ wait: '20s' }), container).text,
    `E=podman;
gone() { ! [ "$("$E" container inspect --format '{{.State.Running}}' shop-worker 2>/dev/null)" = true ]; }
start=$(date +%s); end=$((start + 20))
while :; do
  if gone; then echo 'ship: quiet: container shop-worker is not running: nothing to wait for'; exit 0; fi
  [ "$(date +%s)" -lt "$end" ] || break
  sleep 1
done
echo 'ship: quiet: waited 20s'`,
  );
});

test('pidFile delivery: kill -s to the pid in the file; no file or no process is nothing to quiet, a file without a pid fails', () => {
  assert.equal(
    signalCommand(quiet({ pidFile: '~/shop/tmp/pids/sidekiq.pid', signal: 'SIGUSR1' })).text,
    `alive() { [ -d "/proc/$1" ] || kill -0 "$1" 2>/dev/null; }; f="$HOME"/shop/tmp/pids/sidekiq.pid
if [ ! -f "$f" ]; then echo 'ship: quiet: no pid file ~/shop/tmp/pids/sidekiq.pid: the worker is not running, nothing to quiet'; exit 0; fi
pid=$(tr -d ' \\t\\r\\n' < "$f")
case "$pid" in ''|*[!0-9]*) echo 'ship: quiet: ~/shop/tmp/pids/sidekiq.pid holds no pid (found:' "$pid)" >&2; exit 1;; esac
if ! alive "$pid"; then echo 'ship: quiet: process' "$pid" 'from ~/shop/tmp/pids/sidekiq.pid is not running: nothing to quiet'; exit 0; fi
kill -s USR1 "$pid" || { echo 'ship: quiet: could not send USR1 to process' "$pid" 'from ~/shop/tmp/pids/sidekiq.pid (another user'\\''s? see ssh.sudo)' >&2; exit 1; }
echo 'ship: quiet: sent USR1 to process' "$pid"`,
  );
  // A path from the config stays one quoted word.
  const hostile = signalCommand(quiet({ pidFile: "/srv/my app/$(reboot)'.pid" })).text;
  assert.ok(hostile.includes(`f='/srv/my app/$(reboot)'\\''.pid'\n`), hostile);
});

test('pidFile delivery with idleCommand: the same loop, ending early when the process is gone', () => {
  const text = waitCommand(quiet({ pidFile: '/srv/shop/worker.pid', idleCommand: 'test -f /srv/shop/idle', wait: '30s' })).text;
  assert.ok(
    text.startsWith(`alive() { [ -d "/proc/$1" ] || kill -0 "$1" 2>/dev/null; }; pid=$(tr -d ' \\t\\r\\n' 2>/dev/null < /srv/shop/worker.pid)
gone() { [ -z "$pid" ] || ! alive "$pid"; }
start=$(date +%s); end=$((start + 30))
while :; do
  if gone; then echo 'ship: quiet: the worker is not running: nothing to wait for'; exit 0; fi
  if out=$(sh -c 'test -f /srv/shop/idle' 2>&1); then`),
    text,
  );
});

test('pidFile delivery without idleCommand: the whole wait (rounded up to seconds), unless the process is gone', () => {
  assert.equal(
    waitCommand(quiet({ pidFile: '/srv/shop/worker.pid', wait: 1500 })).text,
    `alive() { [ -d "/proc/$1" ] || kill -0 "$1" 2>/dev/null; }; pid=$(tr -d ' \\t\\r\\n' 2>/dev/null < /srv/shop/worker.pid)
gone() { [ -z "$pid" ] || ! alive "$pid"; }
start=$(date +%s); end=$((start + 2))
while :; do
  if gone; then echo 'ship: quiet: the worker is not running: nothing to wait for'; exit 0; fi
  [ "$(date +%s)" -lt "$end" ] || break
  sleep 1
done
echo 'ship: quiet: waited 2s'`,
  );
});

test('command delivery: the config text runs as written instead of a signal; the wait cannot ask whether the worker runs', () => {
  const q = quiet({ command: 'sv 2 worker && echo "quieted $(hostname)"', idleCommand: 'bin/idle', wait: '10s' });
  const [signal, wait] = quietSteps(q) as [RunStep, RunStep];
  assert.equal((signal.command as { text: string }).text, 'sv 2 worker && echo "quieted $(hostname)"');
  assert.equal(
    (wait.command as { text: string }).text,
    `start=$(date +%s); end=$((start + 10))
while :; do
  if out=$(sh -c bin/idle 2>&1); then echo 'ship: quiet: idle after' "$(( $(date +%s) - start ))s"; exit 0; else s=$?; fi
  if [ "$s" -eq 126 ] || [ "$s" -eq 127 ]; then echo 'ship: quiet: idleCommand could not run (exit' "$s):" >&2; printf '%s\\n' "$out" | tail -n 5 >&2; exit 1; fi
  [ "$(date +%s)" -lt "$end" ] || break
  sleep 1
done
echo 'ship: quiet: not idle after 10s; restarting anyway (the app'\\''s own shutdown handles the jobs still running)' >&2
[ -z "$out" ] || { echo 'ship: quiet: idleCommand last said:' >&2; printf '%s\\n' "$out" | tail -n 5 >&2; }`,
  );
  assert.equal(
    waitCommand(quiet({ command: 'sv 2 worker', wait: '10s' })).text,
    `start=$(date +%s); end=$((start + 10))
while :; do
  [ "$(date +%s)" -lt "$end" ] || break
  sleep 1
done
echo 'ship: quiet: waited 10s'`,
  );
});
