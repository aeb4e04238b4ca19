import http from 'node:http';
import https from 'node:https';
import type { Check, CheckResult } from './check.js';

export interface HttpCheckOptions {
  address: string;
  port: number;
  path: string;
  scheme: 'http' | 'https';
  expectStatus: number | number[];
  bodyMatch?: string;
  timeoutMs: number;
  successThreshold: number;
  intervalMs: number;
}

const MAX_BODY_BYTES = 64 * 1024;

/** Sent from the orchestrator straight to the instance (not through the load balancer). */
export class HttpCheck implements Check {
  readonly name: string;
  readonly successThreshold: number;
  readonly intervalMs: number;
  private readonly expected: number[];
  private readonly bodyPattern?: RegExp;

  constructor(private readonly options: HttpCheckOptions) {
    this.name = `http ${options.scheme}://${options.address.includes(':') ? `[${options.address}]` : options.address}:${options.port}${options.path}`;
    this.successThreshold = options.successThreshold;
    this.intervalMs = options.intervalMs;
    this.expected = Array.isArray(options.expectStatus) ? options.expectStatus : [options.expectStatus];
    if (options.bodyMatch !== undefined) this.bodyPattern = new RegExp(options.bodyMatch);
  }

  probe(signal?: AbortSignal): Promise<CheckResult> {
    const client = this.options.scheme === 'https' ? https : http;
    return new Promise((resolve) => {
      const request = client.request(
        {
          host: this.options.address,
          port: this.options.port,
          path: this.options.path,
          method: 'GET',
          // A fresh connection per probe: a reused socket could hide that the new process is not listening.
          agent: false,
          timeout: this.options.timeoutMs,
          headers: { 'user-agent': 'ship-health-check', connection: 'close' },
          ...(signal ? { signal } : {}),
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size <= MAX_BODY_BYTES) chunks.push(chunk);
          });
          response.on('end', () => {
            const status = response.statusCode ?? 0;
            if (!this.expected.includes(status)) {
              return resolve({ ok: false, detail: `status ${status}, expected ${this.expected.join(' or ')}` });
            }
            if (this.bodyPattern && !this.bodyPattern.test(Buffer.concat(chunks).toString('utf8'))) {
              return resolve({ ok: false, detail: `status ${status} but body does not match /${this.bodyPattern.source}/` });
            }
            resolve({ ok: true, detail: `status ${status}` });
          });
          response.on('error', (error) => resolve({ ok: false, detail: error.message }));
        },
      );
      request.on('timeout', () => request.destroy(new Error(`no answer within ${this.options.timeoutMs}ms`)));
      request.on('error', (error: NodeJS.ErrnoException) => resolve({ ok: false, detail: error.code ? `${error.code}: ${error.message}` : error.message }));
      request.end();
    });
  }
}
