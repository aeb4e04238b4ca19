/**
 * goose: `<version>_<name>.sql` (a sequence, 00001, or a timestamp) beside Go migrations
 * (`<version>_<name>.go`), both directions in one file: `-- +goose Up`, then `-- +goose Down`.
 * Statements are split at semicolons ending a line, except between `-- +goose StatementBegin` and
 * `-- +goose StatementEnd`; annotations are SQL comments, so only the Down part needs hiding from
 * the lint. Migrations run in version order; goose refuses two with one version, SQL or Go.
 *
 * Each migration runs in a transaction unless it says `-- +goose NO TRANSACTION`; then each of its
 * statements runs on its own.
 */
import { entryPath, readIfPresent, refuseDuplicateVersions, type FoundMigration, type Layout } from './layout.js';
import type { SqlClient } from './version-table.js';

const TABLE = 'goose_db_version';

/** goose's version for a file name: the integer before the first `_` of a .sql or .go file, at least 1; else goose skips the file. */
function versionOf(file: string): bigint | undefined {
  if (!file.endsWith('.sql') && !file.endsWith('.go')) return undefined;
  const prefix = file.slice(0, Math.max(file.indexOf('_'), 0));
  if (!/^\d+$/.test(prefix)) return undefined;
  const version = BigInt(prefix);
  return version >= 1n ? version : undefined;
}

/** The annotation on a line as goose reads it (`-- +goose Up` → `up`), or undefined for any other line. */
function annotation(line: string): string | undefined {
  if (!line.startsWith('--') || !line.includes('+goose')) return undefined;
  return line.replaceAll('--', '').replace('+goose', '').trim().toLowerCase();
}

export const goose: Layout = {
  id: 'goose',
  tool: 'goose',
  looksLike: 'goose 00001_name.sql with "-- +goose Up"',

  async detect(listing) {
    // goose requires the annotation in every SQL migration: the first one tells.
    const first = listing.files.find((file) => file.endsWith('.sql') && versionOf(file) !== undefined);
    const text = first === undefined ? undefined : await readIfPresent(entryPath(listing, first));
    return text?.split('\n').some((line) => annotation(line.trimEnd()) === 'up') ?? false;
  },

  async list(listing) {
    const all: FoundMigration[] = [];
    const unrecognised: string[] = [];
    for (const file of listing.files) {
      if (versionOf(file) === undefined) {
        if (file.endsWith('.sql')) unrecognised.push(entryPath(listing, file));
        continue;
      }
      const cut = file.indexOf('_');
      all.push({ path: entryPath(listing, file), version: file.slice(0, cut), name: file.slice(cut + 1).replace(/\.(sql|go)$/, '') });
    }
    // Go migrations count for goose's duplicate check, but are no SQL to lint.
    refuseDuplicateVersions(all, (version) => BigInt(version).toString(), 'goose refuses to run with both ("found duplicate migration version")');
    const migrations = all.filter((migration) => migration.path.endsWith('.sql'));
    migrations.sort((a, b) => (BigInt(a.version) < BigInt(b.version) ? -1 : BigInt(a.version) > BigInt(b.version) ? 1 : 0));
    return { migrations, unrecognised };
  },

  read(text) {
    const lines = text.split('\n');
    let section: 'before' | 'up' | 'down' = 'before';
    let transaction = true;
    const kept = lines.map((line) => {
      const command = annotation(line.trimEnd());
      if (command === 'no transaction') transaction = false;
      if (command === 'up' && section === 'before') section = 'up';
      else if (command === 'down' && section === 'up') section = 'down';
      // Blanked, not removed: line numbers and offsets still point into the real file.
      return section === 'up' ? line : line.replace(/[^\r]/g, ' ');
    });
    if (section === 'before') return { sql: '', problem: 'has no "-- +goose Up" annotation: goose refuses to run it' };
    return { sql: kept.join('\n'), transaction };
  },

  versionTable: {
    table: TABLE,
    recognises: (columns) => columns.has('version_id') && columns.has('is_applied'),
    async read(client: SqlClient, table: string) {
      // goose's own reading: newest row first, and a version counts as applied when its newest row says so.
      const { rows } = await client.query<{ version_id: string; is_applied: boolean }>(`select version_id::text as version_id, is_applied from ${table} order by id desc`);
      const seen = new Set<string>();
      const versions: string[] = [];
      for (const row of rows) {
        if (seen.has(row.version_id)) continue;
        seen.add(row.version_id);
        // Version 0 is the row goose inserts when it creates the table, not a migration.
        if (row.is_applied && row.version_id !== '0') versions.push(row.version_id);
      }
      return { semantics: 'each', versions };
    },
    adapter: () => ({
      tool: 'goose',
      table: TABLE,
      async ensure(client) {
        const { rows } = await client.query<{ exists: boolean }>(`select to_regclass($1) is not null as exists`, [TABLE]);
        if (rows[0]?.exists) return;
        // As goose (v3.22 on) creates it, with its version 0 row; one query string, so one implicit transaction when not already in one.
        await client.query(
          `CREATE TABLE ${TABLE} (
            id integer PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY,
            version_id bigint NOT NULL,
            is_applied boolean NOT NULL,
            tstamp timestamp NOT NULL DEFAULT now()
          );
          INSERT INTO ${TABLE} (version_id, is_applied) VALUES (0, true);`,
        );
      },
      async recordApplied(client, migration) {
        await client.query(`INSERT INTO ${TABLE} (version_id, is_applied) VALUES ($1, $2)`, [BigInt(migration.version).toString(), true]);
      },
    }),
  },
};
