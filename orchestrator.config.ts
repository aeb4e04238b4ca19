/**
 * The example config. It drives the demo fleet that `npm run demo` starts on loopback: the
 * hosts, key and runtime API address come from the fleet the demo just made (fleet.json), and
 * everything else is what a real config for a small HAProxy fleet looks like.
 *
 * For your own fleet: list your hosts, point ssh at your key and known_hosts, and the runtime
 * API at your HAProxy's stats socket (see README.md, "Config").
 */
import { readFileSync } from 'node:fs';
import { defineConfig } from './src/index.js';

interface DemoFleet {
  hosts: Array<{ name: string; address: string; appDir: string }>;
  runtimeApi: string;
  privateKey: string;
  knownHosts: string;
  appPort: number;
}

const fleetFile = process.env.SHIP_DEMO_FLEET ?? '/tmp/ship-fleet/demo.json';
let fleet: DemoFleet;
try {
  fleet = JSON.parse(readFileSync(fleetFile, 'utf8')) as DemoFleet;
} catch {
  throw new Error(`no demo fleet description at ${fleetFile}: run \`npm run demo\`, which starts the fleet and writes it`);
}

export default defineConfig({
  app: 'demo',
  hosts: fleet.hosts.map((host) => ({
    name: host.name,
    address: host.address,
    // Per-host variables: every step of the playbook sees them as ctx.vars.
    vars: { appDir: host.appDir, restart: `sh ${host.appDir}/restart.sh ${host.appDir}` },
  })),
  ssh: {
    user: 'root',
    privateKey: fleet.privateKey,
    knownHosts: fleet.knownHosts,
    configFile: false,
    connectTimeout: '5s',
    commandTimeout: '60s',
  },
  loadBalancer: { type: 'haproxy', runtimeApi: fleet.runtimeApi, backend: 'app' },
  health: { http: { port: fleet.appPort, path: '/healthz', successThreshold: 1, interval: '20ms', timeout: '1s' } },
  rollout: { batchSize: 1, canary: true, drainTimeout: '10s', healthyTimeout: '10s', maxFailures: 0 },
  vars: { keepReleases: 3 },
  state: { store: 'file', path: '.ship' },
});
