/** Migration files on disk and fresh databases on the test primary, for the tests of applying migrations. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import pg from 'pg';
import { discoverMigrations, type MigrationFile } from '../../src/migrations/discovery.js';
import { withDatabaseName } from '../../src/util/redact-url.js';
import type { PostgresFleet } from '../fleet/postgres.js';

const dirs: string[] = [];

/** Writes the files to a new directory and discovers them as ship does. */
export async function migrationFiles(files: Record<string, string>): Promise<MigrationFile[]> {
  const dir = await mkdtemp(join(tmpdir(), 'ship-apply-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  return [...(await discoverMigrations(dir)).migrations];
}

export async function removeMigrationFiles(): Promise<void> {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

let databases = 0;

/** A new database owned by the app role, so each test starts without any version table. */
export async function freshDatabase(fleet: PostgresFleet): Promise<{ url: string; adminUrl: string; name: string }> {
  const name = `apply_${process.pid}_${++databases}`;
  await sql(fleet.primaryUrl, `create database ${name}`);
  return { name, url: withDatabaseName(fleet.primaryUrl, name), adminUrl: withDatabaseName(fleet.primaryAdminUrl, name) };
}

export async function sql<R extends pg.QueryResultRow = any>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** An open session for holding locks and transactions while a migration runs. */
export async function session(url: string, applicationName = 'ship-test-session'): Promise<pg.Client & { pid: number }> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  await client.connect();
  const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
  return Object.assign(client, { pid: rows[0]!.pid });
}

/**
 * Flyway's checksum as its documentation and ChecksumCalculator describe it, written apart from
 * ship's: BufferedReader.readLine over the file (\n, \r\n or a lone \r end a line), the BOM
 * filtered from the first line, java.util.zip.CRC32 updated with each line's UTF-8 bytes, the
 * long value cast to a Java int.
 */
export function flywayReferenceChecksum(text: string): number {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.at(-1) === '') lines.pop();
  let value = 0;
  lines.forEach((line, index) => {
    value = crc32(Buffer.from(index === 0 && line.startsWith('\uFEFF') ? line.slice(1) : line, 'utf8'), value);
  });
  return value | 0;
}
