/**
 * Per-command overhead of SshTransport on a reused connection versus the OpenSSH client with a
 * persistent ControlMaster (the fastest way to run many commands with ssh(1)), against the same
 * real sshd on loopback. Each run sends N sequential `true` commands; the figure per command is
 * the median over RUNS runs. Prints one JSON object.
 *
 *   node --import tsx bench/ssh-overhead.ts [N] [RUNS]
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sh } from '../src/shell/sh.js';
import { SshTransport } from '../src/transport/ssh.js';
import { generateKeyPair } from '../test/fleet/keys.js';
import { startSshd } from '../test/fleet/sshd.js';
import { median } from './lib/common.js';

const run = promisify(execFile);
const N = Number(process.argv[2] ?? 200);
const RUNS = Number(process.argv[3] ?? 5);

async function perCommandMs(runOnce: () => Promise<void>): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < N; i++) await runOnce();
  return (performance.now() - started) / N;
}

const octet = () => 10 + Math.floor(Math.random() * 241);
const dir = await mkdtemp(join(tmpdir(), 'ship-bench-ssh-'));
const key = await generateKeyPair(join(dir, 'client'), 'id_ed25519');
const sshd = await startSshd({ address: `127.${octet()}.${octet()}.10`, port: 2222, dir: join(dir, 'sshd'), authorizedKeys: [key.publicKey] });
const knownHosts = join(dir, 'known_hosts');
await writeFile(knownHosts, `${sshd.knownHostsLine}\n`);
const controlPath = join(dir, 'cm-%C');
const sshArgs = [
  '-F',
  '/dev/null',
  '-i',
  key.privateKeyPath,
  '-o',
  'IdentitiesOnly=yes',
  '-o',
  `UserKnownHostsFile=${knownHosts}`,
  '-o',
  'StrictHostKeyChecking=yes',
  '-o',
  'BatchMode=yes',
  '-o',
  'ControlMaster=auto',
  '-o',
  `ControlPath=${controlPath}`,
  '-o',
  'ControlPersist=60',
  '-p',
  String(sshd.port),
  `root@${sshd.address}`,
];
const transport = new SshTransport({
  host: 'bench',
  address: sshd.address,
  port: sshd.port,
  user: 'root',
  privateKeyPath: key.privateKeyPath,
  agent: false,
  knownHostsPath: knownHosts,
  sshConfigPath: false,
});

try {
  // Warm up both: open the connection / start the master, so only per-command cost is measured.
  await transport.exec(sh`true`);
  await run('ssh', [...sshArgs, 'true']);
  const ship: number[] = [];
  const controlMaster: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    ship.push(
      await perCommandMs(async () => {
        const result = await transport.exec(sh`true`);
        if (result.code !== 0) throw new Error(`ship: true exited ${result.code}`);
      }),
    );
    controlMaster.push(
      await perCommandMs(async () => {
        await run('ssh', [...sshArgs, 'true']);
      }),
    );
  }
  const shipMedian = median(ship);
  const controlMasterMedian = median(controlMaster);
  console.log(
    JSON.stringify(
      {
        benchmark: 'ssh-overhead',
        commands: N,
        runs: RUNS,
        shipMsPerCommand: Number(shipMedian.toFixed(3)),
        controlMasterMsPerCommand: Number(controlMasterMedian.toFixed(3)),
        ratio: Number((shipMedian / controlMasterMedian).toFixed(3)),
        shipRunsMs: ship.map((v) => Number(v.toFixed(3))),
        controlMasterRunsMs: controlMaster.map((v) => Number(v.toFixed(3))),
      },
      null,
      2,
    ),
  );
} finally {
  await transport.close();
  // ControlPersist keeps the master alive after the last client; stop it explicitly.
  await new Promise<void>((resolve) => spawn('ssh', [...sshArgs.slice(0, -1), '-O', 'exit', sshArgs.at(-1)!], { stdio: 'ignore' }).on('close', () => resolve()));
  await sshd.stop();
  await rm(dir, { recursive: true, force: true });
}
