import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  appendKnownHost,
  checkHostKey,
  fingerprintSha256,
  knownHostsName,
  knownKeyTypes,
  matchesPatternList,
  parseKnownHosts,
  readKnownHosts,
} from '../../src/transport/known-hosts.js';
import { generateKeyPair } from '../fleet/keys.js';

const run = promisify(execFile);

/** A syntactically valid SSH public key blob of the given type with random key material. */
function blob(type: string): Buffer {
  const name = Buffer.from(type);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(name.length);
  const material = Buffer.alloc(4 + 32);
  material.writeUInt32BE(32);
  randomBytes(32).copy(material, 4);
  return Buffer.concat([length, name, material]);
}

const ed = blob('ssh-ed25519');
const edOther = blob('ssh-ed25519');
const ecdsa = blob('ecdsa-sha2-nistp256');
const line = (hosts: string, key: Buffer) => `${hosts} ${typeOf(key)} ${key.toString('base64')}`;
function typeOf(key: Buffer): string {
  return key.subarray(4, 4 + key.readUInt32BE(0)).toString();
}
function hashed(name: string, key: Buffer): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')} ${typeOf(key)} ${key.toString('base64')}`;
}

test('names: plain on port 22, [host]:port otherwise, lower-cased', () => {
  assert.equal(knownHostsName('Web1.Example.com', 22), 'web1.example.com');
  assert.equal(knownHostsName('10.0.0.5', 2222), '[10.0.0.5]:2222');
});

test('a plain entry among a comma list of names trusts exactly its key', () => {
  const entries = parseKnownHosts(`# comment\n\n${line('web1,10.0.0.1', ed)} a comment\n`);
  assert.equal(entries.length, 1);
  assert.deepEqual(checkHostKey(entries, '10.0.0.1', ed), { status: 'trusted', line: 3 });
  assert.deepEqual(checkHostKey(entries, 'web1', ed), { status: 'trusted', line: 3 });
  assert.deepEqual(checkHostKey(entries, 'web2', ed), { status: 'unknown' });
});

test('hashed entries match only their own name', () => {
  const entries = parseKnownHosts(`${hashed('[10.1.2.3]:2222', ed)}\n`);
  assert.equal(checkHostKey(entries, '[10.1.2.3]:2222', ed).status, 'trusted');
  assert.equal(checkHostKey(entries, '10.1.2.3', ed).status, 'unknown', 'port 22 is a different name');
  assert.equal(checkHostKey(entries, '[10.1.2.4]:2222', ed).status, 'unknown');
});

test('entries written and hashed by ssh-keygen itself are understood', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ship-kh-'));
  try {
    const host = await generateKeyPair(dir, 'hostkey');
    const [type, base64] = host.publicKey.split(' ') as [string, string];
    const path = join(dir, 'known_hosts');
    await writeFile(path, `[db.internal]:2200 ${type} ${base64}\n`);
    await run('ssh-keygen', ['-H', '-f', path]);
    const text = await readFile(path, 'utf8');
    assert.match(text, /^\|1\|/);
    const key = Buffer.from(base64, 'base64');
    assert.equal(checkHostKey(await readKnownHosts(path), '[db.internal]:2200', key).status, 'trusted');
    const { stdout } = await run('ssh-keygen', ['-lf', `${host.privateKeyPath}.pub`]);
    assert.ok(stdout.includes(fingerprintSha256(key)), `ssh-keygen shows ${stdout.trim()}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('patterns: wildcards, ? and negation, also inside [host]:port', () => {
  assert.ok(matchesPatternList('web7.prod', ['*.prod']));
  assert.ok(matchesPatternList('web7', ['web?']));
  assert.ok(!matchesPatternList('web17', ['web?']));
  assert.ok(!matchesPatternList('db1.prod', ['*.prod', '!db*']));
  const entries = parseKnownHosts(`[*.prod]:2222,![bad.prod]:2222 ${typeOf(ed)} ${ed.toString('base64')}\n`);
  assert.equal(checkHostKey(entries, '[web1.prod]:2222', ed).status, 'trusted');
  assert.equal(checkHostKey(entries, '[bad.prod]:2222', ed).status, 'unknown');
  assert.equal(checkHostKey(entries, 'web1.prod', ed).status, 'unknown');
});

test('a different key of the same type is a change, never unknown', () => {
  const entries = parseKnownHosts(`web1 ${typeOf(ed)} ${ed.toString('base64')}\n`);
  assert.deepEqual(checkHostKey(entries, 'web1', edOther), { status: 'changed', lines: [1] });
});

test('a key of a type not on record, when other types are, is flagged rather than accepted as new', () => {
  const entries = parseKnownHosts(`web1 ${typeOf(ecdsa)} ${ecdsa.toString('base64')}\n`);
  assert.deepEqual(checkHostKey(entries, 'web1', ed), { status: 'other-type', knownTypes: ['ecdsa-sha2-nistp256'], lines: [1] });
  assert.deepEqual(knownKeyTypes(entries, 'web1'), ['ecdsa-sha2-nistp256']);
});

test('@revoked refuses the key even if another line trusts it; @cert-authority grants no trust', () => {
  const revoked = parseKnownHosts(`web1 ${typeOf(ed)} ${ed.toString('base64')}\n@revoked * ${typeOf(ed)} ${ed.toString('base64')}\n`);
  assert.deepEqual(checkHostKey(revoked, 'web1', ed), { status: 'revoked', line: 2 });
  const ca = parseKnownHosts(`@cert-authority * ${typeOf(ed)} ${ed.toString('base64')}\n`);
  assert.equal(checkHostKey(ca, 'web1', ed).status, 'unknown');
  const unknownMarker = parseKnownHosts(`@trusted web1 ${typeOf(ed)} ${ed.toString('base64')}\n`);
  assert.equal(unknownMarker.length, 0);
});

test('malformed lines and lines whose key type disagrees with the blob are ignored', () => {
  const entries = parseKnownHosts(['web1', 'web1 ssh-ed25519', `web1 ssh-rsa ${ed.toString('base64')}`, 'web1 ssh-ed25519 !!!notbase64', line('web2', ed)].join('\n'));
  assert.deepEqual(
    entries.map((e) => e.hosts),
    ['web2'],
  );
});

test('appending writes one hashed line and keeps existing content intact', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ship-kh-'));
  try {
    const path = join(dir, 'sub', 'known_hosts');
    await appendKnownHost(path, '[10.0.0.9]:2222', ed);
    await appendKnownHost(path, 'web1', ecdsa);
    const text = await readFile(path, 'utf8');
    assert.equal(text.split('\n').length, 3);
    assert.ok(!text.includes('10.0.0.9') && !text.includes('web1'));
    const entries = parseKnownHosts(text);
    assert.equal(checkHostKey(entries, '[10.0.0.9]:2222', ed).status, 'trusted');
    assert.equal(checkHostKey(entries, 'web1', ecdsa).status, 'trusted');

    const noNewline = join(dir, 'kh2');
    await writeFile(noNewline, line('web2', edOther));
    await appendKnownHost(noNewline, 'web3', ed);
    const both = parseKnownHosts(await readFile(noNewline, 'utf8'));
    assert.equal(both.length, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('fingerprints are SHA256 base64 without padding', () => {
  assert.match(fingerprintSha256(ed), /^SHA256:[A-Za-z0-9+/]{43}$/);
});
