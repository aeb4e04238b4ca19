/**
 * A client for HAProxy's runtime API (the "stats socket"), in non-interactive mode: one
 * connection per command line, HAProxy answers and closes. No session state can go stale between
 * commands, and a restarted HAProxy is simply reached again by the next command.
 *
 * The socket is reached over TCP, as a local unix socket, or as a unix socket on the load-balancer
 * host through SSH stream-local forwarding (what `ssh -L` does for sockets), so the admin socket
 * never has to listen on the network.
 */
import { connect as connectNet } from 'node:net';
import type { Duplex } from 'node:stream';
import pLimit from 'p-limit';
import type { Client as SshClient } from 'ssh2';
import { LoadBalancerError, type ServerCounters } from './load-balancer.js';

export type RuntimeEndpoint =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'unix'; path: string }
  | { kind: 'ssh'; user?: string; host: string; port?: number; path: string };

export interface SshTarget {
  user?: string;
  host: string;
  port?: number;
}

/** Opens an authenticated SSH connection (the caller applies its configured keys and known_hosts). */
export type SshConnector = (target: SshTarget) => Promise<SshClient>;

const RUNTIME_API_FORMS = '127.0.0.1:9999, ipv4@127.0.0.1:9999, /run/haproxy/admin.sock, unix@/path or ssh://[user@]lbhost[:port]/run/haproxy/admin.sock';

/** Parses the `runtimeApi` config value of one HAProxy node. */
export function parseRuntimeApi(value: string): RuntimeEndpoint {
  const text = value.trim();
  // The message quotes the value, minus any password someone put into an ssh:// address.
  const shown = text.replace(/^(ssh:\/\/[^/@:]*):[^/@]*@/, '$1:***@');
  const invalid = (why: string) => new LoadBalancerError(`haproxy runtimeApi '${shown}': ${why}; expected one of ${RUNTIME_API_FORMS}`);
  if (text === '') throw invalid('empty');
  if (text.startsWith('unix@')) {
    const path = text.slice('unix@'.length);
    if (path === '') throw invalid('no socket path after unix@');
    return { kind: 'unix', path };
  }
  if (text.startsWith('/')) return { kind: 'unix', path: text };
  if (text.startsWith('ssh://')) return parseSshEndpoint(text, invalid);
  const address = text.replace(/^ipv[46]@/, '');
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d+)$/.exec(address);
  if (!match) throw invalid('not a host:port, socket path or ssh:// address');
  const port = Number(match[3]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(`port ${match[3]} is out of range`);
  return { kind: 'tcp', host: (match[1] ?? match[2])!, port };
}

function parseSshEndpoint(text: string, invalid: (why: string) => Error): RuntimeEndpoint {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid('not a valid ssh:// address');
  }
  // Passwords in a URL end up in logs and shell history; SSH auth comes from the ssh settings.
  if (url.password) throw invalid('a password in the address is not supported (use the ssh key settings)');
  if (!url.hostname) throw invalid('no host');
  const path = decodeURIComponent(url.pathname);
  if (path === '' || path === '/') throw invalid('no socket path after the host');
  const endpoint: RuntimeEndpoint = { kind: 'ssh', host: url.hostname.replace(/^\[(.*)\]$/, '$1'), path };
  if (url.username) endpoint.user = decodeURIComponent(url.username);
  if (url.port) endpoint.port = Number(url.port);
  return endpoint;
}

/** How a node is named in messages (never contains secrets: the forms carry none). */
export function describeEndpoint(endpoint: RuntimeEndpoint): string {
  switch (endpoint.kind) {
    case 'tcp':
      return endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
    case 'unix':
      return `unix@${endpoint.path}`;
    case 'ssh':
      return `ssh://${endpoint.user ? `${endpoint.user}@` : ''}${endpoint.host}${endpoint.port ? `:${endpoint.port}` : ''}${endpoint.path}`;
  }
}

// HAProxy accepts these characters in proxy and server names. Checking them keeps a name from
// carrying `;` or a newline, which the runtime API would read as a second command.
const HAPROXY_NAME = /^[A-Za-z0-9_.:-]+$/;

export function assertHaproxyName(what: 'backend' | 'server', name: string): void {
  if (!HAPROXY_NAME.test(name)) {
    throw new LoadBalancerError(`haproxy ${what} name '${name}' is not valid: HAProxy names use only letters, digits, '_', '.', ':' and '-'`);
  }
}

