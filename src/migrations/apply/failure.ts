/**
 * The words for a migration that failed: the file and line, the server's message and SQLSTATE,
 * the database, and what state the failure left (rolled back, partly committed, marked started).
 */
import { formatDuration } from '../../util/duration.js';
import { redact } from '../../util/redact.js';
import { scrubSecrets } from '../../util/redact-url.js';
import type { VersionTableAdapter } from '../layouts/version-table.js';
import { describeBlocker, type BlockingSession } from './blockers.js';
import { MigrationFailedError, MigrationLockTimeoutError } from './errors.js';
import type { MigrationPlan, RetryUnit, Step } from './plan.js';

/** The fields of a server error the pg driver exposes. */
interface ServerError {
  readonly message: string;
  readonly code?: string;
  readonly detail?: string;
  readonly hint?: string;
  readonly position?: string;
}

export function sqlStateOf(error: unknown): string | undefined {
  const code = (error as ServerError | undefined)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export const LOCK_NOT_AVAILABLE = '55P03';

export interface FailureContext {
  readonly plan: MigrationPlan;
  readonly unit: RetryUnit;
  /** The step that failed; undefined when ship's BEGIN or COMMIT did. */
  readonly step: Step | undefined;
  /** ship's COMMIT failed: without an answer from the server, nobody knows whether it took effect. */
  readonly atCommit: boolean;
  readonly versionTable: VersionTableAdapter;
  readonly databaseUrl: string;
  readonly database: string;
}

/** The file's line the error points at: the server's position inside the statement, else the statement's first line. */
export function lineOf(error: unknown, context: Pick<FailureContext, 'plan' | 'step'>): number | undefined {
  if (context.step?.kind !== 'statement') return undefined;
  const { statement } = context.step;
  const position = Number((error as ServerError | undefined)?.position);
  if (!Number.isInteger(position) || position < 1) return statement.line;
  const byte = statement.offset + Buffer.byteLength(statement.text.slice(0, position - 1), 'utf8');
  return Math.max(statement.line, context.plan.source.lineOf(byte));
}

export function statementFailure(error: unknown, context: FailureContext): MigrationFailedError {
  const file = context.plan.migration.path;
  const line = lineOf(error, context);
  const sqlState = sqlStateOf(error);
  const server = error as ServerError;
  const said = sqlState
    ? `${server.message} (SQLSTATE ${sqlState})${server.detail ? `; detail: ${server.detail}` : ''}${server.hint ? `; hint: ${server.hint}` : ''}`
    : `lost the connection: ${(error as Error).message}`;
  const outcomeUnknown = context.atCommit && sqlState === undefined;
  const message = `${where(file, line)}: ${doing(context)}${said} on primary ${context.database}; ${outcomeUnknown ? commitUnknown(context) : leftState(context)}`;
  return new MigrationFailedError(clean(message, context.databaseUrl), { file, ...(line === undefined ? {} : { line }), ...(sqlState ? { sqlState } : {}) });
}

export interface LockTimeoutFacts {
  readonly attempts: number;
  readonly lockTimeoutMs: number;
  readonly blockers: readonly BlockingSession[];
  /** Why no blocker could be looked up, when none was seen. */
  readonly watchFailure: string | undefined;
  /** Invalid indexes a cancelled CREATE INDEX CONCURRENTLY left that could not be dropped. */
  readonly leftoverIndexes: readonly string[];
}

export function lockTimeoutFailure(error: unknown, context: FailureContext, facts: LockTimeoutFacts): MigrationLockTimeoutError {
  const file = context.plan.migration.path;
  const line = lineOf(error, context);
  const blocked = facts.blockers.length
    ? `blocked by ${facts.blockers.map(describeBlocker).join('; ')}`
    : `no blocking session was seen${facts.watchFailure ? ` (looking failed: ${facts.watchFailure})` : ''}`;
  const leftovers = facts.leftoverIndexes.length
    ? `; the cancelled CREATE INDEX CONCURRENTLY left the invalid index ${facts.leftoverIndexes.join(', ')}: drop it with DROP INDEX CONCURRENTLY before applying again`
    : '';
  const message =
    `${where(file, line)}: ${doing(context)}waited longer than lock_timeout (${formatDuration(facts.lockTimeoutMs)}) for a lock in each of ${facts.attempts} attempt(s) ` +
    `on primary ${context.database}, ${blocked}; ${leftState(context)}${leftovers}`;
  return new MigrationLockTimeoutError(clean(message, context.databaseUrl), { file, ...(line === undefined ? {} : { line }), sqlState: LOCK_NOT_AVAILABLE }, facts.blockers);
}

function where(file: string, line: number | undefined): string {
  return line === undefined ? file : `${file}:${line}`;
}

function doing(context: FailureContext): string {
  const table = `${context.versionTable.table} (${context.versionTable.tool})`;
  if (context.step?.kind === 'record') return `recording it in ${table} failed: `;
  if (context.step?.kind === 'mark-started') return `marking it started in ${table} failed: `;
  return '';
}

/** What of the file is applied now, and what the version table says. */
function leftState(context: FailureContext): string {
  const { plan, unit, versionTable } = context;
  const table = versionTable.table;
  const marked = plan.units.some((candidate) => candidate !== unit && candidate.steps.some((step) => step.kind === 'mark-started'))
    ? `; ${table} keeps the mark ${versionTable.tool} leaves after a failed run: repair it as you would after a failed ${versionTable.tool} run`
    : '';
  const later = 'no later migration was applied';
  if (plan.outsideTransaction === undefined) return `its transaction was rolled back: nothing of it is applied, it is not recorded in ${table}${marked}; ${later}`;
  const firstWork = plan.units.find((candidate) => candidate.steps.some((step) => step.kind === 'statement'));
  const applied = unit === firstWork ? 'nothing of it is applied' : 'the statements before this one stay applied';
  return `it runs outside a transaction (${plan.outsideTransaction}), so ${applied}; it is not recorded in ${table}${marked}; ${later}`;
}

function commitUnknown(context: FailureContext): string {
  return `whether its COMMIT took effect is unknown: read ${context.versionTable.table} on the primary before applying again; no later migration was applied`;
}

function clean(text: string, databaseUrl: string): string {
  return redact(scrubSecrets(text, databaseUrl));
}
