/**
 * The phase of a migration: `expand` (the default) runs before the rollout, while the old code
 * still serves, so it must not break that code; `contract` runs after every instance serves the
 * new release, so it may remove what only the old code used. A file declares contract in its
 * header, the comments before its first statement:
 *
 *   -- ship:phase contract
 *
 * A marker anywhere else is refused rather than ignored: a contract migration read as expand
 * would run while the old code still needs what it drops.
 */
import { ERROR_CODES, type CodedError } from '../errors/codes.js';
import { sqlComments } from '../lint/sql-comments.js';
import type { MigrationPhase } from '../lint/types.js';

export type { MigrationPhase } from '../lint/types.js';

const PHASES: readonly MigrationPhase[] = ['expand', 'contract'];
const MARKER = /\bship:phase\b[ \t]*(\S*)/;
const HOW = 'write "-- ship:phase contract" (applied after every instance serves the new release) or "-- ship:phase expand" (the default, applied before the rollout)';

/** A phase marker ship cannot read: the message names the file and the line. */
export class MigrationPhaseError extends Error implements CodedError {
  override readonly name = 'MigrationPhaseError';

  constructor(
    readonly file: string,
    readonly line: number,
    problem: string,
  ) {
    super(`${file}:${line}: ${problem}`);
  }

  get shipCode() {
    return ERROR_CODES.migrationPhaseInvalid;
  }
}

/** Reads the phase `sql` (the whole file as written, `file` names it in errors) declares. */
export function readMigrationPhase(sql: string, file: string): MigrationPhase {
  if (!sql.includes('ship:phase')) return 'expand';
  let declared: { phase: MigrationPhase; line: number } | undefined;
  for (const comment of sqlComments(sql)) {
    const bodyLines = comment.body.split('\n');
    for (const [index, text] of bodyLines.entries()) {
      const match = MARKER.exec(text);
      if (!match) continue;
      const line = lineAt(sql, comment.start) + index;
      if (!comment.leading) {
        throw new MigrationPhaseError(file, line, `"ship:phase" is read only in the comments before the first statement; move it to the top of the file`);
      }
      const value = match[1] ?? '';
      const phase = PHASES.find((candidate) => candidate === value);
      if (phase === undefined) {
        throw new MigrationPhaseError(file, line, value === '' ? `"ship:phase" names no phase: ${HOW}` : `"ship:phase ${value}" is not a phase: ${HOW}`);
      }
      if (declared && declared.phase !== phase) {
        throw new MigrationPhaseError(file, line, `"ship:phase ${phase}" contradicts "ship:phase ${declared.phase}" on line ${declared.line}; keep one`);
      }
      declared ??= { phase, line };
    }
  }
  return declared?.phase ?? 'expand';
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let at = text.indexOf('\n'); at !== -1 && at < index; at = text.indexOf('\n', at + 1)) line++;
  return line;
}
