/**
 * Diesel (diesel_migrations): one directory per migration, `migrations/<timestamp>_<name>/up.sql`
 * (and down.sql), the timestamp written `2024-01-15-093000` or `20240115093000` (newer diesel CLIs
 * add `-0000`). The version is the directory name up to its first `_` with the dashes taken out,
 * as Diesel stores it; migrations run in version order, compared as text.
 *
 * Each migration runs in a transaction unless its `metadata.toml` says `run_in_transaction = false`;
 * then Diesel sends up.sql as one simple query, which PostgreSQL still runs as one implicit
 * transaction when it holds several statements.
 */
import { entriesOfSubdirectory, entryPath, readIfPresent, refuseDuplicateVersions, type DirectoryListing, type FoundMigration, type Layout } from './layout.js';
import { MigrationDiscoveryError } from '../migration-file.js';
import { runsAsImplicitTransaction } from './simple-query.js';
import type { SqlClient } from './version-table.js';

const TABLE = '__diesel_schema_migrations';

/** Diesel skips dot-directories and empty ones; every other directory must hold up.sql. */
async function migrationDirs(listing: DirectoryListing): Promise<Array<{ dir: string; hasUp: boolean; hasMetadata: boolean }>> {
  const dirs: Array<{ dir: string; hasUp: boolean; hasMetadata: boolean }> = [];
  for (const dir of listing.dirs) {
    if (dir.startsWith('.')) continue;
    const entries = await entriesOfSubdirectory(listing, dir);
    if (entries.length === 0) continue;
    dirs.push({ dir, hasUp: entries.includes('up.sql'), hasMetadata: entries.includes('metadata.toml') });
  }
  return dirs;
}

/**
 * `run_in_transaction` from metadata.toml: true without the file, as Diesel defaults; a file that
 * parses but lacks the key gives false, because Diesel reads the key with serde's default for a bool.
 */
function runInTransaction(metadata: string | undefined): boolean {
  if (metadata === undefined) return true;
  const setting = /^\s*run_in_transaction\s*=\s*(true|false)\s*(?:#.*)?$/m.exec(metadata);
  return setting ? setting[1] === 'true' : false;
}

export const diesel: Layout = {
  id: 'diesel',
  tool: 'Diesel',
  looksLike: 'Diesel <timestamp>_<name>/up.sql',

  async detect(listing) {
    return (await migrationDirs(listing)).some((entry) => entry.hasUp);
  },

  async list(listing) {
    const migrations: FoundMigration[] = [];
    for (const { dir, hasUp, hasMetadata } of await migrationDirs(listing)) {
      const path = entryPath(listing, dir);
      if (!hasUp) throw new MigrationDiscoveryError(`${path} has no up.sql: Diesel refuses a migrations directory with such a folder; add up.sql or move the folder out`);
      const cut = dir.indexOf('_');
      migrations.push({
        path: entryPath(listing, dir, 'up.sql'),
        version: (cut === -1 ? dir : dir.slice(0, cut)).replace(/-/g, ''),
        name: cut === -1 ? dir : dir.slice(cut + 1),
        // Read only where the folder lists it: a failed read costs an exception per migration.
        runInTransaction: runInTransaction(hasMetadata ? await readIfPresent(entryPath(listing, dir, 'metadata.toml')) : undefined),
      });
    }
    // Diesel collects the migrations into a map keyed by version: of two with one version it silently runs only one.
    refuseDuplicateVersions(migrations, (version) => version, 'Diesel would run only one of them');
    migrations.sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
    return { migrations, unrecognised: listing.files.filter((file) => file.endsWith('.sql')).map((file) => entryPath(listing, file)) };
  },

  read(text, found) {
    return { sql: text, transaction: found.runInTransaction === false ? runsAsImplicitTransaction(text) : true };
  },

  versionTable: {
    table: TABLE,
    recognises: (columns) => columns.has('version') && columns.has('run_on'),
    async read(client: SqlClient, table: string) {
      const { rows } = await client.query<{ version: string }>(`select version from ${table}`);
      return { semantics: 'each', versions: rows.map((row) => row.version) };
    },
    adapter: () => ({
      tool: 'Diesel',
      table: TABLE,
      async ensure(client) {
        await client.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)`);
      },
      async recordApplied(client, migration) {
        await client.query(`INSERT INTO ${TABLE} (version) VALUES ($1)`, [migration.version]);
      },
    }),
  },
};
