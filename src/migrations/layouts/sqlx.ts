/**
 * sqlx (`sqlx migrate run`, `sqlx::migrate!`): `migrations/<version>_<description>.sql`, or
 * `.up.sql` and `.down.sql` for reversible ones, where the version is an integer (a timestamp from
 * `sqlx migrate add`) and migrations run in version order. Its file names look like those of other
 * tools, so the directory is taken for sqlx only when the crate beside it (or its workspace)
 * depends on sqlx, as `sqlx::migrate!()` looks for `migrations/` next to Cargo.toml.
 *
 * Each migration runs in a transaction unless the file starts with `-- no-transaction`; then sqlx
 * sends it as one simple query, which PostgreSQL still runs as one implicit transaction when it
 * holds several statements. sqlx records the SHA-384 of each file and refuses to run when an
 * applied file has changed.
 */
import { dirname, join } from 'node:path';
import { entryPath, readIfPresent, refuseDuplicateVersions, type FoundMigration, type Layout } from './layout.js';
import { runsAsImplicitTransaction } from './simple-query.js';
import type { SqlClient } from './version-table.js';
import { hexDigest } from '../../util/digest.js';

const TABLE = '_sqlx_migrations';

/** What sqlx makes of a file name: `<version>_<rest>` ending in .sql, else nothing (it skips the file). */
function parse(file: string): { version: string; description: string; down: boolean } | undefined {
  const cut = file.indexOf('_');
  if (cut === -1 || !file.endsWith('.sql')) return undefined;
  let rest = file.slice(cut + 1);
  const suffix = rest.endsWith('.up.sql') ? '.up.sql' : rest.endsWith('.down.sql') ? '.down.sql' : '.sql';
  // Rust's trim_end_matches, as sqlx uses it: every trailing copy of the suffix goes.
  while (rest.endsWith(suffix)) rest = rest.slice(0, -suffix.length);
  return { version: file.slice(0, cut), description: rest, down: suffix === '.down.sql' };
}

async function crateUsesSqlx(dir: string): Promise<boolean> {
  for (const project of [dirname(dir), dirname(dirname(dir))]) {
    const manifest = await readIfPresent(join(project, 'Cargo.toml'));
    if (manifest !== undefined && /\bsqlx\b/.test(manifest)) return true;
  }
  return false;
}

export const sqlx: Layout = {
  id: 'sqlx',
  tool: 'sqlx',
  looksLike: 'sqlx 20240101120000_name.sql or .up.sql (beside a Cargo.toml using sqlx)',

  async detect(listing) {
    const named = listing.files.map(parse).filter((parsed) => parsed !== undefined);
    // sqlx fails on a `x_y.sql` whose prefix is no integer: a directory with one is not sqlx's.
    return named.length > 0 && named.every((parsed) => /^\d+$/.test(parsed.version)) && (await crateUsesSqlx(listing.dir));
  },

  async list(listing) {
    const migrations: FoundMigration[] = [];
    const unrecognised: string[] = [];
    for (const file of listing.files) {
      const parsed = parse(file);
      if (!parsed) {
        if (file.endsWith('.sql')) unrecognised.push(entryPath(listing, file));
      } else if (!parsed.down) {
        migrations.push({ path: entryPath(listing, file), version: parsed.version, name: parsed.description });
      }
    }
    const key = (version: string) => BigInt(version).toString();
    // sqlx would apply the first and then fail to record the second: version is the table's primary key.
    refuseDuplicateVersions(migrations, key, 'sqlx cannot record both, as version is the primary key of _sqlx_migrations');
    migrations.sort((a, b) => (BigInt(a.version) < BigInt(b.version) ? -1 : BigInt(a.version) > BigInt(b.version) ? 1 : 0));
    return { migrations, unrecognised };
  },

  read(text) {
    const transaction = text.startsWith('-- no-transaction') ? runsAsImplicitTransaction(text) : true;
    return { sql: text, transaction, checksum: () => hexDigest('sha384', text) };
  },

  versionTable: {
    table: TABLE,
    // Flyway's table has these columns too, and installed_rank besides.
    recognises: (columns) => columns.has('version') && columns.has('checksum') && columns.has('success') && columns.has('execution_time') && !columns.has('installed_rank'),
    async read(client: SqlClient, table: string) {
      const { rows } = await client.query<{ version: string; success: boolean; checksum: string }>(
        `select version::text as version, success, encode(checksum, 'hex') as checksum from ${table} order by version`,
      );
      const failed = rows.find((row) => !row.success);
      return {
        semantics: 'each',
        versions: rows.map((row) => row.version),
        checksums: new Map(rows.map((row) => [row.version, row.checksum])),
        ...(failed
          ? { dirty: { version: failed.version, repair: `fix what it left, then delete its row from ${table} (sqlx: "migration ${failed.version} is partially applied")` } }
          : {}),
      };
    },
    adapter: () => ({
      tool: 'sqlx',
      table: TABLE,
      async ensure(client) {
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${TABLE} (
            version BIGINT PRIMARY KEY,
            description TEXT NOT NULL,
            installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),
            success BOOLEAN NOT NULL,
            checksum BYTEA NOT NULL,
            execution_time BIGINT NOT NULL
          )`,
        );
      },
      async recordApplied(client, migration, facts) {
        if (migration.checksum === undefined) throw new Error(`${migration.path}: no checksum to record in ${TABLE}`);
        // sqlx inserts -1 and sets the time, in nanoseconds, once the transaction has committed; the time is known here already.
        await client.query(`INSERT INTO ${TABLE} (version, description, success, checksum, execution_time) VALUES ($1, $2, TRUE, decode($3, 'hex'), $4)`, [
          migration.version,
          migration.name.replace(/_/g, ' '),
          migration.checksum,
          Math.round(facts.executionMs * 1_000_000),
        ]);
      },
    }),
  },
};