/** Server admin state bits of `show servers state` (HAProxy's SRV_ADMF_*). */
export const ADMIN = {
  forcedMaint: 0x01,
  inheritedMaint: 0x02,
  configMaint: 0x04,
  forcedDrain: 0x08,
  inheritedDrain: 0x10,
  resolutionMaint: 0x20,
  maint: 0x01 | 0x02 | 0x04 | 0x20,
  drain: 0x08 | 0x10,
} as const;

/** Server operational state of `show servers state` (HAProxy's SRV_ST_*). */
export const OP_STATE = { stopped: 0, starting: 1, running: 2, stopping: 3 } as const;

/** Health-check state bits of `show servers state` (HAProxy's CHK_ST_*, dumped as they are). */
const CHECK_IN_PROGRESS = 0x01;
const CHECK_CONFIGURED = 0x02;
const CHECK_ENABLED = 0x04;

export interface ServerStateRow {
  backend: string;
  name: string;
  address: string;
  opState: number;
  adminState: number;
  /** Health checks are configured and enabled (not counting the pause maintenance causes). */
  checked: boolean;
  /**
   * HAProxy's health counter (`srv_check_health`): 0 to rise-1 is DOWN, rise to rise+fall-1 is UP.
   * A passing check adds one (jumping to rise+fall-1 once it reaches rise), a failing one takes
   * one off (dropping to 0 below rise); entering maintenance sets 0, leaving it sets rise.
   */
  checkHealth: number;
  /** A health check of this server is running right now (CHK_ST_INPROGRESS). */
  checkInProgress: boolean;
}

/**
 * The rows parsed from the previous answer to the same command, by line. A wide batch reads every
 * server's row many times a second, and between two reads most servers' lines are the same text
 * (nothing about them changed): their rows are taken again instead of splitting the line into its
 * fields once more, which was most of what a 64-host rollout allocated. Only the last answer's rows
 * are kept; a new header (another HAProxy, other columns) starts afresh. Rows are never changed by
 * their readers, so sharing them is safe.
 */
export class RowCache<Row> {
  private header = '';
  private rows = new Map<string, Row>();

  /** The row of each line, parsed by `parse` unless the previous answer had the same line under the same header. */
  rowsOf(header: string, lines: string[], parse: (line: string) => Row | undefined): Row[] {
    const previous = header === this.header ? this.rows : new Map<string, Row>();
    const next = new Map<string, Row>();
    const rows: Row[] = [];
    for (const line of lines) {
      const row = previous.get(line) ?? parse(line);
      if (row === undefined) continue;
      next.set(line, row);
      rows.push(row);
    }
    this.header = header;
    this.rows = next;
    return rows;
  }
}

/** Without a cache: every line parsed. */
function everyLine<Row>(lines: string[], parse: (line: string) => Row | undefined): Row[] {
  return lines.flatMap((line) => {
    const row = parse(line);
    return row === undefined ? [] : [row];
  });
}

/**
 * Parses `show servers state <backend>`: a format version line ("1"), a `# be_id be_name ...`
 * header naming the columns, then one space-separated line per server. Columns are looked up by
 * the header's names, so added columns in later HAProxy versions don't shift anything.
 */
export function parseServersState(text: string, cache?: RowCache<ServerStateRow>): ServerStateRow[] {
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  if (lines[0] !== '1' || !lines[1]?.startsWith('# ')) {
    throw new Error(`unexpected answer to 'show servers state': ${firstLine(text)}`);
  }
  const columns = lines[1].slice(2).split(/\s+/);
  const index = (name: string) => {
    const i = columns.indexOf(name);
    if (i < 0) throw new Error(`'show servers state' has no column ${name}`);
    return i;
  };
  const at = {
    backend: index('be_name'),
    name: index('srv_name'),
    address: index('srv_addr'),
    opState: index('srv_op_state'),
    adminState: index('srv_admin_state'),
    checkHealth: index('srv_check_health'),
    checkState: index('srv_check_state'),
  };
  const parse = (line: string): ServerStateRow => {
    const fields = line.split(/\s+/);
    const int = (i: number, column: string) => {
      const n = Number(fields[i]);
      if (!Number.isInteger(n)) throw new Error(`'show servers state': ${column} is '${fields[i] ?? ''}' in line '${line}'`);
      return n;
    };
    const checkState = int(at.checkState, 'srv_check_state');
    return {
      backend: fields[at.backend] ?? '',
      name: fields[at.name] ?? '',
      address: fields[at.address] ?? '',
      opState: int(at.opState, 'srv_op_state'),
      adminState: int(at.adminState, 'srv_admin_state'),
      checked: (checkState & (CHECK_CONFIGURED | CHECK_ENABLED)) === (CHECK_CONFIGURED | CHECK_ENABLED),
      checkHealth: int(at.checkHealth, 'srv_check_health'),
      checkInProgress: (checkState & CHECK_IN_PROGRESS) !== 0,
    };
  };
  return cache ? cache.rowsOf(lines[1], lines.slice(2), parse) : everyLine(lines.slice(2), parse);
}

