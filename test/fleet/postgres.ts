/**
 * A real PostgreSQL primary with a streaming replica on loopback, for the integration tests.
 *
 * The primary is made with initdb; the replica with `pg_basebackup -R` over a replication slot, so
 * stopping it and starting it again catches up from the retained WAL. Binaries come from
 * `pg_config --bindir`. PostgreSQL refuses to run as root, so as root every server command runs
 * with the uid/gid of the unprivileged `postgres` account (created by the Debian package).
 *
 * Clusters live under /tmp/ship-test-pg/run-<pid>-<random>/ with an `owner` file naming the test
 * process; a later run stops the servers of any run whose owner is gone (an interrupted run) and
 * removes its directory, so leftovers never pile up or hold ports.
 */
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { chown, mkdir, readdir, readFile, rm, writeFile, appendFile, chmod } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';

const ROOT = '/tmp/ship-test-pg';
const APP_DATABASE = 'app';
const APP_ROLE = 'ship';
const REPLICATION_ROLE = 'replicator';
const SLOT = 'ship_replica';

export interface StartPostgresOptions {
  /** Where the clusters live; default: a fresh directory under /tmp/ship-test-pg. */
  dir?: string;
  /** Loopback address both servers listen on (only this address). */
  address?: string;
  /** Preferred port for the primary; another free port is used when it is taken. */
  port?: number;
  /** Start the streaming replica too (default true). */
  replica?: boolean;
  /** The primary's max_connections (the replica must have at least as many). */
  maxConnections?: number;
}

export interface PostgresFleet {
  address: string;
  dir: string;
  /** Non-superuser role `ship` with a password and CREATEDB, owner of database `app`. */
  primaryUrl: string;
  replicaUrl: string;
  /** Superuser (trust on loopback) for setting things up that the app role may not do. */
  primaryAdminUrl: string;
  replicaAdminUrl: string;
  primaryPort: number;
  replicaPort: number;
  /** The password in primaryUrl/replicaUrl, so tests can assert it never leaks. */
  password: string;
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** Resolves once the replica has replayed everything the primary has written so far. */
  waitForReplicaCatchUp(timeoutMs?: number): Promise<void>;
  stopReplica(): Promise<void>;
  startReplica(): Promise<void>;
  stop(): Promise<void>;
}

interface ServerUser {
  uid?: number;
  gid?: number;
}

let binDirPromise: Promise<string> | undefined;
function binDir(): Promise<string> {
  binDirPromise ??= execa('pg_config', ['--bindir']).then((r) => r.stdout.trim());
  return binDirPromise;
}

/** Root cannot run postgres: use the `postgres` account's ids; anyone else runs it as themselves. */
async function serverUser(): Promise<ServerUser> {
  if (process.getuid?.() !== 0) return {};
  const id = await execa('id', ['postgres'], { reject: false });
  if (id.exitCode !== 0) {
    throw new Error('test/fleet/postgres: running as root but there is no `postgres` user to run the servers as; install postgresql (test/install-deps.sh) or create the user');
  }
  const uid = Number(/uid=(\d+)/.exec(id.stdout)?.[1]);
  const gid = Number(/gid=(\d+)/.exec(id.stdout)?.[1]);
  return { uid, gid };
}

async function runAsServer(user: ServerUser, binary: string, args: string[]) {
  const bin = await binDir();
  const result = await execa(join(bin, binary), args, {
    ...user,
    reject: false,
    env: { LC_ALL: 'C', PGTZ: 'UTC' },
    extendEnv: false,
    // pg_ctl start leaves the postmaster running with our pipes unless they are closed.
    stdin: 'ignore',
    timeout: 60_000,
  });
  if (result.exitCode !== 0) {
    throw new Error(`${binary} ${args.join(' ')} failed (exit ${result.exitCode}): ${result.stderr || result.stdout}`);
  }
  return result;
}

function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, address, () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Stops the servers of runs whose test process is gone, and removes their directories. */
async function cleanStaleRuns(user: ServerUser): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(ROOT);
  } catch {
    return;
  }
  for (const entry of entries) {
    const runDir = join(ROOT, entry);
    const owner = Number((await readFile(join(runDir, 'owner'), 'utf8').catch(() => '')).trim());
    if (owner && isAlive(owner)) continue;
    for (const node of ['replica', 'primary']) {
      const data = join(runDir, node);
      const pidFile = await readFile(join(data, 'postmaster.pid'), 'utf8').catch(() => '');
      if (pidFile) await runAsServer(user, 'pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    }
    await rm(runDir, { recursive: true, force: true });
  }
}

class Node {
  constructor(
    readonly name: string,
    readonly data: string,
    readonly address: string,
    public port: number,
    private readonly user: ServerUser,
  ) {}

  private get log(): string {
    return `${this.data}.log`;
  }

  /** Writes the per-node settings; postgresql.conf includes this file last, so it wins. */
  async writeNodeConf(): Promise<void> {
    await writeFile(join(this.data, 'node.conf'), `port = ${this.port}\nlisten_addresses = '${this.address}'\nunix_socket_directories = ''\n`);
    await chown(join(this.data, 'node.conf'), this.user.uid ?? process.getuid!(), this.user.gid ?? process.getgid!());
  }

  /** Starts the server; when its port was taken meanwhile, picks another and tries again. */
  async start(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await this.writeNodeConf();
      try {
        await runAsServer(this.user, 'pg_ctl', ['-D', this.data, '-l', this.log, '-w', '-t', '60', 'start']);
        return;
      } catch (error) {
        const log = await readFile(this.log, 'utf8').catch(() => '');
        const portTaken = /could not bind|Address already in use|could not create any TCP\/IP sockets/.test(log);
        if (!portTaken || attempt >= 5) {
          throw new Error(`${this.name} PostgreSQL on ${this.address}:${this.port} did not start: ${(error as Error).message}\n${log.slice(-2000)}`);
        }
        await writeFile(this.log, '');
        this.port = await freePort(this.address);
      }
    }
  }

  async stop(): Promise<void> {
    const pidFile = await readFile(join(this.data, 'postmaster.pid'), 'utf8').catch(() => '');
    if (!pidFile) return;
    await runAsServer(this.user, 'pg_ctl', ['-D', this.data, '-m', 'fast', '-w', '-t', '60', 'stop']);
  }
}

