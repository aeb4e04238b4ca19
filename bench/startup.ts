/**
 * Start-up benchmark (issue 17, item 3): how long ship takes before it does anything useful.
 *
 * - `ship --help`: spawn to exit.
 * - `ship deploy --json` on a real 2-host fleet behind HAProxy: spawn to the first NDJSON event
 *   (`run.started`) arriving on ship's stdout, i.e. node start, module loading, loading and
 *   checking the TypeScript config, the playbook and the plan. The config is written the way a
 *   user writes one: a .ts file that imports `defineConfig` from the package (here its compiled
 *   entry, dist/src/index.js, by absolute path). jiti's transpile cache is warmed by one run first
 *   (the first run of a new config pays ~0.2 s more to transpile it; reported on its own).
 *
 * ship runs as published: `node bin/ship.js` after `npm run build`. The deploys are real (every
 * run rolls the 2 hosts to a new version), so the figure includes nothing simulated. Prints one
 * JSON object.
 *
 * The figures are taken without NODE_EXTRA_CA_CERTS, which this workplace sets and a stock machine
 * does not: node then parses a whole CA bundle at every start (about 30-40 ms here, `node -e 0`
 * included), which has nothing to do with ship. The same runs with it set are reported beside them.
 *
 *   node --import tsx bench/startup.ts [--runs 11]
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { startFleet } from '../test/fleet/fleet.js';
import { fleetConfig } from '../test/fleet/fleet.js';
import { argument, median, ROOT } from './lib/common.js';

const SHIP_BIN = join(ROOT, 'bin', 'ship.js');
const BUILT_INDEX = join(ROOT, 'dist', 'src', 'index.js');
const TARGETS = { firstEventMs: 250, helpMs: 150 };

const round = (value: number) => Math.round(value * 10) / 10;

interface Timed {
  /** Spawn to the first line on stdout (the first event, with --json). */
  firstLineMs: number;
  /** Spawn to exit. */
  exitMs: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of a stock machine: this workplace's CA bundle left out (see the header). */
const STOCK_ENV: NodeJS.ProcessEnv = (({ NODE_EXTRA_CA_CERTS: _ca, ...rest }) => rest)(process.env);
const CA_BUNDLE = process.env.NODE_EXTRA_CA_CERTS;

function timed(args: string[], env: NodeJS.ProcessEnv = STOCK_ENV): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let firstLineMs = Number.NaN;
    let stdout = '';
    let stderr = '';
    const child = spawn(process.execPath, [SHIP_BIN, ...args], { cwd: ROOT, env: { ...env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (Number.isNaN(firstLineMs) && (stdout + chunk).includes('\n')) firstLineMs = performance.now() - started;
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ firstLineMs, exitMs: performance.now() - started, code, stdout, stderr }));
  });
}

async function main(): Promise<void> {
  const runs = argument('runs', 11);
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  if (build.status !== 0 || !existsSync(BUILT_INDEX)) throw new Error(`npm run build exited ${build.status}`);

  const fleet = await startFleet({ hosts: 2 });
  try {
    const config = join(fleet.dir, 'startup.config.ts');
    await writeFile(config, `import { defineConfig } from ${JSON.stringify(BUILT_INDEX)};\n\nexport default defineConfig(${JSON.stringify(fleetConfig(fleet), null, 2)});\n`);
    let version = 1;
    const deploy = async (env?: NodeJS.ProcessEnv): Promise<Timed> => {
      version += 1;
      const artifact = await fleet.artifact(`v${version}`);
      const result = await timed(['deploy', '--config', config, '--version', `v${version}`, '--artifact', artifact, '--json'], env);
      const first = JSON.parse(result.stdout.split('\n')[0] ?? '') as { type?: string };
      if (result.code !== 0 || first.type !== 'run.started') {
        throw new Error(`ship deploy exited ${result.code} (first event ${first.type}):\n${result.stderr.slice(-2000)}\n${result.stdout.slice(-2000)}`);
      }
      return result;
    };
    const help = async (env?: NodeJS.ProcessEnv): Promise<Timed> => {
      const result = await timed(['--help'], env);
      if (result.code !== 0 || !result.stdout.includes('ship <command>')) throw new Error(`ship --help exited ${result.code}: ${result.stderr}`);
      return result;
    };

    const load = [loadavg()[0]!];
    const cold = await deploy();
    const deploys: Timed[] = [];
    const helps: Timed[] = [];
    const withCa = { deploys: [] as Timed[], helps: [] as Timed[] };
    // Alternate, so background load hits both alike.
    for (let i = 0; i < runs; i++) {
      helps.push(await help());
      deploys.push(await deploy());
      if (CA_BUNDLE) {
        withCa.helps.push(await help(process.env));
        withCa.deploys.push(await deploy(process.env));
      }
      load.push(loadavg()[0]!);
    }
    const firstEvent = deploys.map((d) => round(d.firstLineMs));
    const helpMs = helps.map((h) => round(h.exitMs));
    const nodeAlone = [];
    const nodeAloneWithCa = [];
    for (let i = 0; i < runs; i++) {
      let started = performance.now();
      spawnSync(process.execPath, ['-e', '0'], { env: STOCK_ENV });
      nodeAlone.push(round(performance.now() - started));
      if (!CA_BUNDLE) continue;
      started = performance.now();
      spawnSync(process.execPath, ['-e', '0']);
      nodeAloneWithCa.push(round(performance.now() - started));
    }
    const result = {
      benchmark: 'startup',
      runs,
      ship: 'node bin/ship.js, compiled by tsc and bundled (npm run build, as published)',
      config: 'a .ts config importing defineConfig from the package (dist/src/index.js), loaded by jiti with its transpile cache warm',
      fleet: '2 hosts (sshd + app each) behind HAProxy, loadBalancer.type haproxy; each run deploys a new version to both',
      targets: { firstEvent: `<= ${TARGETS.firstEventMs} ms to the first event`, help: `ship --help <= ${TARGETS.helpMs} ms` },
      deployFirstEvent: { medianMs: round(median(firstEvent)), runsMs: firstEvent, met: median(firstEvent) <= TARGETS.firstEventMs },
      deployFirstEventColdCacheMs: round(cold.firstLineMs),
      deployWall: { medianMs: round(median(deploys.map((d) => d.exitMs))), runsMs: deploys.map((d) => round(d.exitMs)) },
      help: { medianMs: round(median(helpMs)), runsMs: helpMs, met: median(helpMs) <= TARGETS.helpMs },
      nodeAlone: { medianMs: round(median(nodeAlone)), command: 'node -e 0' },
      environment: 'without NODE_EXTRA_CA_CERTS (a stock machine); the same runs with it, as this workplace sets it, in withWorkplaceCaBundle',
      ...(CA_BUNDLE
        ? {
            withWorkplaceCaBundle: {
              firstEventMedianMs: round(median(withCa.deploys.map((d) => d.firstLineMs))),
              helpMedianMs: round(median(withCa.helps.map((h) => h.exitMs))),
              nodeAloneMedianMs: round(median(nodeAloneWithCa)),
            },
          }
        : {}),
      load1: load,
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await fleet.stop();
  }
}

await main();
