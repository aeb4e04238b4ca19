/**
 * Prisma Migrate: one directory per migration, `prisma/migrations/<timestamp>_<name>/migration.sql`,
 * beside `migration_lock.toml`. A migration is known by its directory name, which is what
 * `_prisma_migrations.migration_name` holds; migrations run in name order, so two with one
 * timestamp both run, in name order.
 *
 * Prisma sends migration.sql as one simple query and wraps it in no transaction of its own: several
 * statements run as one implicit transaction, a lone one outside any (which is how a Prisma
 * migration can hold a `CREATE INDEX CONCURRENTLY`, alone in its file).
 */
import { MigrationDiscoveryError } from '../migration-file.js';
import { entriesOfSubdirectory, entryPath, readIfPresent, type DirectoryListing, type FoundMigration, type Layout } from './layout.js';
import { runsAsImplicitTransaction } from './simple-query.js';
import type { SqlClient } from './version-table.js';
import { hexDigest, nodeCrypto } from '../../util/digest.js';

const TABLE = '_prisma_migrations';
const MIGRATION_FILE = 'migration.sql';

async function holdsMigrationFile(listing: DirectoryListing, dir: string): Promise<boolean> {
  return (await entriesOfSubdirectory(listing, dir)).includes(MIGRATION_FILE);
}

export const prisma: Layout = {
  id: 'prisma',
  tool: 'Prisma',
  looksLike: 'Prisma <timestamp>_<name>/migration.sql',

  async detect(listing) {
    if (listing.files.includes('migration_lock.toml')) return true;
    for (const dir of listing.dirs) if (await holdsMigrationFile(listing, dir)) return true;
    return false;
  },

  async list(listing) {
    // A project for another database: its SQL would only fail to parse, file after file.
    const provider = /^\s*provider\s*=\s*"([^"]*)"/m.exec((await readIfPresent(entryPath(listing, 'migration_lock.toml'))) ?? '')?.[1];
    if (provider !== undefined && provider !== 'postgresql') {
      throw new MigrationDiscoveryError(`${entryPath(listing, 'migration_lock.toml')} says provider = "${provider}": ship checks PostgreSQL migrations only`);
    }
    const migrations: FoundMigration[] = [];
    // listing.dirs is sorted by code unit, as Prisma sorts the names.
    for (const dir of listing.dirs) {
      if (dir.startsWith('.')) continue;
      const path = entryPath(listing, dir);
      if (!(await holdsMigrationFile(listing, dir))) {
        throw new MigrationDiscoveryError(`${path} has no ${MIGRATION_FILE}: Prisma refuses to migrate with it (P3015); restore the file or delete the folder`);
      }
      const cut = dir.indexOf('_');
      migrations.push({ path: entryPath(listing, dir, MIGRATION_FILE), version: dir, name: cut === -1 ? dir : dir.slice(cut + 1) });
    }
    return { migrations, unrecognised: listing.files.filter((file) => file.endsWith('.sql')).map((file) => entryPath(listing, file)) };
  },

  read(text) {
    return { sql: text, transaction: runsAsImplicitTransaction(text), checksum: () => hexDigest('sha256', text) };
  },

  versionTable: {
    table: TABLE,
    recognises: (columns) => columns.has('migration_name') && columns.has('finished_at') && columns.has('rolled_back_at'),
    async read(client: SqlClient, table: string) {
      const { rows } = await client.query<{ migration_name: string; finished: boolean; rolled_back: boolean }>(
        `select migration_name, finished_at is not null as finished, rolled_back_at is not null as rolled_back from ${table} order by started_at`,
      );
      const applied = new Set(rows.filter((row) => row.finished && !row.rolled_back).map((row) => row.migration_name));
      // A row neither finished nor rolled back is a migration that failed: `prisma migrate deploy` stops there (P3009).
      const failed = rows.find((row) => !row.finished && !row.rolled_back);
      return {
        semantics: 'each',
        versions: [...applied],
        ...(failed
          ? {
              dirty: {
                version: failed.migration_name,
                repair: `undo what it did, then \`prisma migrate resolve --rolled-back ${failed.migration_name}\` (or finish it by hand and \`--applied\`)`,
              },
            }
          : {}),
      };
    },
    adapter() {
      // The row markStarted inserted, by migration file, for recordApplied to finish.
      const started = new Map<string, string>();
      return {
        tool: 'Prisma',
        table: TABLE,
        async ensure(client) {
          await client.query(
            `CREATE TABLE IF NOT EXISTS ${TABLE} (
              id VARCHAR(36) PRIMARY KEY NOT NULL,
              checksum VARCHAR(64) NOT NULL,
              finished_at TIMESTAMPTZ,
              migration_name VARCHAR(255) NOT NULL,
              logs TEXT,
              rolled_back_at TIMESTAMPTZ,
              started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
              applied_steps_count INTEGER NOT NULL DEFAULT 0
            )`,
          );
        },
        async markStarted(client, migration) {
          if (migration.checksum === undefined) throw new Error(`${migration.path}: no checksum to record in ${TABLE}`);
          const id = nodeCrypto().randomUUID();
          await client.query(`INSERT INTO ${TABLE} (id, checksum, started_at, migration_name) VALUES ($1, $2, now(), $3)`, [id, migration.checksum, migration.version]);
          started.set(migration.path, id);
        },
        async recordApplied(client, migration) {
          const id = started.get(migration.path);
          if (id === undefined) throw new Error(`${migration.path}: recordApplied before markStarted, so there is no ${TABLE} row to finish`);
          // Prisma counts the whole script as one step, then sets finished_at; clock_timestamp(), as now() is the transaction's start.
          await client.query(`UPDATE ${TABLE} SET applied_steps_count = applied_steps_count + 1, finished_at = clock_timestamp() WHERE id = $1`, [id]);
          started.delete(migration.path);
        },
      };
    },
  },
};
