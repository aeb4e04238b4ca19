import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createJiti } from 'jiti';
import { formatPath } from '../config/errors.js';
import { resolvePath } from '../config/load.js';
import { migrationsSchema } from '../config/schema.js';
import { MigrationDiscoveryError } from './discovery.js';

/** `database.migrations` of a config file, with its directory made absolute. */
export interface ConfiguredMigrations {
  readonly configFile: string;
  readonly dir: string;
  readonly pattern?: string;
  readonly transactionPerFile: boolean;
  readonly pgVersion?: number;
}

/**
 * Reads only `database.migrations` of a ship config. A pull-request job lints without the
 * database's secrets or the fleet's hosts, so the rest of the config is neither needed nor
 * validated here (`ship deploy` validates all of it).
 */
export async function readConfiguredMigrations(file: string, cwd: string): Promise<ConfiguredMigrations> {
  const absolute = resolve(cwd, file);
  if (!existsSync(absolute)) {
    throw new MigrationDiscoveryError(
      `name the migration files or directories to lint, pass --base <git ref>, or set database.migrations.dir in a config file (none at ${absolute}; pass --config <file>)`,
    );
  }
  let exported: unknown;
  try {
    exported = await createJiti(import.meta.url, { moduleCache: false, fsCache: false }).import(absolute, { default: true });
  } catch (error) {
    throw new MigrationDiscoveryError(`${file}: could not be evaluated: ${(error as Error).message}`);
  }
  const database = (exported as { database?: { migrations?: unknown } } | undefined)?.database;
  if (database?.migrations === undefined) {
    throw new MigrationDiscoveryError(`${file} has no database.migrations: set database.migrations.dir, or name the migration files or directories to lint`);
  }
  const parsed = migrationsSchema.safeParse(database.migrations);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `database.migrations${issue.path.length ? `.${formatPath(issue.path)}` : ''}: ${issue.message}`);
    throw new MigrationDiscoveryError(`${file}: invalid config: ${problems.join('; ')}`);
  }
  const { dir, pattern, transactionPerFile, pgVersion } = parsed.data;
  return {
    configFile: absolute,
    dir: resolvePath(dirname(absolute), dir),
    ...(pattern !== undefined ? { pattern } : {}),
    transactionPerFile,
    ...(pgVersion !== undefined ? { pgVersion } : {}),
  };
}
