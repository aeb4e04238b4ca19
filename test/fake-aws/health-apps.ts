import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Small HTTP apps on loopback for the fake's health checks to probe: one per instance, each on
 * its own 127.X.Y.n address of a random block, all on the same port (as instances behind one
 * target group are). Each answers every path with its current status per path, so a test can
 * make an instance fail its health check, or fail one target group's check path only.
 */

export interface HealthApp {
  address: string;
  port: number;
  /** Status answered for a path; paths not set answer `defaultStatus`. */
  statusByPath: Map<string, number>;
  defaultStatus: number;
  /** Requests seen per path, to prove the health checks really reached the app. */
  hits: Map<string, number>;
}

export interface HealthApps {
  apps: HealthApp[];
  port: number;
  stop(): Promise<void>;
}

function randomBlock(): string {
  const octet = () => 10 + Math.floor(Math.random() * 241);
  return `127.${octet()}.${octet()}`;
}

function listen(server: http.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

async function tryStart(count: number): Promise<HealthApps> {
  const block = randomBlock();
  const servers: http.Server[] = [];
  const apps: HealthApp[] = [];
  const stop = async () => {
    for (const server of servers) server.closeAllConnections();
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  };
  let port = 0;
  try {
    for (let index = 0; index < count; index++) {
      const app: HealthApp = { address: `${block}.${10 + index}`, port: 0, statusByPath: new Map(), defaultStatus: 200, hits: new Map() };
      const server = http.createServer((request, response) => {
        const path = (request.url ?? '/').split('?')[0] ?? '/';
        app.hits.set(path, (app.hits.get(path) ?? 0) + 1);
        response.writeHead(app.statusByPath.get(path) ?? app.defaultStatus, { connection: 'close' });
        response.end('ok\n');
      });
      servers.push(server);
      port = await listen(server, app.address, port);
      app.port = port;
      apps.push(app);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { apps, port, stop };
}

export async function startHealthApps(count: number): Promise<HealthApps> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await tryStart(count);
    } catch (error) {
      // Another test's leftover may hold the port on one of these addresses: pick another block.
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 5) throw error;
    }
  }
}
