/**
 * Drizzle (drizzle-kit and drizzle-orm's migrator): `drizzle/<nnnn>_<name>.sql` with
 * `--> statement-breakpoint` between statements, and `meta/_journal.json`, which decides what
 * runs and in what order: each entry names a file by its tag and carries `when`, the
 * milliseconds drizzle records as the migration's created_at. Files the journal does not name
 * never run; two files with one number both run, in journal order.
 *
 * The migrator runs every pending migration in one transaction, and counts as applied every
 * migration whose `when` is not after the created_at of the last row in its table: that
 * created_at is the version the replica gate compares ('up-to'), and `when` is a migration's version.
 */
import { MigrationDiscoveryError } from '../migration-file.js';
import { entryPath, readIfPresent, type FoundMigration, type Layout } from './layout.js';
import type { SqlClient } from './version-table.js';
import { hexDigest } from '../../util/digest.js';

const SCHEMA = 'drizzle';
const TABLE_NAME = '__drizzle_migrations';
const TABLE = `"${SCHEMA}"."${TABLE_NAME}"`;
const JOURNAL = ['meta', '_journal.json'] as const;
/** A statement end in a breakpoint's place, padded to its length so offsets still point into the file. */
const STATEMENT_END = ';'.padEnd('--> statement-breakpoint'.length);

/** Whether the text before `at` ends with a semicolon, blanks aside. */
function endsStatement(text: string, at: number): boolean {
  let before = at - 1;
  while (before >= 0 && /\s/.test(text[before] as string)) before--;
  return text[before] === ';';
}

interface JournalEntry {
  readonly when: number;
  readonly tag: string;
}

function journalEntries(text: string, path: string): JournalEntry[] {
  let journal: unknown;
  try {
    journal = JSON.parse(text);
  } catch (error) {
    throw new MigrationDiscoveryError(`${path} is not JSON (${(error as Error).message}): drizzle cannot migrate with it`);
  }
  // drizzle-kit wrote "pg" before it wrote "postgresql"; another database's SQL would only fail to parse, file after file.
  const dialect = (journal as { dialect?: unknown } | null)?.dialect;
  if (dialect !== undefined && dialect !== 'postgresql' && dialect !== 'pg')
    throw new MigrationDiscoveryError(`${path} is for dialect ${JSON.stringify(dialect)}: ship checks PostgreSQL migrations only`);
  const entries = (journal as { entries?: unknown } | null)?.entries;
  if (!Array.isArray(entries)) throw new MigrationDiscoveryError(`${path} has no "entries" list: drizzle cannot migrate with it`);
  return entries.map((entry: { when?: unknown; tag?: unknown } | null, index) => {
    if (typeof entry?.when !== 'number' || typeof entry.tag !== 'string') {
      throw new MigrationDiscoveryError(`${path}: entry ${index} needs a numeric "when" and a "tag" naming its file`);
    }
    return { when: entry.when, tag: entry.tag };
  });
}

export const drizzle: Layout = {
  id: 'drizzle',
  tool: 'Drizzle',
  looksLike: 'Drizzle 0000_name.sql with meta/_journal.json',

  async detect(listing) {
    return listing.dirs.includes('meta') && (await readIfPresent(entryPath(listing, ...JOURNAL))) !== undefined;
  },

  async list(listing) {
    const journalPath = entryPath(listing, ...JOURNAL);
    const text = await readIfPresent(journalPath);
    if (text === undefined) throw new MigrationDiscoveryError(`${journalPath} is missing: drizzle cannot migrate without it`);
    const migrations: FoundMigration[] = journalEntries(text, journalPath).map((entry) => {
      const file = `${entry.tag}.sql`;
      if (!listing.files.includes(file)) throw new MigrationDiscoveryError(`${journalPath} names ${file}, which is not in ${listing.dir}: drizzle refuses to migrate without it`);
      return { path: entryPath(listing, file), version: String(entry.when), name: entry.tag };
    });
    const named = new Set(migrations.map((migration) => migration.path));
    const unrecognised = listing.files.map((file) => entryPath(listing, file)).filter((path) => path.endsWith('.sql') && !named.has(path));
    return { migrations, unrecognised };
  },

  read(text) {
    // The migrator splits the file at each breakpoint and runs the pieces one by one, so a
    // hand-written migration may leave out the semicolon before one; drizzle-kit's own files
    // have it, and keep their text.
    const sql = text.replace(/--> statement-breakpoint/g, (breakpoint, at: number) => (endsStatement(text, at) ? breakpoint : STATEMENT_END));
    return { sql, transaction: true, checksum: () => hexDigest('sha256', text) };
  },

  versionTable: {
    table: `${SCHEMA}.${TABLE_NAME}`,
    recognises: (columns) => columns.has('hash') && columns.has('created_at') && !columns.has('version'),
    async read(client: SqlClient, table: string) {
      // The migrator's own query; a null created_at sorts first here and makes it count nothing as applied.
      const { rows } = await client.query<{ created_at: string | null }>(`select created_at::text as created_at from ${table} order by created_at desc limit 1`);
      const last = rows[0]?.created_at;
      return { semantics: 'up-to', versions: last == null ? [] : [last] };
    },
    adapter: () => ({
      tool: 'Drizzle',
      table: TABLE,
      async ensure(client) {
        await client.query(`CREATE SCHEMA IF NOT EXISTS "${SCHEMA}"`);
        await client.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)`);
      },
      async recordApplied(client, migration) {
        if (migration.checksum === undefined) throw new Error(`${migration.path}: no hash to record in ${TABLE}`);
        await client.query(`insert into ${TABLE} ("hash", "created_at") values($1, $2)`, [migration.checksum, migration.version]);
      },
    }),
  },
};
