/**
 * How one migration tool keeps track of what it applied: its version table. ship writes the same
 * rows the tool itself would, so a team can still run its tool by hand after ship applied a file
 * (and the other way round). One file per tool in this folder, registered in `registry.ts`.
 */
import type { MigrationFile } from '../migration-file.js';

/** The slice of a `pg` client the adapters use: one connection, inside or outside a transaction. */
export interface SqlClient {
  query<R extends Record<string, unknown> = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

/** What the applier measured, for the tools that record it. */
export interface AppliedFacts {
  /** Wall time of the migration's own SQL, in milliseconds. */
  readonly executionMs: number;
}

export interface VersionTableAdapter {
  /** The tool, for messages: `Flyway`, `golang-migrate`. */
  readonly tool: string;
  /** The table as the tool names it, schema-qualified when the tool keeps it in a schema of its own. */
  readonly table: string;
  /** Creates the table (and its schema) when missing, exactly as the tool's first run would; a no-op when present. */
  ensure(client: SqlClient): Promise<void>;
  /**
   * Runs before the migration's SQL, on the same connection and in the migration's transaction
   * when it has one: golang-migrate marks the version dirty, Prisma inserts its unfinished row.
   */
  markStarted?(client: SqlClient, migration: MigrationFile): Promise<void>;
  /** Records the migration as applied, as the tool would, in the migration's transaction when it has one. */
  recordApplied(client: SqlClient, migration: MigrationFile, facts: AppliedFacts): Promise<void>;
}
