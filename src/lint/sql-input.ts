/**
 * What SQL text the lint hands to PostgreSQL's parser, checked once per file before parsing (never
 * per statement): a size the WebAssembly parser survives, and no NUL byte (C reads the text up to
 * the first one, so the rest of the file would go unchecked while the lint reports it clean).
 */
import { ERROR_CODES, type CodedError } from '../errors/codes.js';
import type { MigrationSource } from './types.js';

/**
 * The largest migration file the lint parses: 2 MiB. The parser runs in WebAssembly with at most
 * 1 GiB of memory, and a file that needs more ends it with a FATAL error. Measured through
 * `ship lint-migrations` (libpg-query 18.1.5, Node 20, x86-64): the densest SQL found,
 * `SELECT a,a,a,...`, parses at 4 MiB and dies at 5; `SELECT 1;` repeated parses at 8 and dies at
 * 16; ordinary schema changes parse at 16. 2 MiB leaves twice the margin on the worst case, and
 * holds more than 25,000 ordinary statements (bench/lint-throughput.ts makes 10,000 in 0.8 MB).
 */
export const MAX_SQL_FILE_BYTES = 2 * 1024 * 1024;

/** A migration the lint cannot check as given (too large, a NUL byte, not a regular file, the parser gave out): exit 2, not a finding. */
export class SqlInputError extends Error implements CodedError {
  override readonly name = 'SqlInputError';

  get shipCode() {
    return ERROR_CODES.migrationInputUnreadable;
  }
}

export function tooLargeProblem(bytes: number): string {
  return `is ${bytes} bytes (${mebibytes(bytes)}), over the ${mebibytes(MAX_SQL_FILE_BYTES)} a migration file may have for PostgreSQL's parser to check it safely; split it into smaller migrations`;
}

/** Why `sql` cannot be parsed as it stands, or undefined. */
export function sqlTextProblem(sql: string): string | undefined {
  // UTF-8 needs at most 3 bytes per UTF-16 unit, so the length alone usually decides.
  if (sql.length > MAX_SQL_FILE_BYTES || (sql.length * 3 > MAX_SQL_FILE_BYTES && Buffer.byteLength(sql) > MAX_SQL_FILE_BYTES)) {
    return tooLargeProblem(Buffer.byteLength(sql));
  }
  const nul = sql.indexOf('\0');
  if (nul < 0) return undefined;
  const before = sql.slice(0, nul);
  const line = before.split('\n').length;
  return `contains a NUL byte at byte offset ${Buffer.byteLength(before)} (line ${line}): PostgreSQL's parser stops reading there, so the rest would go unchecked; remove it (a file saved as UTF-16 is full of them: save it as UTF-8)`;
}

/** Why `source` cannot be linted: what reading it found (see read-sql-file.ts), else what its text shows. */
export function sourceProblem(source: MigrationSource): string | undefined {
  return source.problem ?? sqlTextProblem(source.sql);
}

/** Refuses, naming every one of them, when any of `sources` cannot be linted. */
export function assertLintable(sources: readonly MigrationSource[]): void {
  const problems: string[] = [];
  for (const source of sources) {
    const problem = sourceProblem(source);
    if (problem !== undefined) problems.push(`${source.path} ${problem}`);
  }
  if (problems.length === 1) throw new SqlInputError(problems[0]);
  if (problems.length > 1) throw new SqlInputError(`${problems.length} migration files cannot be checked:\n${problems.join('\n')}`);
}

function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(bytes % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
}
