/**
 * One host's ssh2 connection: dialed on first use through the jump hosts the plan names (what
 * ProxyJump does), each hop's host key checked against known_hosts, kept alive, reused by every
 * command and upload, and re-dialed on next use after it drops (a reboot, a network blip).
 */
import type { Client, ClientChannel, ConnectConfig, SFTPWrapper } from 'ssh2';
import { planConnection, type ConnectPlan, type Hop, type SshTransportOptions } from './connect-options.js';
import { knownHostsName, readKnownHosts } from './known-hosts.js';
import { preferredHostKeyAlgorithms, verifyHostKey } from './ssh-host-keys.js';
import { TransportError } from './transport.js';

const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;
const DEFAULT_KEEPALIVE_INTERVAL_MS = 15_000;
const KEEPALIVE_COUNT_MAX = 3;

/** ssh2 has no public "is closed" flag; ending an already closed client would wait for nothing. */
const closedClients = new WeakSet<Client>();

export interface Connection {
  client: Client;
  /** Jump host connections, in dialing order; closed with the target. */
  hops: Client[];
  /** The SFTP session, opened on the first upload and reused. */
  sftp?: Promise<SFTPWrapper>;
}

export class SshConnection {
  private plan?: Promise<ConnectPlan>;
  private current?: Promise<Connection>;
  private closed = false;

  constructor(private readonly options: SshTransportOptions) {}

  /** The open connection, dialing it if there is none. */
  get(): Promise<Connection> {
    if (this.closed) return Promise.reject(new TransportError(this.options.host, 'transport is closed', 'closed'));
    // A connection that dropped is re-dialed on next use, host key checked again.
    this.current ??= this.open().catch((error: unknown) => {
      this.current = undefined;
      throw error;
    });
    return this.current;
  }

  /**
   * The connection to use after `dropped` closed under a running command. The client reports its
   * own close right after its channels', so that is waited for before deciding to re-dial.
   */
  async afterDrop(dropped: Connection): Promise<Connection> {
    await new Promise((resolve) => setImmediate(resolve));
    if (closedClients.has(dropped.client) && this.current && (await this.current.catch(() => undefined)) === dropped) this.current = undefined;
    return this.get();
  }

  async close(): Promise<void> {
    this.closed = true;
    const pending = this.current;
    this.current = undefined;
    const connection = await pending?.catch(() => undefined);
    if (connection) await endConnection(connection);
  }

  private async open(): Promise<Connection> {
    this.plan ??= planConnection(this.options).catch((error: unknown) => {
      this.plan = undefined;
      throw error;
    });
    const plan = await this.plan;
    const hops: Client[] = [];
    try {
      let previous: { client: Client; hop: Hop } | undefined;
      for (const hop of plan.jumps) {
        const client = await this.dial(hop, previous);
        hops.push(client);
        previous = { client, hop };
      }
      const client = await this.dial(plan.target, previous);
      const connection: Connection = { client, hops };
      client.on('close', () => {
        for (const hop of hops) hop.end();
        if (this.current) {
          void this.current.then(
            (open) => {
              if (open === connection) this.current = undefined;
            },
            () => undefined,
          );
        }
      });
      return connection;
    } catch (error) {
      for (const hop of hops) hop.end();
      throw error;
    }
  }

