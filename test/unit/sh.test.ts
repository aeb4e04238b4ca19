import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { quote, sh, unsafeRaw, withSudo } from '../../src/shell/sh.js';

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

test('sudo wraps the whole command as one argument', () => {
  assert.equal(withSudo(sh`echo ${'a;b'}`).text, `sudo -n -- sh -c 'echo '\\''a;b'\\'''`);
});
