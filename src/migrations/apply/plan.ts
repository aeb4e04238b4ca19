/**
 * How one migration file runs: its statements, cut by PostgreSQL's own parser (the lint's), and
 * grouped into the units that are retried whole after a lock timeout. A file runs in one
 * transaction of ship's unless it cannot: the layout says so (dbmate `transaction:false`), it
 * holds a statement PostgreSQL refuses in a transaction block, or it opens and ends its own
 * transactions. Then each statement is its own unit, and each BEGIN ... COMMIT of the file too.
 */
import type { RangeVar, RawStmt } from 'libpg-query';
import { loadParser, parseSqlToJson, SqlParserFailure, SqlSyntaxError } from '../../lint/parser.js';
import { SourceMap } from '../../lint/source-map.js';
import type { MigrationFile } from '../migration-file.js';
import type { TableName } from '../layouts/table-name.js';
import { MigrationFailedError } from './errors.js';
import { refusesTransactionBlock } from './transaction-block.js';

export interface PlannedStatement {
  /** The statement as the file has it, sent to the server as is. */
  readonly text: string;
  /** Byte offset of `text` in the file: a server error's position in it lands on the file's line. */
  readonly offset: number;
  /** 1-based line of the statement's first word. */
  readonly line: number;
  /** The parse tree's node type: 'AlterTableStmt', 'IndexStmt', ... */
  readonly type: string;
  /** A CREATE INDEX CONCURRENTLY: a cancelled attempt leaves an INVALID index to drop before trying again. */
  readonly concurrentIndex?: ConcurrentIndex;
}

export interface ConcurrentIndex {
  readonly table: TableName;
  /** Absent when the statement lets PostgreSQL name the index. */
  readonly name?: string;
}

export type Step = { readonly kind: 'statement'; readonly statement: PlannedStatement } | { readonly kind: 'mark-started' } | { readonly kind: 'record' };

/** Run, and after a lock timeout retried, as a whole. */
export interface RetryUnit {
  /** 'ship': ship wraps the unit in BEGIN ... COMMIT; 'file': the file's own BEGIN ... COMMIT; 'none': one statement, committed on its own. */
  readonly transaction: 'ship' | 'file' | 'none';
  readonly steps: readonly Step[];
}

export interface MigrationPlan {
  readonly migration: MigrationFile;
  /** Why the file does not run in one transaction of ship's: `CREATE INDEX CONCURRENTLY at line 4`; undefined when it does. */
  readonly outsideTransaction?: string;
  readonly units: readonly RetryUnit[];
  readonly source: SourceMap;
}

export interface PlanOptions {
  /** server_version_num of the primary. */
  readonly serverVersionNum: number;
  /** The version table marks a file started before its SQL runs (golang-migrate's dirty flag). */
  readonly marksStart: boolean;
}

interface ParsedStatement extends PlannedStatement {
  readonly node: Record<string, unknown>;
}

const OPENS = new Set(['TRANS_STMT_BEGIN', 'TRANS_STMT_START']);
const ENDS = new Set(['TRANS_STMT_COMMIT', 'TRANS_STMT_ROLLBACK', 'TRANS_STMT_PREPARE']);
/** Transaction control that makes the file manage its own transactions (savepoints work inside ship's). */
const OWN_CONTROL = new Set([...OPENS, ...ENDS, 'TRANS_STMT_COMMIT_PREPARED', 'TRANS_STMT_ROLLBACK_PREPARED']);

export async function planMigration(migration: MigrationFile, options: PlanOptions): Promise<MigrationPlan> {
  if (migration.problem !== undefined) throw new MigrationFailedError(`${migration.path}: cannot be applied: it ${migration.problem}`, { file: migration.path });
  // A byte-order mark is no SQL (the parser stops at it); the tools drop it too. Lines stay the file's.
  const sql = migration.sql.charCodeAt(0) === 0xfeff ? migration.sql.slice(1) : migration.sql;
  const source = new SourceMap(sql);
  const statements = await parseStatements(migration.path, sql, source);
  const outsideTransaction = whyOutsideTransaction(migration, statements, options.serverVersionNum);
  const mark: RetryUnit[] = options.marksStart ? [{ transaction: 'ship', steps: [{ kind: 'mark-started' }] }] : [];
  const record: Step = { kind: 'record' };
  if (outsideTransaction === undefined) {
    const steps: Step[] = [...statements.map((statement): Step => ({ kind: 'statement', statement })), record];
    return { migration, source, units: [...mark, { transaction: 'ship', steps }] };
  }
  return { migration, source, outsideTransaction, units: [...mark, ...unitsOutsideTransaction(migration, statements), { transaction: 'ship', steps: [record] }] };
}