export interface ServerStatRow {
  backend: string;
  name: string;
  /** Sessions currently on the server (`scur`). */
  sessions: number;
  /** Requests queued for the server (`qcur`), e.g. waiting for a `maxconn` slot. */
  queued: number;
  /** HAProxy's status: UP, DOWN, MAINT, DRAIN, NOLB, 'UP 1/2' (going down), 'DOWN 1/3' (going up), 'no check'. */
  status: string;
  /** Result of the last health check (L7OK, L4CON, ...), empty without checks; '* L7OK' while a check runs. */
  checkStatus: string;
  /** The HTTP status the last check got (`check_code`), empty when there was none. */
  checkCode: string;
  /** The server's `rise` and `fall` (`check_rise`, `check_fall`), where HAProxy reports them (checked servers, 1.9 and later). */
  rise?: number;
  fall?: number;
  /** Cumulative request and error counters, for canary analysis. */
  counters: ServerCounters;
}

const RESPONSE_CLASSES = ['hrsp_1xx', 'hrsp_2xx', 'hrsp_3xx', 'hrsp_4xx', 'hrsp_5xx', 'hrsp_other'] as const;

/**
 * Parses `show stat` CSV (the `# pxname,svname,...` header names the columns). Only server rows
 * are returned; FRONTEND and BACKEND aggregate rows are skipped. No field HAProxy puts there
 * contains a comma, so a plain split is exact.
 */
export function parseStatCsv(text: string, cache?: RowCache<ServerStatRow>): ServerStatRow[] {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const header = lines[0];
  if (!header?.startsWith('# pxname,')) throw new Error(`unexpected answer to 'show stat': ${firstLine(text)}`);
  const columns = header.slice(2).split(',');
  const index = (name: string) => {
    const i = columns.indexOf(name);
    if (i < 0) throw new Error(`'show stat' has no column ${name}`);
    return i;
  };
  const at = { backend: index('pxname'), name: index('svname'), scur: index('scur'), qcur: index('qcur'), status: index('status'), checkStatus: index('check_status') };
  // Counter columns are read where present: a missing one counts 0 rather than refusing the drain and health views.
  const optional = (name: string) => columns.indexOf(name);
  const checkAt = { code: optional('check_code'), rise: optional('check_rise'), fall: optional('check_fall') };
  const counterAt = {
    reqTot: optional('req_tot'),
    hrsp: RESPONSE_CLASSES.map(optional),
    http5xx: optional('hrsp_5xx'),
    eresp: optional('eresp'),
    econ: optional('econ'),
    wretr: optional('wretr'),
    srvAbrt: optional('srv_abrt'),
  };
  const parse = (line: string): ServerStatRow | undefined => {
    const fields = line.split(',');
    const name = fields[at.name] ?? '';
    if (name === 'FRONTEND' || name === 'BACKEND') return undefined;
    const count = (i: number, column: string) => {
      const n = Number(fields[i] || '0');
      if (!Number.isInteger(n) || n < 0) throw new Error(`'show stat': ${column} is '${fields[i] ?? ''}' for server ${name}`);
      return n;
    };
    return {
      backend: fields[at.backend] ?? '',
      name,
      sessions: count(at.scur, 'scur'),
      queued: count(at.qcur, 'qcur'),
      status: fields[at.status] ?? '',
      checkStatus: fields[at.checkStatus] ?? '',
      checkCode: checkAt.code >= 0 ? (fields[checkAt.code] ?? '') : '',
      ...setting('rise', checkAt.rise >= 0 ? fields[checkAt.rise] : undefined),
      ...setting('fall', checkAt.fall >= 0 ? fields[checkAt.fall] : undefined),
      counters: {
        requests: counterAt.reqTot >= 0 ? count(counterAt.reqTot, 'req_tot') : counterAt.hrsp.reduce((sum, i) => sum + (i >= 0 ? count(i, 'hrsp') : 0), 0),
        http5xx: counterAt.http5xx >= 0 ? count(counterAt.http5xx, 'hrsp_5xx') : 0,
        eresp: counterAt.eresp >= 0 ? count(counterAt.eresp, 'eresp') : 0,
        econ: counterAt.econ >= 0 ? count(counterAt.econ, 'econ') : 0,
        wretr: counterAt.wretr >= 0 ? count(counterAt.wretr, 'wretr') : 0,
        srvAbrt: counterAt.srvAbrt >= 0 ? count(counterAt.srvAbrt, 'srv_abrt') : 0,
      },
    };
  };
  return cache ? cache.rowsOf(header, lines.slice(1), parse) : everyLine(lines.slice(1), parse);
}

