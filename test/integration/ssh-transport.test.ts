/**
 * SshTransport against real OpenSSH servers on a random loopback block: host A (direct target and
 * jump host), host B (reached only through A in the jump tests), host C whose `sha256sum` corrupts
 * the file it is asked to hash (a stand-in for a disk or transfer that alters an upload).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sh } from '../../src/shell/sh.js';
import { SshTransport, type SshTransportOptions } from '../../src/transport/ssh.js';
import { TransportError } from '../../src/transport/transport.js';
import { generateKeyPair, type KeyPair } from '../fleet/keys.js';
import { startSshd, type SshdHandle } from '../fleet/sshd.js';

const randomOctet = () => 10 + Math.floor(Math.random() * 241);
const block = `127.${randomOctet()}.${randomOctet()}`;
const PORT = 2222;
const PASSPHRASE = 'correct horse battery staple';

let dir: string;
let key: KeyPair;
let encryptedKey: KeyPair;
let hostA: SshdHandle;
let hostB: SshdHandle;
let hostC: SshdHandle;
let knownHosts: string;
const transports: SshTransport[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ship-ssh-'));
  key = await generateKeyPair(join(dir, 'client'), 'id_ed25519');
  encryptedKey = await generateKeyPair(join(dir, 'client'), 'id_encrypted', PASSPHRASE);
  const authorizedKeys = [key.publicKey, encryptedKey.publicKey];
  const fakeBin = join(dir, 'corrupting-bin');
  await mkdir(fakeBin, { recursive: true });
  // Appends a byte to the file before hashing it: the size and the hash on the host both change.
  await writeFile(join(fakeBin, 'sha256sum'), '#!/bin/sh\nfor f; do :; done\nprintf x >> "$f"\nexec /usr/bin/sha256sum "$@"\n');
  await chmod(join(fakeBin, 'sha256sum'), 0o755);
  [hostA, hostB, hostC] = await Promise.all([
    startSshd({ address: `${block}.10`, port: PORT, dir: join(dir, 'a'), authorizedKeys }),
    startSshd({ address: `${block}.11`, port: PORT, dir: join(dir, 'b'), authorizedKeys }),
    startSshd({
      address: `${block}.12`,
      port: PORT,
      dir: join(dir, 'c'),
      authorizedKeys,
      env: { PATH: `${fakeBin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` },
    }),
  ]);
  knownHosts = join(dir, 'known_hosts');
  await writeFile(knownHosts, [hostA, hostB, hostC].map((h) => `${h.knownHostsLine}\n`).join(''));
});

after(async () => {
  await Promise.all(transports.map((t) => t.close()));
  await Promise.all([hostA, hostB, hostC].map((h) => h?.stop()));
  await rm(dir, { recursive: true, force: true });
});

function transport(host: SshdHandle, overrides: Partial<SshTransportOptions> = {}): SshTransport {
  const t = new SshTransport({
    host: `test-${host.address}`,
    address: host.address,
    port: host.port,
    user: 'root',
    privateKeyPath: key.privateKeyPath,
    agent: false,
    knownHostsPath: knownHosts,
    sshConfigPath: false,
    connectTimeoutMs: 5000,
    ...overrides,
  });
  transports.push(t);
  return t;
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

test('exec returns exit code, stdout and stderr, and streams output while the command runs', async () => {
  const ssh = transport(hostA);
  const result = await ssh.exec(sh`echo out; echo err >&2; exit 7`);
  assert.deepEqual({ code: result.code, stdout: result.stdout, stderr: result.stderr }, { code: 7, stdout: 'out\n', stderr: 'err\n' });

  const chunks: Array<{ text: string; at: number }> = [];
  const started = Date.now();
  const streamed = await ssh.exec(sh`echo first; sleep 0.4; echo second`, { onStdout: (text) => chunks.push({ text, at: Date.now() - started }) });
  assert.equal(streamed.stdout, 'first\nsecond\n');
  assert.equal(chunks.map((c) => c.text).join(''), 'first\nsecond\n');
  assert.ok(chunks[0]!.at < streamed.durationMs - 300, `first chunk at ${chunks[0]!.at}ms should arrive before the command ends (${streamed.durationMs}ms)`);
});

test('a pipeline whose earlier command fails fails the command (pipefail), with and without sudo', async () => {
  const ssh = transport(hostA);
  assert.equal((await ssh.exec(sh`false | true`)).code, 1);
  assert.equal((await ssh.exec(sh`false | true`, { sudo: true })).code, 1);
  assert.equal((await ssh.exec(sh`true | true`)).code, 0);
});

test('interpolated values reach the host as literal arguments', async () => {
  const value = `it's $(touch /tmp/pwned) "quoted" ; rm -rf / \n next`;
  const result = await transport(hostA).exec(sh`printf %s ${value}`);
  assert.equal(result.stdout, value);
});

test('stdin reaches the command (with and without sudo) and never its command line', async () => {
  const ssh = transport(hostA);
  const value = `pw-${randomBytes(8).toString('hex')} 'q' $(nope)\nsecond line`;
  const result = await ssh.exec(sh`cat; echo; ps -eo args | grep -c -F ${'pw-'} || true`, { stdin: value });
  // The grep itself holds 'pw-' on its command line; the value never is.
  assert.ok(result.stdout.startsWith(`${value}\n`), result.stdout);
  assert.equal((await ssh.exec(sh`cat`, { stdin: value, sudo: true })).stdout, value);
  assert.equal((await ssh.exec(sh`wc -c`, { stdin: '' })).stdout.trim(), '0');
});

test('one connection serves many commands, including more in parallel than MaxSessions allows', async () => {
  const before = await hostA.acceptedConnections();
  const ssh = transport(hostA);
  for (let i = 0; i < 5; i++) assert.equal((await ssh.exec(sh`echo ${i}`)).stdout, `${i}\n`);
  const parallel = await Promise.all(Array.from({ length: 14 }, (_, i) => ssh.exec(sh`sleep 0.1; echo ${i}`)));
  assert.deepEqual(
    parallel.map((r) => r.stdout),
    Array.from({ length: 14 }, (_, i) => `${i}\n`),
  );
  // client() hands out that same connection for forwarding, it does not dial another.
  const client = await ssh.client();
  assert.equal(client, await ssh.client());
  assert.equal((await hostA.acceptedConnections()) - before, 1);
});

test('an unknown host key is refused with its SHA256 fingerprint and the flag that accepts it', async () => {
  const empty = join(dir, 'known_hosts.empty');
  await writeFile(empty, '');
  const error = await rejection(transport(hostA, { knownHostsPath: empty }).exec(sh`true`));
  assert.equal(error.kind, 'host-key');
  assert.match(error.message, new RegExp(hostA.hostKeyFingerprint.replace(/[+/]/g, '\\$&')));
  assert.match(hostA.hostKeyFingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
  assert.match(error.message, /--accept-new-host-keys/);
  assert.equal(await readFile(empty, 'utf8'), '');
});

test('with acceptNewHostKeys a new key is recorded (hashed) and trusted from then on', async () => {
  const path = join(dir, 'known_hosts.accept');
  await writeFile(path, '# existing comment without trailing newline');
  await transport(hostA, { knownHostsPath: path, acceptNewHostKeys: true }).connect();
  const lines = (await readFile(path, 'utf8')).split('\n').filter((l) => l && !l.startsWith('#'));
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^\|1\|[^|]+\|[^ ]+ ssh-ed25519 /);
  assert.ok(!lines[0]!.includes(hostA.address), 'the host name is stored hashed');
  const again = await transport(hostA, { knownHostsPath: path }).exec(sh`echo ok`);
  assert.equal(again.stdout, 'ok\n');
});

test('a changed host key is refused loudly, even with acceptNewHostKeys', async () => {
  const other = await generateKeyPair(join(dir, 'client'), 'other_host_key');
  const path = join(dir, 'known_hosts.changed');
  const recorded = `[${hostA.address}]:${hostA.port} ${other.publicKey.split(' ').slice(0, 2).join(' ')}\n`;
  await writeFile(path, recorded);
  const error = await rejection(transport(hostA, { knownHostsPath: path, acceptNewHostKeys: true }).connect());
  assert.equal(error.kind, 'host-key');
  assert.match(error.message, /HOST KEY CHANGED/);
  assert.match(error.message, /man in the middle/);
  assert.ok(error.message.includes(hostA.hostKeyFingerprint));
  assert.equal(await readFile(path, 'utf8'), recorded, 'known_hosts is left untouched');
});

/**
 * Whether the processes whose pids the command wrote to `pidFile` still run on the host. A zombie
 * counts as dead: in these containers pid 1 does not reap orphans, so killed ones linger as `Z`.
 */
