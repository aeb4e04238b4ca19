import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveSshConfig, resolveSshConfigText } from '../../src/transport/ssh-config.js';
import { parseJumpSpec, planConnection } from '../../src/transport/connect-options.js';
import { TransportError } from '../../src/transport/transport.js';
import { generateKeyPair } from '../fleet/keys.js';

const resolve = (alias: string, text: string) => resolveSshConfigText(alias, text, '/etc/test/ssh_config');

const CONFIG = `
# global defaults come first in real configs too
User fallback-user

Host web-* !web-legacy
  HostName %h.prod.internal
  Port 2201
  IdentityFile ~/.ssh/web_key

Host web-legacy
  HostName 10.9.9.9

Host db?
  User dba
  ProxyJump bastion1,bastion2

Host *
  User ignored-because-first-wins
  Port 22
  IdentityFile ~/.ssh/id_%r
  ProxyJump none
`;

test('first value wins; IdentityFile accumulates in order; tokens and ~ are expanded', async () => {
  const web = await resolve('web-3', CONFIG);
  assert.equal(web.hostName, 'web-3.prod.internal');
  assert.equal(web.port, 2201);
  assert.equal(web.user, 'fallback-user');
  assert.deepEqual(web.identityFiles, [join(homedir(), '.ssh/web_key'), join(homedir(), '.ssh/id_fallback-user')]);
  assert.equal(web.proxyJump, undefined, 'ProxyJump none in Host * disables it');
});

test('negated patterns exclude a host from a block', async () => {
  const legacy = await resolve('web-legacy', CONFIG);
  assert.equal(legacy.hostName, '10.9.9.9');
  assert.equal(legacy.port, 22);
});

test('? matches one character; ProxyJump keeps its comma list', async () => {
  const db = await resolve('db1', CONFIG);
  assert.equal(db.user, 'fallback-user', 'the global User came first');
  assert.equal(db.proxyJump, 'bastion1,bastion2');
  assert.equal((await resolve('db12', CONFIG)).proxyJump, undefined);
});

test('host names match case-insensitively; Keyword=value and quoted values parse', async () => {
  const result = await resolve('APP1', 'Host app1\n  HostName="app one.internal"\n  Port=2022\n');
  assert.equal(result.hostName, 'app one.internal');
  assert.equal(result.port, 2022);
});

test('an unknown host gets nothing from host blocks', async () => {
  const result = await resolve('other', 'Host web\n  HostName 1.2.3.4\n');
  assert.deepEqual(result, { identityFiles: [], notes: [] });
});

test('Match host / originalhost / all are evaluated; Match exec is not run and is reported', async () => {
  const text = [
    'Host short',
    '  HostName short.example.com',
    'Match host *.example.com',
    '  User matched-by-hostname',
    'Match exec "touch /tmp/should-not-run"',
    '  Port 9999',
    'Match all',
    '  Port 2200',
  ].join('\n');
  const result = await resolve('short', text);
  assert.equal(result.user, 'matched-by-hostname');
  assert.equal(result.port, 2200);
  assert.equal(result.notes.length, 1);
  assert.match(result.notes[0]!, /ssh_config:5: Match exec is not evaluated/);
});

test('Include pulls in files (with globs) relative to the config directory', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ship-sshcfg-'));
  try {
    await mkdir(join(dir, 'conf.d'));
    await writeFile(join(dir, 'conf.d', '10-web.conf'), 'Host web\n  HostName 10.0.0.10\n');
    await writeFile(join(dir, 'conf.d', '20-web.conf'), 'Host web\n  HostName 10.0.0.20\n  User from-include\n');
    await writeFile(join(dir, 'config'), 'Include conf.d/*.conf\nHost web\n  User too-late\n');
    const result = await resolveSshConfig('web', join(dir, 'config'));
    assert.equal(result.hostName, '10.0.0.10');
    assert.equal(result.user, 'from-include');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a missing config file means no settings; a bad Port names the line', async () => {
  assert.deepEqual(await resolveSshConfig('x', '/nonexistent/ship/ssh_config'), { identityFiles: [], notes: [] });
  await assert.rejects(resolve('x', 'Host x\n  Port 99999\n'), /ssh_config:2: Port must be 1-65535/);
});

test('jump specs: user@host:port, bare aliases, IPv6 brackets, ssh:// URIs', () => {
  assert.deepEqual(parseJumpSpec('deploy@bastion:2222', 'h'), { user: 'deploy', host: 'bastion', port: 2222 });
  assert.deepEqual(parseJumpSpec('bastion', 'h'), { host: 'bastion' });
  assert.deepEqual(parseJumpSpec('[fd00::1]:22', 'h'), { host: 'fd00::1', port: 22 });
  assert.deepEqual(parseJumpSpec('ssh://ops@jump.example', 'h'), { user: 'ops', host: 'jump.example' });
  assert.throws(
    () => parseJumpSpec('bastion:notaport', 'web1'),
    (e: unknown) => e instanceof TransportError && /web1: jump host "bastion:notaport"/.test(e.message),
  );
});

test('ship config wins over ssh config; ssh config fills the gaps, also for jump hosts', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ship-sshcfg-'));
  try {
    const shipKey = join(dir, 'ship_key');
    const bastionKey = join(dir, 'bastion_key');
    await generateKeyPair(dir, 'ship_key');
    await generateKeyPair(dir, 'bastion_key');
    const config = join(dir, 'config');
    await writeFile(
      config,
      [
        'Host web1',
        '  HostName 10.0.0.1',
        '  User from-ssh-config',
        '  Port 2200',
        '  ProxyJump ops@bastion',
        'Host bastion',
        '  HostName 192.0.2.1',
        '  Port 2022',
        `  IdentityFile ${bastionKey}`,
      ].join('\n'),
    );
    const plan = await planConnection({
      host: 'web1',
      address: 'web1',
      user: 'deploy',
      privateKeyPath: shipKey,
      knownHostsPath: join(dir, 'known_hosts'),
      sshConfigPath: config,
      agent: false,
    });
    assert.deepEqual(
      { address: plan.target.address, port: plan.target.port, user: plan.target.user, key: plan.target.credentials.privateKeyPath },
      { address: '10.0.0.1', port: 2200, user: 'deploy', key: shipKey },
    );
    assert.equal(plan.jumps.length, 1);
    assert.deepEqual(
      { address: plan.jumps[0]!.address, port: plan.jumps[0]!.port, user: plan.jumps[0]!.user, key: plan.jumps[0]!.credentials.privateKeyPath },
      { address: '192.0.2.1', port: 2022, user: 'ops', key: bastionKey },
    );
    const explicitJump = await planConnection({
      host: 'web1',
      address: 'web1',
      privateKeyPath: shipKey,
      knownHostsPath: join(dir, 'known_hosts'),
      sshConfigPath: config,
      agent: false,
      jumpHost: 'root@198.51.100.7:22',
    });
    assert.deepEqual(
      explicitJump.jumps.map((j) => `${j.user}@${j.address}:${j.port}`),
      ['root@198.51.100.7:22'],
    );
    assert.equal(explicitJump.jumps[0]!.credentials.privateKeyPath, shipKey, "a jump host without IdentityFile is offered ship's key");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
