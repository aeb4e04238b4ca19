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

/** A table privilege the role needs for ship to record migrations (checked by `ship check`). */
export type TablePrivilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';

export interface VersionTableAdapter {
  /** The tool, for messages: `Flyway`, `golang-migrate`. */
  readonly tool: string;
  /** The table as the tool names it, schema-qualified when the tool keeps it in a schema of its own. */
  readonly table: string;
  /** What recording needs on an existing table; when absent, INSERT, UPDATE and DELETE. */
  readonly privileges?: readonly TablePrivilege[];
  /** Creates the table (and its schema) when missing, exactly as the tool's first run would; a no-op when present. */
  ensure(client: SqlClient): Promise<void>;
  /**
   * For an adapter that finds its table in the database rather than being told it (numbered files
   * recorded in whatever table the team has): looks it up, and its shape, without creating anything,
   * so `table` and `privileges` are right before `ship check` reads them. ensure() does it too.
   */
  locate?(client: SqlClient): Promise<void>;
  /**
   * Runs before the migration's SQL, on the same connection, outside and before the migration's
   * transaction, and is committed on its own: a failed migration leaves the mark behind, as the
   * tool's own failed run does (golang-migrate's dirty flag, Prisma's unfinished row).
   */
  markStarted?(client: SqlClient, migration: MigrationFile): Promise<void>;
  /** Records the migration as applied, as the tool would, in the migration's transaction when it has one. */
  recordApplied(client: SqlClient, migration: MigrationFile, facts: AppliedFacts): Promise<void>;
}