async function running(ssh: SshTransport, pidFile: string): Promise<string[]> {
  const result = await ssh.exec(sh`for pid in $(cat ${pidFile}); do s=$(ps -o stat= -p "$pid"); case "$s" in ''|Z*) ;; *) echo "$pid";; esac; done`);
  return result.stdout.split('\n').filter(Boolean);
}

async function waitForPids(ssh: SshTransport, pidFile: string, count: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const seen = (await ssh.exec(sh`cat ${pidFile} 2>/dev/null || true`)).stdout.split('\n').filter(Boolean);
    if (seen.length >= count) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`the command did not write ${count} pids to ${pidFile}`);
}

test('a command that runs past its timeout is killed on the host, children included', async () => {
  const ssh = transport(hostA);
  const pidFile = `/tmp/ship-timeout-${randomBytes(4).toString('hex')}`;
  const started = Date.now();
  const timingOut = ssh.exec(sh`sleep 30 & echo $! >> ${pidFile}; echo $$ >> ${pidFile}; sleep 30`, { timeoutMs: 700 });
  await waitForPids(ssh, pidFile, 2);
  // Both processes run before the deadline, so "gone" afterwards cannot pass vacuously.
  assert.equal((await running(ssh, pidFile)).length, 2);
  const error = await rejection(timingOut);
  assert.equal(error.kind, 'timeout');
  assert.match(error.message, /timed out after 700ms; killed process group \d+ on the host/);
  assert.ok(Date.now() - started < 3000, 'the timeout error comes promptly');
  assert.deepEqual(await running(ssh, pidFile), []);
  await ssh.exec(sh`rm -f ${pidFile}`);
});

