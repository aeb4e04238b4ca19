import { ERROR_CODES, type CodedError, type ErrorCode } from '../errors/codes.js';
import type { ShellCommand } from '../shell/sh.js';

export interface ExecOptions {
  /** Kill the command on the host and fail when it runs longer than this. */
  timeoutMs?: number;
  /** Run through `sudo -n` (the transport's configured sudo user, or root). */
  sudo?: boolean;
  /** Called with each chunk of output as it arrives, for streaming with the host as prefix. */
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
  /** Aborting kills the command on the host. */
  signal?: AbortSignal;
  /**
   * Written to the command's standard input, which is then closed: the way a secret (a registry
   * password, an env file) reaches a host without ever being on a command line, where `ps` shows it.
   * Without it the command's stdin is left as the transport opens it (empty for a local command).
   */
  stdin?: string;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface UploadResult {
  bytes: number;
  sha256: string;
}

/** One host's command channel. Implementations keep one connection open and reuse it. */
export interface Transport {
  readonly host: string;
  connect(): Promise<void>;
  exec(command: ShellCommand, options?: ExecOptions): Promise<ExecResult>;
  /** Copies a local file and verifies size and sha256 on the host before resolving. */
  upload(localPath: string, remotePath: string, options?: { signal?: AbortSignal; mode?: number }): Promise<UploadResult>;
  close(): Promise<void>;
}

export type TransportFailureKind = 'connect' | 'host-key' | 'timeout' | 'exec' | 'upload' | 'closed' | 'auth';

const TRANSPORT_CODES: Record<TransportFailureKind, ErrorCode> = {
  connect: ERROR_CODES.hostUnreachable,
  'host-key': ERROR_CODES.hostKeyRejected,
  auth: ERROR_CODES.sshAuthFailed,
  timeout: ERROR_CODES.commandTimeout,
  exec: ERROR_CODES.connectionLost,
  upload: ERROR_CODES.connectionLost,
  closed: ERROR_CODES.connectionLost,
};

export class TransportError extends Error implements CodedError {
  constructor(
    readonly host: string,
    message: string,
    readonly kind: TransportFailureKind,
    options?: { cause?: unknown },
  ) {
    super(`${host}: ${message}`, options);
    this.name = 'TransportError';
  }

  get shipCode(): ErrorCode {
    return TRANSPORT_CODES[this.kind] ?? ERROR_CODES.connectionLost;
  }
}
