/**
 * `npm run demo`: starts a local fleet of four hosts (sshd + app each) behind HAProxy on
 * loopback, sends load through HAProxy, rolls v2 out with the real `ship deploy` and the example
 * orchestrator.config.ts, then prints the failed-request count and tears the fleet down.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describeFleet, FLEET_ROOT, startFleet } from './fleet/fleet.js';
import { startLoad } from './fleet/loadgen.js';
import { sleep } from '../src/util/deadline.js';
import { REPO_ROOT } from './support/cli.js';

const HOSTS = 4;
const RPS = 400;

async function main(): Promise<number> {
  console.log(`demo: starting ${HOSTS} hosts (sshd + app v1 each) behind HAProxy on loopback ...`);
  const fleet = await startFleet({ hosts: HOSTS });
  const fleetFile = join(FLEET_ROOT, 'demo.json');
  const stopFleet = async () => {
    await fleet.stop();
    await rm(fleetFile, { force: true });
    console.log('demo: fleet stopped and removed');
  };
  process.once('SIGINT', () => void stopFleet().then(() => process.exit(130)));
  try {
    await writeFile(fleetFile, JSON.stringify(describeFleet(fleet), null, 2));
    const artifact = await fleet.artifact('v2');
    console.log(`demo: ${fleet.hosts.map((h) => `${h.name}@${h.address}`).join(', ')}; HAProxy at ${fleet.frontendUrl}`);
    console.log(`demo: load: ${RPS} requests/s through HAProxy, half keep-alive, half fresh connections`);
    const load = await startLoad({ url: fleet.frontendUrl, rps: RPS, durationMs: 120_000 });
    await sleep(500);
    console.log('demo: $ ship deploy --version v2 --artifact app-v2.tgz\n');
    const ship = await execa(process.execPath, [join(REPO_ROOT, 'bin', 'ship.js'), 'deploy', '--version', 'v2', '--artifact', artifact], {
      cwd: REPO_ROOT,
      env: { SHIP_DEMO_FLEET: fleetFile },
      stdio: 'inherit',
      reject: false,
    });
    await sleep(500);
    const tally = await load.stop();
    const versions = await Promise.all(fleet.hosts.map(async (h) => `${h.name}=${((await (await fetch(h.appUrl)).json()) as { version: string }).version}`));
    console.log(`\ndemo: ship exited ${ship.exitCode}; hosts now serve ${versions.join(' ')}`);
    console.log(
      `demo: requests: ${tally.sent} sent, ${tally.ok} ok, FAILED: ${tally.failed}` +
        ` (keep-alive ${tally.keepAlive.failed}/${tally.keepAlive.sent}, fresh ${tally.fresh.failed}/${tally.fresh.sent}); versions seen ${JSON.stringify(tally.versions)}`,
    );
    if (tally.failed > 0) console.log(`demo: first failures: ${JSON.stringify(tally.firstFailures.slice(0, 5))}`);
    return ship.exitCode === 0 && tally.failed === 0 ? 0 : 1;
  } finally {
    await stopFleet();
  }
}

process.exitCode = await main();
