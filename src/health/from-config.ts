import type { HealthConfig } from '../config/schema.js';
import type { Transport } from '../transport/transport.js';
import type { Check } from './check.js';
import { CommandCheck } from './command.js';
import { HttpCheck } from './http.js';
import { TcpCheck } from './tcp.js';

export function checksFor(health: HealthConfig, address: string, transport: Transport): Check[] {
  const checks: Check[] = [];
  if (health.http) {
    checks.push(
      new HttpCheck({
        address,
        port: health.http.port,
        path: health.http.path,
        scheme: health.http.scheme,
        expectStatus: health.http.expectStatus,
        ...(health.http.bodyMatch !== undefined ? { bodyMatch: health.http.bodyMatch } : {}),
        timeoutMs: health.http.timeout,
        successThreshold: health.http.successThreshold,
        intervalMs: health.http.interval,
      }),
    );
  }
  if (health.tcp) checks.push(new TcpCheck(address, health.tcp.port, health.tcp.timeout, health.tcp.successThreshold, health.tcp.interval));
  if (health.command) {
    checks.push(new CommandCheck(transport, health.command.run, health.command.timeout, health.command.successThreshold, health.command.interval));
  }
  return checks;
}