async function parseStatements(path: string, sql: string, source: SourceMap): Promise<ParsedStatement[]> {
  let tree: { stmts?: RawStmt[] };
  try {
    tree = JSON.parse(parseSqlToJson(await loadParser(), sql)) as { stmts?: RawStmt[] };
  } catch (error) {
    if (error instanceof SqlSyntaxError) {
      const { line, column } = source.position(source.byteOffsetOfCharacter(error.characterOffset));
      throw new MigrationFailedError(`${path}:${line}:${column}: does not parse: ${error.message}; nothing was applied`, { file: path, line });
    }
    if (error instanceof SqlParserFailure) throw new MigrationFailedError(`${path}: ${error.message}; nothing was applied`, { file: path });
    throw error;
  }
  const bytes = Buffer.from(sql, 'utf8');
  return (tree.stmts ?? []).map((raw) => {
    const offset = raw.stmt_location ?? 0;
    const end = raw.stmt_len ? offset + raw.stmt_len : bytes.length;
    const text = bytes.toString('utf8', offset, end);
    const type = Object.keys(raw.stmt ?? {})[0] ?? 'unknown';
    const node = ((raw.stmt as Record<string, unknown> | undefined)?.[type] ?? {}) as Record<string, unknown>;
    const leading = /^(?:\s|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*/.exec(text)?.[0] ?? '';
    const line = source.lineOf(offset + Buffer.byteLength(leading, 'utf8'));
    const concurrentIndex = type === 'IndexStmt' && node.concurrent === true ? indexOf(node) : undefined;
    return { text, offset, line, type, node, ...(concurrentIndex ? { concurrentIndex } : {}) };
  });
}

function indexOf(node: Record<string, unknown>): ConcurrentIndex | undefined {
  const relation = node.relation as RangeVar | undefined;
  if (relation?.relname === undefined) return undefined;
  const table: TableName = relation.schemaname === undefined ? { name: relation.relname } : { schema: relation.schemaname, name: relation.relname };
  return typeof node.idxname === 'string' ? { table, name: node.idxname } : { table };
}

function transactionKind(statement: ParsedStatement): string | undefined {
  return statement.type === 'TransactionStmt' ? (statement.node.kind as string | undefined) : undefined;
}

function whyOutsideTransaction(migration: MigrationFile, statements: readonly ParsedStatement[], serverVersionNum: number): string | undefined {
  if (migration.transaction === false) return 'its layout says so (transaction:false)';
  for (const statement of statements) {
    const kind = transactionKind(statement);
    if (kind !== undefined && OWN_CONTROL.has(kind)) return `it manages its own transactions (line ${statement.line})`;
    const refusal = refusesTransactionBlock(statement.type, statement.node, serverVersionNum);
    if (refusal !== undefined) return `${refusal} at line ${statement.line} cannot run inside a transaction block`;
  }
  return undefined;
}

/** Each statement alone, except the file's own BEGIN ... COMMIT blocks, which are retried from their BEGIN. */
function unitsOutsideTransaction(migration: MigrationFile, statements: readonly ParsedStatement[]): RetryUnit[] {
  const units: RetryUnit[] = [];
  let block: PlannedStatement[] | undefined;
  let opened = 0;
  for (const statement of statements) {
    const kind = transactionKind(statement);
    const planned = withoutNode(statement);
    if (block) {
      block.push(planned);
      if (kind !== undefined && ENDS.has(kind)) {
        units.push({ transaction: 'file', steps: block.map((item): Step => ({ kind: 'statement', statement: item })) });
        block = undefined;
      }
    } else if (kind !== undefined && OPENS.has(kind)) {
      block = [planned];
      opened = statement.line;
    } else {
      units.push({ transaction: 'none', steps: [{ kind: 'statement', statement: planned }] });
    }
  }
  if (block) {
    throw new MigrationFailedError(`${migration.path}:${opened}: the transaction it begins is never committed or rolled back; end it with COMMIT; nothing was applied`, {
      file: migration.path,
      line: opened,
    });
  }
  return units;
}

function withoutNode({ node: _node, ...statement }: ParsedStatement): PlannedStatement {
  return statement;
}
