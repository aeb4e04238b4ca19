import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeDatabase, passwordOf, redactUrl, scrubSecrets, withDatabaseName, withoutPassword } from '../../src/util/redact-url.js';

test('describes a URL as host:port/dbname without user or password', () => {
  assert.equal(describeDatabase('postgres://app:s3cret@db1.internal:6432/shop?sslmode=require'), 'db1.internal:6432/shop');
  assert.equal(describeDatabase('postgresql://app:s3cret@db1.internal/shop'), 'db1.internal:5432/shop');
  assert.equal(describeDatabase('postgres://app:p%40ss@10.0.0.5:5433/my%20db'), '10.0.0.5:5433/my db');
  assert.equal(describeDatabase('postgres://a:x@h1:5432,h2/app'), 'h1:5432,h2:5432/app');
  assert.equal(describeDatabase('postgres:///app?host=/var/run/postgresql'), '/var/run/postgresql:5432/app');
  assert.equal(describeDatabase('host=db2 port=5434 dbname=shop user=app password=s3cret'), 'db2:5434/shop');
});

test('redacts the password in user info and in parameters, keeping everything else', () => {
  assert.equal(redactUrl('postgres://app:s3cret@db:5432/shop?sslmode=require'), 'postgres://app:***@db:5432/shop?sslmode=require');
  assert.equal(redactUrl('postgres://app@db/shop?password=s3cret&sslmode=verify-full'), 'postgres://app@db/shop?password=***&sslmode=verify-full');
  assert.equal(redactUrl('postgres://app:we@rd:pw@db/shop'), 'postgres://app:***@db/shop');
  assert.equal(redactUrl("host=db password='it''s secret' dbname=shop".replace("''", "\\'")), 'host=db password=*** dbname=shop');
  assert.equal(redactUrl('postgres://db/shop'), 'postgres://db/shop');
});

test('scrubs the password, raw and URL-decoded, from foreign text such as driver errors', () => {
  const url = 'postgres://app:p%40ss%2Fword@db:5432/shop';
  const message = `connect to ${url} failed; server said p@ss/word is wrong; raw p%40ss%2Fword`;
  const scrubbed = scrubSecrets(message, url);
  assert.doesNotMatch(scrubbed, /p@ss\/word|p%40ss%2Fword/);
  assert.match(scrubbed, /postgres:\/\/app:\*\*\*@db:5432\/shop/);
});

test('moves the password out of the connection string for child processes', () => {
  assert.equal(passwordOf('postgres://app:p%40ss@db/shop'), 'p@ss');
  assert.equal(passwordOf('postgres://app@db/shop?password=x1'), 'x1');
  assert.equal(passwordOf('host=db password=kv dbname=shop'), 'kv');
  assert.equal(passwordOf('postgres://app@db/shop'), undefined);
  assert.equal(withoutPassword('postgres://app:p%40ss@db/shop?password=x&sslmode=require'), 'postgres://app@db/shop?sslmode=require');
  assert.equal(withoutPassword('host=db password = kv dbname=shop'), 'host=db dbname=shop');
});

test('points a connection string at another database on the same server', () => {
  assert.equal(withDatabaseName('postgres://app:pw@db:5432/shop?sslmode=require', 'scratch_1'), 'postgres://app:pw@db:5432/scratch_1?sslmode=require');
  assert.equal(withDatabaseName('postgres://app:pw@db', 'scratch_1'), 'postgres://app:pw@db/scratch_1');
  assert.equal(withDatabaseName('host=db dbname=shop', 'scratch_1'), "host=db dbname='scratch_1'");
  assert.equal(withDatabaseName('host=db', 'scratch_1'), "host=db dbname='scratch_1'");
});
