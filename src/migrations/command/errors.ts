import { ERROR_CODES, type CodedError } from '../../errors/codes.js';

/** The team's migration command failed, timed out or was stopped; the message ends with its last lines of output, scrubbed. */
export class MigrationCommandError extends Error implements CodedError {
  override readonly name = 'MigrationCommandError';
  readonly exitCode: number | undefined;

  constructor(message: string, facts: { readonly exitCode?: number }) {
    super(message);
    this.exitCode = facts.exitCode;
  }

  get shipCode() {
    return ERROR_CODES.migrationCommandFailed;
  }
}
