import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { quote, sh, unsafeRaw, withPipefail, withSudo } from '../../src/shell/sh.js';

const hostile = [`a'b`, 'x; rm -rf /', '$(touch /tmp/pwned)', '`id`', 'line1\nline2', '"dq"', ' spaced ', '*', '-rf', '\\', ''];

function echoed(text: string): string {
  return execFileSync('sh', ['-c', text], { encoding: 'utf8' });
}

test('every interpolated value reaches the shell as one literal argument', () => {
  for (const value of hostile) {
    const out = echoed(sh`printf '%s|' ${value}`.text);
    assert.equal(out, `${value}|`, `value ${JSON.stringify(value)} was changed by the shell`);
  }
});

test('arrays become several quoted arguments', () => {
  assert.equal(echoed(sh`printf '%s|' ${['a b', "c'd"]}`.text), "a b|c'd|");
});

test("nested commands are pasted, raw text is the caller's own", () => {
  const inner = sh`echo ${'x y'}`;
  assert.equal(sh`${inner} && ${unsafeRaw('echo z')}`.text, "echo 'x y' && echo z");
});

test('undefined is refused instead of becoming the word "undefined"', () => {
  assert.throws(() => sh`ls ${undefined as unknown as string}`, /interpolated value #1 is undefined/);
});

test('quote leaves plain words readable', () => {
  assert.equal(quote('/srv/app/releases/v1.2.3'), '/srv/app/releases/v1.2.3');
  assert.equal(quote("it's"), `'it'\\''s'`);
});

test('sudo wraps the whole command as one argument, with pipefail', () => {
  const command = sh`echo ${'a;b'}`;
  assert.equal(withSudo(command).text, `sudo -n -- sh -c ${quote(withPipefail(command).text)}`);
});

const shHasPipefail = spawnSync('sh', ['-c', 'set -o pipefail'], { stdio: 'ignore' }).status === 0;

test('withPipefail: a pipeline fails when an earlier command does, under sh and under bash', () => {
  for (const shell of ['sh', 'bash']) {
    const status = (text: string) => spawnSync(shell, ['-c', withPipefail(unsafeRaw(text)).text], { stdio: 'ignore' }).status;
    assert.equal(status('false | true'), 1, shell);
    assert.equal(status('true | true'), 0, shell);
    assert.equal(status('exit 7'), 7, shell);
  }
});

test('withPipefail: a host whose sh has no pipefail and no bash refuses to run the command', { skip: shHasPipefail && "this machine's sh has pipefail" }, () => {
  // dash's own builtins (false, true, echo, command) still work with an empty PATH; bash is not found.
  const result = spawnSync('/bin/sh', ['-c', withPipefail(unsafeRaw('false | true; echo ran')).text], { env: { PATH: '/nonexistent' }, encoding: 'utf8' });
  assert.equal(result.status, 127);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /no 'set -o pipefail' and there is no bash; install bash/);
});
