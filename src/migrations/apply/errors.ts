import { ERROR_CODES, type CodedError, type ErrorCode } from '../../errors/codes.js';
import type { BlockingSession } from './blockers.js';

/** Where in the migrations a failure happened, for the callers that report or journal it. */
export interface FailurePlace {
  readonly file?: string;
  readonly line?: number;
  /** The server's SQLSTATE, when the server refused a statement. */
  readonly sqlState?: string;
}

/**
 * A migration could not be applied: it does not parse, the server refused a statement, the
 * primary could not be reached. The message names the file, the line, the server's words and the
 * database (host:port/db), never a password. The driver's error is not attached: its fields are
 * not vetted for secrets.
 */
export class MigrationFailedError extends Error implements CodedError {
  override readonly name: string = 'MigrationFailedError';

  constructor(
    message: string,
    readonly place: FailurePlace = {},
  ) {
    super(message);
  }

  get shipCode(): ErrorCode {
    return ERROR_CODES.migrationFailed;
  }
}

/** Every attempt waited longer than lock_timeout for a lock: names who held it. */
export class MigrationLockTimeoutError extends MigrationFailedError {
  override readonly name = 'MigrationLockTimeoutError';

  constructor(
    message: string,
    place: FailurePlace,
    readonly blockers: readonly BlockingSession[],
  ) {
    super(message, place);
  }

  override get shipCode(): ErrorCode {
    return ERROR_CODES.migrationLockTimeout;
  }
}

/** The run was interrupted between two files or two attempts; what was applied stays applied and recorded. */
export class MigrationAbortedError extends Error implements CodedError {
  override readonly name = 'MigrationAbortedError';

  constructor(
    message: string,
    /** Paths of the files applied and recorded before the interruption. */
    readonly applied: readonly string[],
  ) {
    super(message);
  }

  get shipCode() {
    return ERROR_CODES.interrupted;
  }
}