/** `{ [key]: n }` for a positive integer field, `{}` for an empty or missing one. */
function setting(key: 'rise' | 'fall', field: string | undefined): { rise?: number; fall?: number } {
  const n = Number(field);
  return field && Number.isInteger(n) && n > 0 ? { [key]: n } : {};
}

function firstLine(text: string): string {
  const line = text.trim().split('\n')[0] ?? '';
  return line === '' ? '(empty answer)' : line.slice(0, 200);
}

/**
 * Connections one client keeps open to its node at a time. HAProxy's stats socket accepts 10 at
 * once (`stats maxconn`, default 10) and leaves the rest to the kernel's backlog; measured on
 * HAProxy 2.6, about 20 connections opened together are answered at once, and each one past that
 * waits a whole second for its SYN to be sent again. A batch of 16 hosts, each polling its own
 * server with two reads, went past it: 1 s of every drain. A few at a time costs a few
 * milliseconds of queueing at most, and leaves room for the other tools that use the socket.
 */
const MAX_CONNECTIONS = 4;

type Parsed<T> = { command: string; parser: (text: string) => T };

/** A read in flight, and the one queued behind it that callers arriving now share. */
interface SharedRead {
  running?: Promise<unknown>;
  queued?: Promise<unknown>;
}

export interface RuntimeApiClientOptions {
  /** Whole exchange: connect, send, read the answer. Default 5000 ms. */
  timeoutMs?: number;
  /** Required for ssh:// endpoints. */
  connectSsh?: SshConnector;
}

/** One HAProxy node's runtime API. Errors are LoadBalancerErrors naming the node and the command. */
export class RuntimeApiClient {
  readonly name: string;
  private readonly timeoutMs: number;
  private ssh?: Promise<SshClient>;
  private readonly connections = pLimit(MAX_CONNECTIONS);
  private readonly reads = new Map<string, SharedRead>();
  private readonly stateRows = new RowCache<ServerStateRow>();
  private readonly statRows = new RowCache<ServerStatRow>();

  constructor(
    readonly endpoint: RuntimeEndpoint,
    private readonly options: RuntimeApiClientOptions = {},
  ) {
    this.name = describeEndpoint(endpoint);
    this.timeoutMs = options.timeoutMs ?? 5000;
    if (endpoint.kind === 'ssh' && !options.connectSsh) {
      throw new LoadBalancerError(`haproxy ${this.name}: an ssh:// runtime API needs SSH settings to connect with`);
    }
  }

