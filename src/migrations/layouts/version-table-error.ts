import { ERROR_CODES, type CodedError } from '../../errors/codes.js';

/** ship cannot record migrations in the version table: unknown layout, unknown shape, only a versionQuery, a bad table name. */
export class VersionTableError extends Error implements CodedError {
  override readonly name = 'VersionTableError';

  get shipCode() {
    return ERROR_CODES.versionTableUnusable;
  }
}
