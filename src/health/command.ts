import { unsafeRaw } from '../shell/sh.js';
import type { Transport } from '../transport/transport.js';
import type { Check, CheckResult } from './check.js';

/** A command the user wrote in the config, run on the host; exit 0 is healthy. */
export class CommandCheck implements Check {
  readonly name: string;

  constructor(
    private readonly transport: Transport,
    private readonly command: string,
    private readonly timeoutMs: number,
    readonly successThreshold: number,
    readonly intervalMs: number,
  ) {
    this.name = `command ${command}`;
  }

  async probe(signal?: AbortSignal): Promise<CheckResult> {
    try {
      const result = await this.transport.exec(unsafeRaw(this.command), { timeoutMs: this.timeoutMs, ...(signal ? { signal } : {}) });
      if (result.code === 0) return { ok: true, detail: 'exit 0' };
      const said = (result.stderr || result.stdout).trim().split('\n').slice(-1)[0] ?? '';
      return { ok: false, detail: `exit ${result.code}${said ? `: ${said}` : ''}` };
    } catch (error) {
      return { ok: false, detail: (error as Error).message };
    }
  }
}
