import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError, formatPath } from '../config/errors.js';
import { describeThrown, evaluateConfigFile, resolvePath } from '../config/load.js';
import { migrateSchema, migrationsSchema } from '../config/schema.js';
import { MigrationDiscoveryError } from './discovery.js';

/** `database.migrations` of a config file, with its directory made absolute. */
export interface ConfiguredMigrations {
  readonly configFile: string;
  readonly dir: string;
  readonly pattern?: string;
  readonly transactionPerFile: boolean;
  readonly pgVersion?: number;
  /** `database.migrate.run: 'ship'` with a lockTimeout: ship sets lock_timeout before every statement it applies. */
  readonly lockTimeoutPreset: boolean;
  readonly hygiene: boolean;
  readonly requireStatementTimeout: boolean;
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
  let migrations: unknown;
  let migrate: unknown;
  try {
    // No transpile cache on disk: a pull-request job reads the file once.
    const exported = await evaluateConfigFile(file, absolute, { fsCache: false });
    // Reading may run a getter of the file's own; its error is the file's.
    const database = (exported as { database?: { migrations?: unknown; migrate?: unknown } } | null | undefined)?.database;
    migrations = database?.migrations;
    migrate = database?.migrate;
  } catch (error) {
    if (error instanceof ConfigError) throw new MigrationDiscoveryError(`${error.file}: ${error.problems.join('; ')}`);
    throw new MigrationDiscoveryError(`${file}: reading database.migrations threw: ${describeThrown(error)}`);
  }
  const database = migrations === undefined ? undefined : { migrations };
  if (database?.migrations === undefined) {
    throw new MigrationDiscoveryError(`${file} has no database.migrations: set database.migrations.dir, or name the migration files or directories to lint`);
  }
  const parsed = migrationsSchema.safeParse(database.migrations);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `database.migrations${issue.path.length ? `.${formatPath(issue.path)}` : ''}: ${issue.message}`);
    throw new MigrationDiscoveryError(`${file}: invalid config: ${problems.join('; ')}`);
  }
  const { dir, pattern, transactionPerFile, pgVersion, hygiene, requireStatementTimeout } = parsed.data;
  // ship applying the files sets lock_timeout before each statement itself (database.migrate).
  const applied = migrate === undefined ? undefined : migrateSchema.safeParse(migrate);
  if (applied && !applied.success) {
    const problems = applied.error.issues.map((issue) => `database.migrate${issue.path.length ? `.${formatPath(issue.path)}` : ''}: ${issue.message}`);
    throw new MigrationDiscoveryError(`${file}: invalid config: ${problems.join('; ')}`);
  }
  const lockTimeoutPreset = applied?.data.run === 'ship' && applied.data.lockTimeout > 0;
  return {
    configFile: absolute,
    dir: resolvePath(dirname(absolute), dir),
    ...(pattern !== undefined ? { pattern } : {}),
    transactionPerFile,
    ...(pgVersion !== undefined ? { pgVersion } : {}),
    hygiene,
    requireStatementTimeout,
    lockTimeoutPreset,
  };
}
