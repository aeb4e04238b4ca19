/**
 * The schema versions a database has applied, read from its version table, and the migrations on
 * disk that are still pending.
 *
 * Table shapes understood without configuration:
 * - golang-migrate: `schema_migrations(version bigint, dirty boolean)`, one row holding the latest
 *   version; every migration up to it counts as applied.
 * - dbmate and Rails: `schema_migrations(version varchar)`, one row per applied version.
 * - Flyway: `flyway_schema_history`, one row per attempt; only `success` rows with a version count
 *   (repeatable migrations have none).
 * - The tools with a layout of their own (src/migrations/layouts/: Prisma, Drizzle, Diesel, sqlx,
 *   goose): each reads its table as the tool does.
 * Anything else: a configured query whose first column lists the applied versions.
 */
import type pg from 'pg';
import { compareVersions, versionParts } from '../../migrations/file-name.js';
import type { VersionTableState } from '../../migrations/layouts/layout.js';
import { LAYOUTS } from '../../migrations/layouts/registry.js';
import type { LayoutId, MigrationFile } from '../../migrations/migration-file.js';
import { DatabaseCheckError, driverMessage, withConnection } from './connect.js';
import { describeDatabase } from '../../util/redact-url.js';

export interface VersionSource {
  /** Table holding the versions, optionally schema-qualified; default: the first of DEFAULT_TABLES that exists. */
  versionTable?: string;
  /** A query whose first column lists the applied versions; takes precedence over versionTable. */
  versionQuery?: string;
  /** The tool whose layout discovery found on disk: its table is looked for first, before other tools' leftovers. */
  layout?: LayoutId;
  /** ship applies the migrations and creates the table with the first one (database.migrate.run 'ship'): no table yet means none applied. */
  missingMeansNone?: boolean;
}

export interface AppliedVersions {
  /** How to read `versions`: each one applied ('each'), or everything up to the only entry ('up-to', golang-migrate). */
  semantics: 'each' | 'up-to';
  /** Applied versions as stored, in ascending version order. */
  versions: string[];
  /** The highest applied version, or null when nothing is applied. */
  latest: string | null;
  /** A migration failed halfway (golang-migrate's dirty flag, a failed Prisma or sqlx row). */
  dirty: boolean;
  /** For a dirty table of a tool in layouts/: which migration failed and how to repair it. */
  repair?: string;
  /** Checksums the tool recorded, by version key (see sameVersion), for a tool that refuses to run when an applied file changed (sqlx). */
  checksums?: ReadonlyMap<string, string>;
  /** Where the versions came from, for messages: `schema_migrations (golang-migrate)`, `versionQuery`. */
  source: string;
}

const DEFAULT_TABLES = ['schema_migrations', 'flyway_schema_history', ...Object.values(LAYOUTS).map((layout) => layout.versionTable.table)];

const NUMERIC_VERSION = /^\d+(?:[._]\d+)*$/;

/**
 * The same version as the migration runners see it, and as discovery does (file-name.ts): numeric
 * versions compare part by part (golang-migrate stores `001_x.up.sql` as 1, Flyway `V1_1__x.sql`
 * as 1.1); any other spelling must match exactly, so two different labels never count as equal.
 */
export function sameVersion(a: string, b: string): boolean {
  return versionKey(a) === versionKey(b);
}

function versionKey(version: string): string {
  const trimmed = version.trim();
  return NUMERIC_VERSION.test(trimmed) ? versionParts(trimmed).join('.') : `label:${trimmed}`;
}

