/**
 * `ship plan` with `database.migrate`: the pending migrations of each phase. Pending means on disk
 * and not in the primary's version table, so the primary is asked (read only); when it cannot be,
 * the plan still lists every file on disk by phase and says why.
 */
import type { LoadedConfig } from '../../config/load.js';
import { resolvePath } from '../../config/load.js';
import type { EventBus } from '../../events.js';
import { discoverMigrations, type Discovery, type MigrationFile } from '../../migrations/discovery.js';
import { versionSourceFor } from '../../preflight/database-checks.js';
import { compileMigrationPattern } from '../../migrations/file-name.js';
import { pendingVersions, readAppliedVersionsAt, sameVersion } from '../../preflight/database/applied-versions.js';
import { basename } from 'node:path';

export async function announceMigrationPlan(loaded: LoadedConfig, bus: EventBus): Promise<void> {
  const database = loaded.config.database;
  if (!database?.migrate) return;
  const run = database.migrate.run === 'ship' ? 'ship' : 'command';
  const migrations = database.migrations;
  if (!migrations) {
    bus.emit({ type: 'migrations.planned', run, expand: [], contract: [], detail: 'no database.migrations: your command decides what it applies' });
    return;
  }
  let discovery: Discovery;
  try {
    const pattern = migrations.pattern ? compileMigrationPattern(migrations.pattern) : undefined;
    discovery = await discoverMigrations(resolvePath(loaded.dir, migrations.dir), pattern ? { pattern } : {});
  } catch (error) {
    bus.emit({ type: 'migrations.planned', run, expand: [], contract: [], detail: (error as Error).message });
    return;
  }
  const files = discovery.migrations;
  let pending = files;
  let detail: string | undefined;
  try {
    const applied = await readAppliedVersionsAt(database.primary, versionSourceFor(database, discovery.layout, true), {
      role: 'primary',
      connectTimeoutMs: database.connectTimeout,
    });
    const versions = pendingVersions(
      files.map((file) => file.version),
      applied,
    );
    pending = files.filter((file) => versions.some((version) => sameVersion(version, file.version)));
  } catch (error) {
    detail = `every file on disk is listed: the primary's version table could not be read (${(error as Error).message})`;
  }
  const names = (phase: MigrationFile['phase']) => pending.filter((file) => file.phase === phase).map((file) => basename(file.path));
  bus.emit({ type: 'migrations.planned', run, expand: names('expand'), contract: names('contract'), ...(detail ? { detail } : {}) });
}
