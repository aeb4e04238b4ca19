/** One probe of one instance. `waitUntilHealthy` turns probes into consecutive-success thresholds. */
export interface CheckResult {
  ok: boolean;
  detail: string;
}

export interface Check {
  readonly name: string;
  readonly successThreshold: number;
  readonly intervalMs: number;
  probe(signal?: AbortSignal): Promise<CheckResult>;
}