async function query<T extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

function url(role: string, password: string | undefined, address: string, port: number, database: string): string {
  const auth = password === undefined ? role : `${role}:${encodeURIComponent(password)}`;
  return `postgresql://${auth}@${address}:${port}/${database}`;
}

export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresFleet> {
  const address = options.address ?? '127.0.0.1';
  if (!address.startsWith('127.')) throw new Error(`test/fleet/postgres: ${address} is not a loopback address`);
  const withReplica = options.replica ?? true;
  const user = await serverUser();
  const ownerIds: [number, number] = [user.uid ?? process.getuid!(), user.gid ?? process.getgid!()];

  await mkdir(ROOT, { recursive: true });
  await chmod(ROOT, 0o755);
  await cleanStaleRuns(user);
  const dir = options.dir ?? join(ROOT, `run-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'owner'), `${process.pid}\n`);
  await chown(dir, ...ownerIds);

  const password = randomBytes(12).toString('base64url');
  const primary = new Node('primary', join(dir, 'primary'), address, options.port ?? (await freePort(address)), user);
  const replica = new Node('replica', join(dir, 'replica'), address, await freePort(address), user);

  const stopAll = async () => {
    await replica.stop().catch(() => undefined);
    await primary.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await runAsServer(user, 'initdb', ['-D', primary.data, '-U', 'postgres', '--auth=trust', '--locale=C', '-E', 'UTF8', '--no-sync', '--no-instructions']);
    await appendFile(
      join(primary.data, 'postgresql.conf'),
      [
        'wal_level = replica',
        'max_wal_senders = 5',
        'max_replication_slots = 5',
        'hot_standby = on',
        `max_connections = ${options.maxConnections ?? 40}`,
        'shared_buffers = 16MB',
        // Test clusters are thrown away: skip the disk flushes that make them slow.
        'fsync = off',
        'wal_receiver_status_interval = 1s',
        "include 'node.conf'",
        '',
      ].join('\n'),
    );
    await writeFile(
      join(primary.data, 'pg_hba.conf'),
      [`host replication ${REPLICATION_ROLE} 127.0.0.0/8 trust`, 'host all postgres 127.0.0.0/8 trust', 'host all all 127.0.0.0/8 scram-sha-256', ''].join('\n'),
    );
    await primary.start();

    const adminPostgres = url('postgres', undefined, address, primary.port, 'postgres');
    await query(adminPostgres, `create role ${REPLICATION_ROLE} login replication`);
    await query(adminPostgres, `create role ${APP_ROLE} login createdb password '${password}'`);
    await query(adminPostgres, `create database ${APP_DATABASE} owner ${APP_ROLE}`);

    if (withReplica) {
      await runAsServer(user, 'pg_basebackup', [
        '-h',
        address,
        '-p',
        String(primary.port),
        '-U',
        REPLICATION_ROLE,
        '-D',
        replica.data,
        '-R',
        '-X',
        'stream',
        '-C',
        '-S',
        SLOT,
        '--no-sync',
        '-c',
        'fast',
      ]);
      await replica.start();
    }
  } catch (error) {
    await stopAll();
    throw error;
  }

  const fleet: PostgresFleet = {
    address,
    dir,
    password,
    get primaryPort() {
      return primary.port;
    },
    get replicaPort() {
      return replica.port;
    },
    get primaryUrl() {
      return url(APP_ROLE, password, address, primary.port, APP_DATABASE);
    },
    get replicaUrl() {
      return url(APP_ROLE, password, address, replica.port, APP_DATABASE);
    },
    get primaryAdminUrl() {
      return url('postgres', undefined, address, primary.port, APP_DATABASE);
    },
    get replicaAdminUrl() {
      return url('postgres', undefined, address, replica.port, APP_DATABASE);
    },
    async pauseReplay() {
      await query(fleet.replicaAdminUrl, 'select pg_wal_replay_pause()');
    },
    async resumeReplay() {
      await query(fleet.replicaAdminUrl, 'select pg_wal_replay_resume()');
    },
    async waitForReplicaCatchUp(timeoutMs = 10_000) {
      const [{ lsn }] = (await query<{ lsn: string }>(fleet.primaryAdminUrl, 'select pg_current_wal_lsn()::text as lsn')) as [{ lsn: string }];
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const [row] = await query<{ behind: boolean }>(fleet.replicaAdminUrl, 'select pg_last_wal_replay_lsn() < $1::pg_lsn as behind', [lsn]);
        if (row && !row.behind) return;
        if (Date.now() > deadline) throw new Error(`replica on port ${replica.port} did not replay up to ${lsn} within ${timeoutMs}ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    stopReplica: () => replica.stop(),
    startReplica: () => replica.start(),
    stop: stopAll,
  };
  return fleet;
}