/** Version order; labels that are not numeric fall back to text order among equals. */
export function versionOrder(a: string, b: string): number {
  return compareVersions(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** The on-disk versions that the database has not applied, in version order. */
export function pendingVersions(onDisk: readonly string[], applied: AppliedVersions): string[] {
  const sorted = [...onDisk].sort(versionOrder);
  if (applied.semantics === 'up-to') {
    if (applied.latest === null) return sorted;
    return sorted.filter((version) => versionOrder(version, applied.latest!) > 0);
  }
  const done = new Set(applied.versions.map(versionKey));
  return sorted.filter((version) => !done.has(versionKey(version)));
}

/** What a database reports as its schema version, for messages: `20240103 (12 applied)`. */
export function describeSchemaVersion(applied: AppliedVersions): string {
  const latest = applied.latest ?? 'none';
  if (applied.semantics === 'up-to') return applied.dirty ? `${latest} (dirty)` : latest;
  return `${latest} (${applied.versions.length} applied)`;
}

/** Two databases agree on the schema when they applied the same versions (and neither is halfway). */
export function sameSchemaVersion(a: AppliedVersions, b: AppliedVersions): boolean {
  if (a.semantics !== b.semantics || a.dirty !== b.dirty || a.versions.length !== b.versions.length) return false;
  return a.versions.every((version, i) => sameVersion(version, b.versions[i]!));
}

function fromList(raw: Array<string | null>, source: string): AppliedVersions {
  const versions = raw.filter((v): v is string => v !== null && v !== '').sort(versionOrder);
  return { semantics: 'each', versions, latest: versions.at(-1) ?? null, dirty: false, source };
}

function fromState(state: VersionTableState, source: string): AppliedVersions {
  const applied = fromList([...state.versions], source);
  return {
    ...applied,
    semantics: state.semantics,
    dirty: state.dirty !== undefined,
    ...(state.dirty ? { repair: `says migration ${state.dirty.version} failed halfway: ${state.dirty.repair}` } : {}),
    ...(state.checksums ? { checksums: new Map([...state.checksums].map(([version, checksum]) => [versionKey(version), checksum])) } : {}),
  };
}

/**
 * Applied migrations whose file on disk no longer has the checksum the tool recorded: a tool that
 * records checksums to catch this (sqlx) refuses to run any migration until it is put right.
 */
export function changedAppliedFiles(applied: AppliedVersions, onDisk: ReadonlyArray<Pick<MigrationFile, 'path' | 'version' | 'checksum'>>): string[] {
  const recorded = applied.checksums;
  if (!recorded) return [];
  return onDisk
    .filter((file) => file.checksum !== undefined && recorded.has(versionKey(file.version)) && recorded.get(versionKey(file.version)) !== file.checksum)
    .map(
      (file) =>
        `${file.path} changed after it was applied: its checksum is not the one ${applied.source} recorded for version ${file.version}, and the tool refuses to run migrations until the file is as it was applied; put it back and make the change in a new migration`,
    );
}

async function firstExistingTable(client: pg.Client, candidates: string[]): Promise<{ oid: number; name: string } | undefined> {
  for (const candidate of candidates) {
    const { rows } = await client.query<{ oid: number | null; name: string | null }>('select to_regclass($1)::oid as oid, to_regclass($1)::text as name', [candidate]);
    const row = rows[0];
    if (row?.oid != null && row.name != null) return { oid: row.oid, name: row.name };
  }
  return undefined;
}

/**
 * Reads the applied versions from an open connection. `databaseUrl` and `role` only name the
 * database in errors. A missing version table is an error naming the table and the host.
 */
export async function readAppliedVersions(client: pg.Client, source: VersionSource, where: { databaseUrl: string; role: string }): Promise<AppliedVersions> {
  const at = `${where.role} ${describeDatabase(where.databaseUrl)}`;
  if (source.versionQuery) {
    let rows: unknown[][];
    try {
      rows = (await client.query({ text: source.versionQuery, rowMode: 'array' })).rows as unknown[][];
    } catch (error) {
      throw new DatabaseCheckError(`${at}: database.versionQuery failed: ${driverMessage(error, where.databaseUrl)}`);
    }
    return fromList(
      rows.map((row) => (row[0] == null ? null : String(row[0]))),
      'versionQuery',
    );
  }

  const preferred = source.layout ? LAYOUTS[source.layout].versionTable.table : undefined;
  const candidates = source.versionTable ? [source.versionTable] : preferred ? [preferred, ...DEFAULT_TABLES.filter((name) => name !== preferred)] : DEFAULT_TABLES;
  let table: { oid: number; name: string } | undefined;
  try {
    table = await firstExistingTable(client, candidates);
  } catch (error) {
    throw new DatabaseCheckError(`${at}: cannot look up the version table ${candidates.join(', ')}: ${driverMessage(error, where.databaseUrl)}`);
  }
  if (!table && source.missingMeansNone) return { semantics: 'each', versions: [], latest: null, dirty: false, source: `${candidates[0]} (not created yet)` };
  if (!table) {
    const named = candidates.map((name) => `"${name}"`).join(' or ');
    throw new DatabaseCheckError(
      `${at}: the version table ${named} does not exist (looked up with this connection's search_path). ` +
        'Apply the first migration with your migration tool, or set database.versionTable / database.versionQuery to where the applied versions live.',
    );
  }

  const { rows: columnRows } = await client.query<{ attname: string }>('select attname from pg_attribute where attrelid = $1 and attnum > 0 and not attisdropped', [table.oid]);
  const columns = new Set(columnRows.map((row) => row.attname));
  // table.name is regclass output: already a correctly quoted, schema-qualified-as-needed identifier.
  if (columns.has('version') && columns.has('success') && columns.has('installed_rank')) {
    const { rows } = await client.query<{ version: string }>(`select version::text as version from ${table.name} where success and version is not null order by installed_rank`);
    return fromList(
      rows.map((row) => row.version),
      `${table.name} (Flyway)`,
    );
  }
  if (columns.has('version') && columns.has('dirty')) {
    const { rows } = await client.query<{ version: string; dirty: boolean }>(`select version::text as version, dirty from ${table.name}`);
    if (rows.length > 1) {
      throw new DatabaseCheckError(`${at}: ${table.name} looks like golang-migrate's table but holds ${rows.length} rows instead of one; set database.versionQuery`);
    }
    const row = rows[0];
    return {
      semantics: 'up-to',
      versions: row ? [row.version] : [],
      latest: row?.version ?? null,
      dirty: row?.dirty ?? false,
      source: `${table.name} (golang-migrate)`,
    };
  }
  for (const layout of Object.values(LAYOUTS)) {
    if (layout.versionTable.recognises(columns)) return fromState(await layout.versionTable.read(client, table.name), `${table.name} (${layout.tool})`);
  }
  if (columns.has('version')) {
    const { rows } = await client.query<{ version: string | null }>(`select version::text as version from ${table.name}`);
    return fromList(
      rows.map((row) => row.version),
      `${table.name} (one row per version)`,
    );
  }
  throw new DatabaseCheckError(
    `${at}: ${table.name} has no "version" column (columns: ${[...columns].join(', ')}); set database.versionQuery to a query listing the applied versions`,
  );
}

/** The applied versions of the database at `url`, on a connection of its own. */
export function readAppliedVersionsAt(url: string, source: VersionSource, options: { role: string; connectTimeoutMs: number }): Promise<AppliedVersions> {
  return withConnection(url, { role: options.role, connectTimeoutMs: options.connectTimeoutMs }, (client) =>
    readAppliedVersions(client, source, { databaseUrl: url, role: options.role }),
  );
}