  private async dial(hop: Hop, via: { client: Client; hop: Hop } | undefined): Promise<Client> {
    const sock = via ? await forward(via, hop) : undefined;
    const entries = await readKnownHosts(this.options.knownHostsPath);
    const name = knownHostsName(hop.address, hop.port);
    // ssh2 is loaded with the first connection, not with the command: a plan or a config error never needs it.
    const { default: ssh2 } = await import('ssh2');
    const client = new ssh2.Client();
    client.once('close', () => closedClients.add(client));
    let refusal: TransportError | undefined;
    const timeoutMs = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const config: ConnectConfig = {
      host: hop.address,
      port: hop.port,
      username: hop.user,
      readyTimeout: timeoutMs,
      keepaliveInterval: this.options.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_INTERVAL_MS,
      keepaliveCountMax: KEEPALIVE_COUNT_MAX,
      // Ask for a key type we have on record, so a host with several keys is not reported as unknown.
      algorithms: { serverHostKey: preferredHostKeyAlgorithms(entries, name) as never },
      hostVerifier: (key: Buffer, verify: (valid: boolean) => void) => {
        verifyHostKey(hop.label, name, key, entries, this.options).then(
          () => verify(true),
          (error: unknown) => {
            refusal =
              error instanceof TransportError
                ? error
                : new TransportError(hop.label, `cannot check the host key of ${name} against ${this.options.knownHostsPath}: ${(error as Error).message}`, 'host-key', {
                    cause: error,
                  });
            verify(false);
          },
        );
      },
      ...(sock ? { sock } : {}),
      ...(hop.credentials.privateKey ? { privateKey: hop.credentials.privateKey } : {}),
      ...(hop.credentials.passphrase !== undefined ? { passphrase: hop.credentials.passphrase } : {}),
      ...(hop.credentials.agent ? { agent: hop.credentials.agent } : {}),
    };
    return new Promise<Client>((resolve, reject) => {
      let settled = false;
      const settle = (error?: TransportError) => {
        if (settled) return;
        settled = true;
        if (error) {
          client.destroy();
          reject(error);
        } else {
          resolve(client);
        }
      };
      client.once('ready', () => settle());
      // ssh2 emits 'error' on a live connection too (keepalive timeout); without a listener it would throw.
      client.on('error', (error: Error & { level?: string }) => settle(refusal ?? connectError(hop, error, timeoutMs)));
      client.once('close', () => settle(refusal ?? new TransportError(hop.label, `${hop.address}:${hop.port} closed the connection during the SSH handshake`, 'connect')));
      client.connect(config);
      // Commands are small request/response exchanges; Nagle's algorithm would delay them.
      client.setNoDelay(true);
    });
  }
}

function connectError(hop: Hop, error: Error & { level?: string }, timeoutMs: number): TransportError {
  const where = `${hop.user}@${hop.address}:${hop.port}`;
  if (error.level === 'client-authentication') {
    const tried = [hop.credentials.privateKeyPath && `key ${hop.credentials.privateKeyPath}`, hop.credentials.agent && 'ssh-agent'].filter(Boolean).join(' and ');
    return new TransportError(
      hop.label,
      `authentication to ${where} failed (tried ${tried || 'nothing'}); check that the public key is in the host's authorized_keys for ${hop.user}`,
      'auth',
      { cause: error },
    );
  }
  if (error.level === 'client-timeout') {
    return new TransportError(hop.label, `no SSH handshake with ${where} within ${timeoutMs}ms`, 'connect', { cause: error });
  }
  return new TransportError(hop.label, `cannot connect to ${where}: ${error.message}`, 'connect', { cause: error });
}

/** A TCP stream to the next hop, opened by the previous hop. */
function forward(via: { client: Client; hop: Hop }, hop: Hop): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    via.client.forwardOut('127.0.0.1', 0, hop.address, hop.port, (error, stream) => {
      if (error) {
        reject(
          new TransportError(hop.label, `jump host ${via.hop.address}:${via.hop.port} could not reach ${hop.address}:${hop.port}: ${error.message}`, 'connect', { cause: error }),
        );
      } else {
        resolve(stream);
      }
    });
  });
}

async function endConnection(connection: Connection): Promise<void> {
  const clients = [connection.client, ...[...connection.hops].reverse()].filter((client) => !closedClients.has(client));
  await Promise.all(
    clients.map(
      (client) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            client.destroy();
            resolve();
          }, 2000);
          client.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          client.end();
        }),
    ),
  );
}
