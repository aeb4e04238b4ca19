/**
 * Transport over one ssh2 connection per host, opened once (through jump hosts when configured)
 * and reused for every command and upload, with the host key checked against known_hosts. It
 * composes the connection (ssh-connect.ts), commands and their killing (ssh-exec.ts) and SFTP
 * uploads (ssh-upload.ts), and bounds how many commands share the connection at once.
 */
import pLimit from 'p-limit';
import type { Client } from 'ssh2';
import type { ShellCommand } from '../shell/sh.js';
import type { SshTransportOptions } from './connect-options.js';
import { SshConnection } from './ssh-connect.js';
import { execOverSsh } from './ssh-exec.js';
import { uploadOverSsh, type UploadOptions } from './ssh-upload.js';
import { TransportError, type ExecOptions, type ExecResult, type Transport, type UploadResult } from './transport.js';

export type { SshTransportOptions } from './connect-options.js';

/**
 * OpenSSH allows 10 sessions per connection (MaxSessions). One is the SFTP session and one is kept
 * free for kill channels, so a timeout can always be enforced.
 */
const MAX_CONCURRENT_COMMANDS = 8;

export class SshTransport implements Transport {
  readonly host: string;
  private readonly connections: SshConnection;
  private readonly limit = pLimit(MAX_CONCURRENT_COMMANDS);

  constructor(private readonly options: SshTransportOptions) {
    this.host = options.host;
    this.connections = new SshConnection(options);
  }

  async connect(): Promise<void> {
    await this.connections.get();
  }

  exec(command: ShellCommand, options: ExecOptions = {}): Promise<ExecResult> {
    return this.limit(async () => {
      const connection = await this.connections.get();
      // Checked after waiting for a free session, so a command aborted while queued never starts.
      if (options.signal?.aborted) {
        throw new TransportError(this.host, 'command aborted before it started', 'exec', { cause: options.signal.reason });
      }
      const { sudoUser, commandTimeoutMs } = this.options;
      return execOverSsh(connection, command, options, { host: this.host, sudoUser, commandTimeoutMs, connections: this.connections });
    });
  }

  upload(localPath: string, remotePath: string, options: UploadOptions = {}): Promise<UploadResult> {
    const target = { host: this.host, connection: () => this.connections.get(), exec: this.exec.bind(this) };
    return uploadOverSsh(target, localPath, remotePath, options);
  }

  /**
   * The live ssh2 connection (dialed on first use, re-dialed after a drop), for forwarding that the
   * Transport interface does not cover, such as reaching HAProxy's unix socket on the host.
   * End it with close(), not directly.
   */
  async client(): Promise<Client> {
    return (await this.connections.get()).client;
  }

  close(): Promise<void> {
    return this.connections.close();
  }
}