  /** Sends one command line and returns HAProxy's raw answer. */
  async run(command: string): Promise<string> {
    if (/[\n\r]/.test(command)) throw new LoadBalancerError(`haproxy ${this.name}: a runtime API command must be one line`);
    // The deadline starts with the exchange: a command queued behind others waits at most their deadlines.
    return this.connections(async () => {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), this.timeoutMs);
      try {
        return await this.exchange(command, controller.signal);
      } catch (error) {
        const reason = controller.signal.aborted ? `no answer within ${this.timeoutMs}ms` : errorText(error);
        throw new LoadBalancerError(`haproxy ${this.name}: '${command}' failed: ${reason}`, { cause: error });
      } finally {
        clearTimeout(timer);
      }
    });
  }

  /**
   * A `show` read, shared by every caller that asks while it is pending. A wide batch waits on
   * 16 or 64 servers at once, each wait polling every pollInterval: asked one by one, that was
   * hundreds of connections a second and the same CSV of every server parsed by each. A caller is
   * never given a reading that began before it asked (it may have just sent a command whose effect
   * it looks for): it joins the read queued behind the one under way, which starts when that ends.
   */
  private shared<T>({ command, parser }: Parsed<T>): Promise<T> {
    let slot = this.reads.get(command);
    if (!slot) {
      slot = {};
      this.reads.set(command, slot);
    }
    if (slot.queued) return slot.queued as Promise<T>;
    const read = slot;
    const start = (): Promise<T> => {
      const running = this.run(command).then((answer) => this.parse(command, answer, parser));
      read.running = running;
      const done = () => {
        if (read.running === running) read.running = undefined;
      };
      running.then(done, done);
      return running;
    };
    if (!read.running) return start();
    const queued = read.running.then(
      () => undefined,
      () => undefined,
    );
    read.queued = queued.then(() => {
      read.queued = undefined;
      return start();
    });
    return read.queued as Promise<T>;
  }

  /** Runs a command that answers nothing on success (`set ...`); any answer is HAProxy's error. */
  async runSilent(command: string): Promise<void> {
    const answer = (await this.run(command)).trim();
    if (answer !== '') throw new LoadBalancerError(`haproxy ${this.name}: '${command}' was refused: ${firstLine(answer)}`);
  }

  /** Every server's row; shared with other callers (see shared), so not to be changed. */
  async serversState(backend: string): Promise<readonly ServerStateRow[]> {
    assertHaproxyName('backend', backend);
    return this.shared({ command: `show servers state ${backend}`, parser: (text) => parseServersState(text, this.stateRows) });
  }

  /** Every server's row; shared with other callers (see shared), so not to be changed. */
  async serverStats(backend: string): Promise<readonly ServerStatRow[]> {
    assertHaproxyName('backend', backend);
    // Proxy name, type 4 (servers only), every server id.
    return this.shared({ command: `show stat ${backend} 4 -1`, parser: (text) => parseStatCsv(text, this.statRows) });
  }

  /** The privilege level of this socket: 'admin', 'operator' or 'user'. */
  async level(): Promise<string> {
    return (await this.run('show cli level')).trim();
  }

  async close(): Promise<void> {
    const ssh = this.ssh;
    this.ssh = undefined;
    if (!ssh) return;
    try {
      (await ssh).end();
    } catch {
      // The connection never came up; there is nothing to close.
    }
  }

  private parse<T>(command: string, answer: string, parser: (text: string) => T): T {
    try {
      return parser(answer);
    } catch (error) {
      throw new LoadBalancerError(`haproxy ${this.name}: '${command}' was refused: ${errorText(error)}`, { cause: error });
    }
  }

  private async exchange(command: string, signal: AbortSignal): Promise<string> {
    const stream = await this.open(signal);
    return new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let settled = false;
      const finish = (error?: Error) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (error) {
          stream.destroy();
          reject(error);
        } else {
          resolve(Buffer.concat(chunks).toString('utf8'));
        }
      };
      const onAbort = () => finish(new Error('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (error: Error) => finish(error));
      // HAProxy closes the connection after answering a non-interactive command.
      stream.on('end', () => finish());
      stream.on('close', () => finish());
      stream.end(`${command}\n`);
    });
  }

  private open(signal: AbortSignal): Promise<Duplex> {
    const endpoint = this.endpoint;
    if (endpoint.kind === 'ssh') return this.openOverSsh(endpoint, signal);
    return new Promise<Duplex>((resolve, reject) => {
      const socket = endpoint.kind === 'tcp' ? connectNet({ host: endpoint.host, port: endpoint.port }) : connectNet({ path: endpoint.path });
      const onAbort = () => {
        socket.destroy();
        reject(new Error('aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => {
        signal.removeEventListener('abort', onAbort);
        resolve(socket);
      });
      socket.once('error', (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      });
    });
  }

  private async openOverSsh(endpoint: Extract<RuntimeEndpoint, { kind: 'ssh' }>, signal: AbortSignal): Promise<Duplex> {
    const client = await withAbort(this.sshClient(endpoint), signal);
    return withAbort(
      new Promise<Duplex>((resolve, reject) => {
        client.openssh_forwardOutStreamLocal(endpoint.path, (error, channel) => {
          if (error) return reject(error);
          // A channel that opens after the timeout would otherwise stay open on the LB host.
          if (signal.aborted) return channel.destroy();
          resolve(channel);
        });
      }),
      signal,
    );
  }

  /** One SSH connection per node, opened on first use and reused; reopened after it drops. */
  private sshClient(endpoint: Extract<RuntimeEndpoint, { kind: 'ssh' }>): Promise<SshClient> {
    if (this.ssh) return this.ssh;
    const target: SshTarget = { host: endpoint.host };
    if (endpoint.user !== undefined) target.user = endpoint.user;
    if (endpoint.port !== undefined) target.port = endpoint.port;
    const pending = this.options.connectSsh!(target).then((client) => {
      const forget = () => {
        if (this.ssh === pending) this.ssh = undefined;
      };
      client.on('close', forget);
      client.on('error', forget);
      return client;
    });
    pending.catch(() => {
      if (this.ssh === pending) this.ssh = undefined;
    });
    this.ssh = pending;
    return pending;
  }
}

function withAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code && !error.message.includes(code) ? `${code} ${error.message}` : error.message;
  }
  return String(error);
}
