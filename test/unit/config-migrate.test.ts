/** `database.migrate`: its defaults, and the mistakes a config can make with it, each named by its field. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../src/config/load.js';
import { configProblems, minimalConfig } from '../support/config-problems.js';

const database = { primary: 'postgres://db.internal/shop', migrations: { dir: 'db/migrations' } };

test("run: 'ship' gets the documented defaults, durations in milliseconds", () => {
  const { config } = validateConfig({ ...minimalConfig, database: { ...database, migrate: { run: 'ship' } } }, 'ship.config.ts');
  assert.deepEqual(config.database?.migrate, { run: 'ship', lockTimeout: 2_000, statementTimeout: 0, retries: 5, waitForReplicas: 60_000 });
});

test('a command runs locally unless it names a host', () => {
  const { config } = validateConfig(
    { ...minimalConfig, database: { ...database, migrate: { run: { command: 'npx prisma migrate deploy' }, lockTimeout: '500ms', waitForReplicas: '2m' } } },
    'ship.config.ts',
  );
  assert.deepEqual(config.database?.migrate?.run, { command: 'npx prisma migrate deploy', on: 'local' });
  assert.equal(config.database?.migrate?.lockTimeout, 500);
  assert.equal(config.database?.migrate?.waitForReplicas, 120_000);
});

test('a command may run on a host of the fleet, and only on one', () => {
  const migrate = (on: string) => ({ ...minimalConfig, database: { ...database, migrate: { run: { command: 'bin/migrate', on } } } });
  assert.deepEqual(validateConfig(migrate('web1'), 'f').config.database?.migrate?.run, { command: 'bin/migrate', on: 'web1' });
  assert.deepEqual(configProblems(migrate('web9')), ["database.migrate.run.on: no host named 'web9' in hosts (web1): name one of them, or 'local'"]);
});

test("run: 'ship' needs the migrations folder and a version table it can write", () => {
  assert.deepEqual(configProblems({ ...minimalConfig, database: { primary: 'postgres://db/x', migrate: { run: 'ship' } } }), [
    "database.migrate.run: run: 'ship' applies the files in database.migrations.dir: set database.migrations",
  ]);
  assert.match(
    configProblems({ ...minimalConfig, database: { ...database, versionQuery: 'select v from versions', migrate: { run: 'ship' } } })[0]!,
    /^database\.migrate\.run: .*set database\.versionTable/,
  );
});

test('bad values are refused with the field named', () => {
  const problems = configProblems({ ...minimalConfig, database: { ...database, migrate: { run: 'flyway', retries: -1, lockTimeout: 'soon' } } });
  assert.ok(
    problems.some((p) => p.startsWith('database.migrate.run:')),
    problems.join('\n'),
  );
  assert.ok(
    problems.some((p) => p.startsWith('database.migrate.retries:')),
    problems.join('\n'),
  );
  assert.ok(
    problems.some((p) => p.startsWith('database.migrate.lockTimeout:')),
    problems.join('\n'),
  );
  assert.deepEqual(configProblems({ ...minimalConfig, database: { ...database, migrate: { run: { command: '  ' } } } }).length, 1);
});