test('aborting a command kills it on the host', async () => {
  const ssh = transport(hostA);
  const pidFile = `/tmp/ship-abort-${randomBytes(4).toString('hex')}`;
  const controller = new AbortController();
  const aborted = ssh.exec(sh`echo $$ > ${pidFile}; exec sleep 30`, { signal: controller.signal });
  await waitForPids(ssh, pidFile, 1);
  assert.equal((await running(ssh, pidFile)).length, 1);
  controller.abort();
  const error = await rejection(aborted);
  assert.equal(error.kind, 'exec');
  assert.match(error.message, /aborted; killed process group \d+ on the host/);
  assert.deepEqual(await running(ssh, pidFile), []);
  await ssh.exec(sh`rm -f ${pidFile}`);
});

test('a sudo command that times out is killed too', async () => {
  const ssh = transport(hostA);
  const pidFile = `/tmp/ship-sudo-timeout-${randomBytes(4).toString('hex')}`;
  const timingOut = ssh.exec(sh`echo $$ > ${pidFile}; exec sleep 30`, { sudo: true, timeoutMs: 700 });
  await waitForPids(ssh, pidFile, 1);
  assert.equal((await running(ssh, pidFile)).length, 1);
  assert.equal((await rejection(timingOut)).kind, 'timeout');
  assert.deepEqual(await running(ssh, pidFile), []);
  await ssh.exec(sh`rm -f ${pidFile}`);
});

