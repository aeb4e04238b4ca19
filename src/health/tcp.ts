import net from 'node:net';
import type { Check, CheckResult } from './check.js';

export class TcpCheck implements Check {
  readonly name: string;

  constructor(
    private readonly address: string,
    private readonly port: number,
    private readonly timeoutMs: number,
    readonly successThreshold: number,
    readonly intervalMs: number,
  ) {
    this.name = `tcp ${address}:${port}`;
  }

  probe(signal?: AbortSignal): Promise<CheckResult> {
    return new Promise((resolve) => {
      const socket = net.connect({ host: this.address, port: this.port, timeout: this.timeoutMs, ...(signal ? { signal } : {}) });
      socket.once('connect', () => {
        socket.destroy();
        resolve({ ok: true, detail: 'connected' });
      });
      socket.once('timeout', () => {
        socket.destroy();
        resolve({ ok: false, detail: `no connection within ${this.timeoutMs}ms` });
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve({ ok: false, detail: error.code ?? error.message }));
    });
  }
}
