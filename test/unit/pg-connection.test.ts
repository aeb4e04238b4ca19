import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pgConnectionConfig } from '../../src/util/pg-connection.js';
import { describeDatabase, redactUrl } from '../../src/util/redact-url.js';

test('a URL goes to the driver as it is', () => {
  const url = 'postgres://ship:s3cret@db1:5433/app?sslmode=require';
  assert.deepEqual(pgConnectionConfig(url), { connectionString: url });
});

test('a libpq key/value string becomes the config a URL would give: quoted values, sslmode, hostaddr, a database name with odd characters', () => {
  const config = pgConnectionConfig(`host=db1.internal port=5433 user=ship password=secret dbname='my app/db?x' sslmode=disable`);
  assert.equal(config.host, 'db1.internal');
  assert.equal(config.port, 5433);
  assert.equal(config.user, 'ship');
  assert.equal(config.database, 'my app/db?x');
  assert.equal(config.ssl, false);
  assert.equal(config.connectionString, undefined, 'pg would parse a connection string again, as a URL');

  const quoted = pgConnectionConfig(String.raw`host=db1 password='a \'quoted\' p@ss w%rd' dbname=app`);
  assert.equal(quoted.password, "a 'quoted' p@ss w%rd");

  // libpq connects to hostaddr when given.
  assert.equal(pgConnectionConfig('hostaddr=10.0.0.7 dbname=app').host, '10.0.0.7');
  assert.notEqual(pgConnectionConfig('host=db1 sslmode=require dbname=app').ssl, false);
  // Names in messages come from the original string, without its password.
  const keyValue = 'host=db1 port=5433 dbname=app password=hunter22';
  assert.equal(describeDatabase(keyValue), 'db1:5433/app');
  assert.equal(redactUrl(keyValue), 'host=db1 port=5433 dbname=app password=***');
});