test('sudo runs the command through sudo -n', async () => {
  const ssh = transport(hostA);
  const result = await ssh.exec(sh`echo "$SUDO_COMMAND"; id -u`, { sudo: true });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^\S*\/sh -c if \(set -o pipefail\)[\s\S]*\necho "\$SUDO_COMMAND"/m, 'SUDO_COMMAND shows the command ran under sudo, with pipefail');
  assert.match(result.stdout, /^0$/m);
});

test('upload writes through a temp name, verifies size and sha256 on the host, and applies the mode', async () => {
  const ssh = transport(hostA);
  const local = join(dir, 'artifact.bin');
  const content = randomBytes(3 * 1024 * 1024 + 17);
  await writeFile(local, content);
  const remoteDir = `/tmp/ship-upload-${randomBytes(4).toString('hex')}`;
  await ssh.exec(sh`mkdir -p ${remoteDir}`);
  const result = await ssh.upload(local, `${remoteDir}/artifact.bin`, { mode: 0o600 });
  assert.deepEqual(result, { bytes: content.length, sha256: createHash('sha256').update(content).digest('hex') });
  const remote = await ssh.exec(sh`cd ${remoteDir} && sha256sum artifact.bin && stat -c %a artifact.bin && ls -A`);
  assert.equal(remote.stdout, `${result.sha256}  artifact.bin\n600\nartifact.bin\n`);
  await ssh.exec(sh`rm -rf ${remoteDir}`);
});

test('an upload altered on the host is detected, reported as an upload error and removed', async () => {
  const ssh = transport(hostC);
  const local = join(dir, 'small.bin');
  await writeFile(local, randomBytes(4096));
  const remoteDir = `/tmp/ship-corrupt-${randomBytes(4).toString('hex')}`;
  await ssh.exec(sh`mkdir -p ${remoteDir}`);
  const error = await rejection(ssh.upload(local, `${remoteDir}/small.bin`));
  assert.equal(error.kind, 'upload');
  assert.match(error.message, /4097 bytes/);
  assert.match(error.message, /expected 4096 bytes/);
  assert.equal((await ssh.exec(sh`ls -A ${remoteDir}`)).stdout, '', 'neither the file nor its temp copy is left');
  await ssh.exec(sh`rm -rf ${remoteDir}`);
});

test('upload of a missing local file names it', async () => {
  const error = await rejection(transport(hostA).upload(join(dir, 'nope.tgz'), '/tmp/x'));
  assert.equal(error.kind, 'upload');
  assert.match(error.message, /nope\.tgz: no such local file/);
});

test('a passphrase-protected key works with its passphrase; a wrong one fails without echoing it', async () => {
  const ok = await transport(hostA, { privateKeyPath: encryptedKey.privateKeyPath, passphrase: PASSPHRASE }).exec(sh`echo ok`);
  assert.equal(ok.stdout, 'ok\n');
  const wrong = 'not-the-passphrase-123';
  const error = await rejection(transport(hostA, { privateKeyPath: encryptedKey.privateKeyPath, passphrase: wrong }).connect());
  assert.equal(error.kind, 'auth');
  assert.match(error.message, /wrong passphrase/);
  assert.ok(!error.message.includes(wrong));
  const missing = await rejection(transport(hostA, { privateKeyPath: encryptedKey.privateKeyPath }).connect());
  assert.match(missing.message, /is encrypted/);
});

test('ssh-agent authentication works without a key file', async () => {
  const socket = join(dir, 'agent.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 100 && !(await stat(socket).catch(() => undefined)); i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise<void>((resolve, reject) =>
      spawn('ssh-add', ['-q', key.privateKeyPath], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'ignore' }).on('close', (code) =>
        code === 0 ? resolve() : reject(new Error(`ssh-add exited ${code}`)),
      ),
    );
    const ssh = transport(hostA, { privateKeyPath: undefined, agent: socket, sshConfigPath: join(dir, 'no-such-ssh-config') });
    assert.equal((await ssh.exec(sh`echo via-agent`)).stdout, 'via-agent\n');
  } finally {
    agent.kill('SIGKILL');
  }
});

