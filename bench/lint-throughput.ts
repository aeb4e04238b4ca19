/**
 * Lint throughput: ship lint-migrations against squawk-cli on one generated migration file of
 * 10,000 statements. Each run is a fresh process (what CI pays), runs alternate between the two
 * tools so background load hits both alike, and the median wall time of each is compared.
 *
 *   node --import tsx bench/lint-throughput.ts [--runs 7] [--statements 10000]
 *
 * ship runs as published and as CI runs it: `bin/ship.js lint-migrations`, on the JavaScript that
 * `npm run build` compiles and bundles (this script runs it first). squawk runs as npm installs
 * it (its node launcher and the native binary). Both run without NODE_EXTRA_CA_CERTS, which this
 * workplace sets and a stock machine does not: node then reads a CA bundle at every start (~50 ms
 * here), which neither tool needs to lint a file.
 * Two pairings are timed: machine-readable output (ship --format json, squawk --reporter json),
 * the fair comparison, and the default human-readable output (ship text, squawk tty), where squawk
 * prints more per finding. ship decides per run whether to use a second thread (only when the
 * 1-minute load average leaves a core free), so the load average is recorded around each race.
 * Progress goes to stderr; the last line of stdout is the result as one JSON object.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { argument, median } from './lib/common.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const shipBin = join(root, 'bin/ship.js');
const shipEntry = join(root, 'dist/lint/lint-migrations.cjs');
const squawkBin = join(root, 'node_modules/.bin/squawk');

/** A realistic mix: schema changes, safe and unsafe, with data fixes and seed rows in between. */
export function generateMigration(statements: number): string {
  const lines: string[] = [];
  for (let i = 0; lines.length < statements; i++) {
    const table = `t${i % 200}`;
    const kinds = [
      `CREATE TABLE IF NOT EXISTS items_${i} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, account_id bigint NOT NULL, title varchar(200) NOT NULL, body text, price numeric(10,2) DEFAULT 0, created_at timestamptz NOT NULL DEFAULT now());`,
      `SET lock_timeout = '2s';`,
      `ALTER TABLE ${table} ADD COLUMN c${i} integer;`,
      `ALTER TABLE ${table} ADD COLUMN s${i} text NOT NULL DEFAULT 'new';`,
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${table}_c${i}_idx ON ${table} (c${i}) WHERE c${i} IS NOT NULL;`,
      `ALTER TABLE ${table} ADD CONSTRAINT ${table}_fk${i} FOREIGN KEY (account_id) REFERENCES accounts (id) NOT VALID;`,
      `ALTER TABLE ${table} VALIDATE CONSTRAINT ${table}_fk${i};`,
      `INSERT INTO settings (key, value, updated_at) VALUES ('feature_${i}', '{"enabled": true, "rollout": ${i % 100}}', now()) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;`,
      `UPDATE ${table} SET c${i} = 0 WHERE id BETWEEN ${i * 1000} AND ${i * 1000 + 999} AND c${i} IS NULL;`,
      `COMMENT ON COLUMN ${table}.c${i} IS 'added by migration ${i}';`,
      `ALTER TABLE ${table} ALTER COLUMN title TYPE text;`,
      `CREATE INDEX ${table}_title${i}_idx ON ${table} (lower(title));`,
      `ALTER TABLE ${table} DROP COLUMN IF EXISTS legacy_${i};`,
      `ALTER TABLE ${table} ADD CONSTRAINT ${table}_qty${i} CHECK (qty >= 0);`,
      `DELETE FROM audit_log WHERE created_at < now() - interval '90 days' AND id < ${i * 10};`,
    ];
    for (const statement of kinds) {
      if (lines.length === statements) break;
      lines.push(statement);
    }
  }
  return `${lines.join('\n')}\n`;
}

const benchEnv = { ...process.env };
delete benchEnv.NODE_EXTRA_CA_CERTS;

interface Timing {
  medianMs: number;
  runsMs: number[];
}

function timeOnce(command: string, args: string[]): number {
  const started = performance.now();
  const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: root, env: benchEnv });
  const elapsed = performance.now() - started;
  // Both tools exit 1 when they find problems, which this file guarantees.
  if (result.status !== 1) throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${String(result.stderr).slice(0, 500)}`);
  return elapsed;
}

interface Race {
  ship: Timing;
  squawk: Timing;
  ratio: number;
  /** 1-minute load average before and after the race. */
  load: [number, number];
}

function race(label: string, runs: number, ship: [string, string[]], squawk: [string, string[]]): Race {
  const loadBefore = loadavg()[0] ?? 0;
  // One untimed run each warms the page cache and the OS's view of the binaries.
  timeOnce(...ship);
  timeOnce(...squawk);
  const shipRuns: number[] = [];
  const squawkRuns: number[] = [];
  for (let run = 0; run < runs; run++) {
    shipRuns.push(timeOnce(...ship));
    squawkRuns.push(timeOnce(...squawk));
    process.stderr.write(`lint-throughput ${label} ${run + 1}/${runs}: ship ${Math.round(shipRuns[run]!)} ms, squawk ${Math.round(squawkRuns[run]!)} ms\n`);
  }
  const round = (values: number[]) => values.map((value) => Math.round(value));
  const shipTiming = { medianMs: Math.round(median(shipRuns)), runsMs: round(shipRuns) };
  const squawkTiming = { medianMs: Math.round(median(squawkRuns)), runsMs: round(squawkRuns) };
  const load: [number, number] = [Number(loadBefore.toFixed(2)), Number((loadavg()[0] ?? 0).toFixed(2))];
  return { ship: shipTiming, squawk: squawkTiming, ratio: Number((median(shipRuns) / median(squawkRuns)).toFixed(3)), load };
}

/** The squawk-cli release the figures in bench/RESULTS.md were measured against. */
const SQUAWK_VERSION = '2.66.0';

function squawkVersion(): string {
  const result = spawnSync(squawkBin, ['--version'], { encoding: 'utf8' });
  return result.stdout.trim() || 'squawk';
}

function main(): void {
  const runs = argument('runs', 7);
  const statements = argument('statements', 10_000);
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'ignore' });
  if (build.status !== 0 || !existsSync(shipEntry)) throw new Error(`npm run build exited ${build.status}; it should produce ${shipEntry}`);
  if (!existsSync(squawkBin)) {
    // Installed here, not as a dependency: its lock entries for other platforms' binaries break
    // `npm ci`, and only this benchmark needs it.
    const install = spawnSync('npm', ['install', '--no-save', `squawk-cli@${SQUAWK_VERSION}`], { cwd: root, stdio: 'inherit' });
    if (install.status !== 0 || !existsSync(squawkBin)) throw new Error(`could not install squawk-cli@${SQUAWK_VERSION} (npm exited ${install.status})`);
  }

  const dir = mkdtempSync(join(tmpdir(), 'ship-lint-bench-'));
  try {
    const file = join(dir, 'V1__bench.sql');
    const sql = generateMigration(statements);
    writeFileSync(file, sql);
    const check = spawnSync(process.execPath, [shipBin, 'lint-migrations', file, '--format', 'json'], { cwd: root, env: benchEnv, maxBuffer: 1 << 28 });
    const report = JSON.parse(String(check.stdout)) as { statementCount: number; findings: unknown[] };
    if (report.statementCount !== statements) throw new Error(`ship saw ${report.statementCount} statements, expected ${statements}`);

    const json = race('json', runs, [process.execPath, [shipBin, 'lint-migrations', file, '--format', 'json']], [squawkBin, ['--reporter', 'json', file]]);
    const text = race('text', runs, [process.execPath, [shipBin, 'lint-migrations', file]], [squawkBin, [file]]);
    const target = 0.8;
    const result = {
      name: 'lint-throughput',
      statements,
      fileBytes: Buffer.byteLength(sql),
      shipFindings: report.findings.length,
      runs,
      machine: `${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}`,
      command: `node --import tsx bench/lint-throughput.ts --runs ${runs} --statements ${statements}`,
      ship: 'bin/ship.js lint-migrations <file> (compiled by tsc and bundled by esbuild: npm run build, as published)',
      environment: 'both without NODE_EXTRA_CA_CERTS (see the header)',
      squawk: `${squawkVersion()} (node_modules/.bin/squawk)`,
      target: `ship wall time <= ${target} x squawk`,
      json: { ...json, met: json.ratio <= target },
      text: { ...text, met: text.ratio <= target },
    };
    console.log(JSON.stringify(result));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