test('a host that accepts TCP but never speaks SSH fails within the connect timeout', async () => {
  const silent: Server = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, `${block}.13`, resolve));
  const port = (silent.address() as { port: number }).port;
  try {
    const started = Date.now();
    const error = await rejection(transport(hostA, { address: `${block}.13`, port, connectTimeoutMs: 400 }).connect());
    assert.equal(error.kind, 'connect');
    assert.match(error.message, /no SSH handshake with root@.*within 400ms/);
    assert.ok(Date.now() - started < 2000);
  } finally {
    silent.close();
  }
});

test('a missing private key file is named in the error', async () => {
  const path = join(dir, 'client', 'no_such_key');
  const error = await rejection(transport(hostA, { privateKeyPath: path }).connect());
  assert.equal(error.kind, 'auth');
  assert.ok(error.message.includes(path));
});

test('a jump host carries the connection to a host behind it; both host keys are checked', async () => {
  const beforeA = await hostA.acceptedConnections();
  const beforeB = await hostB.acceptedConnections();
  const ssh = transport(hostB, { jumpHost: `root@${hostA.address}:${hostA.port}` });
  const result = await ssh.exec(sh`echo $SHIP_TEST_SSHD`);
  assert.equal(result.stdout, `${join(dir, 'b')}\n`);
  assert.equal((await hostA.acceptedConnections()) - beforeA, 1);
  assert.equal((await hostB.acceptedConnections()) - beforeB, 1);

  const onlyJump = join(dir, 'known_hosts.jump-only');
  await writeFile(onlyJump, `${hostA.knownHostsLine}\n`);
  const error = await rejection(transport(hostB, { jumpHost: `root@${hostA.address}:${hostA.port}`, knownHostsPath: onlyJump }).connect());
  assert.equal(error.kind, 'host-key');
  assert.ok(error.message.includes(hostB.hostKeyFingerprint), error.message);
});

test('ssh config aliases, HostName, Port, User, IdentityFile and ProxyJump are honoured', async () => {
  const config = join(dir, 'ssh_config');
  await writeFile(
    config,
    [
      'Host bastion',
      `  HostName ${hostA.address}`,
      `  Port ${hostA.port}`,
      '  User root',
      `  IdentityFile ${key.privateKeyPath}`,
      'Host inner-*',
      `  HostName ${hostB.address}`,
      '  ProxyJump bastion',
      'Host *',
      `  Port ${hostB.port}`,
      '  User root',
      `  IdentityFile ${key.privateKeyPath}`,
      '',
    ].join('\n'),
  );
  const beforeA = await hostA.acceptedConnections();
  const ssh = new SshTransport({ host: 'inner', address: 'inner-1', knownHostsPath: knownHosts, sshConfigPath: config, agent: false, connectTimeoutMs: 5000 });
  transports.push(ssh);
  assert.equal((await ssh.exec(sh`echo $SHIP_TEST_SSHD`)).stdout, `${join(dir, 'b')}\n`);
  assert.equal((await hostA.acceptedConnections()) - beforeA, 1, 'went through the bastion');
});

test('a dropped connection fails the running command and is re-dialed on next use', async () => {
  const ssh = transport(hostA);
  await ssh.connect();
  const before = await hostA.acceptedConnections();
  // The command's parent is sshd's process for this connection: killing it drops the connection,
  // as a reboot or a network failure would.
  const error = await rejection(ssh.exec(sh`kill -9 $PPID; sleep 5`));
  assert.equal(error.kind, 'closed');
  assert.equal((await ssh.exec(sh`echo back`)).stdout, 'back\n');
  assert.equal((await hostA.acceptedConnections()) - before, 1);
});

test('after close, exec fails with a closed error', async () => {
  const ssh = transport(hostA);
  await ssh.connect();
  await ssh.close();
  const error = await rejection(ssh.exec(sh`true`));
  assert.equal(error.kind, 'closed');
});
