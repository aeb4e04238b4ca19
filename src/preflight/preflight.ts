import type { EventBus } from '../events.js';
import { codeOf } from '../errors/coded.js';
import { ERROR_CODES, type CodedError, type ErrorCode } from '../errors/codes.js';

/** A named prerequisite checked before anything changes; it throws to refuse, with the reason. */
export interface PreflightCheck {
  name: string;
  run(): Promise<string | void>;
}

/** The pre-flight checks by name (src/commands/pipeline/preflight-checks.ts, src/preflight/database-checks.ts). */
const CHECK_CODES: Record<string, ErrorCode> = {
  'playbook variables': ERROR_CODES.playbookVarsMissing,
  'capacity plan': ERROR_CODES.capacityPlanRefused,
  connectivity: ERROR_CODES.hostUnreachable,
  'host keys': ERROR_CODES.hostKeyRejected,
  'load balancer': ERROR_CODES.loadBalancerUnusable,
  database: ERROR_CODES.databaseCheckFailed,
  replicas: ERROR_CODES.databaseCheckFailed,
  migrations: ERROR_CODES.migrationRefused,
  lock: ERROR_CODES.lockHeld,
  capacity: ERROR_CODES.capacityPlanRefused,
  secrets: ERROR_CODES.secretUnavailable,
};

export class PreflightRefused extends Error implements CodedError {
  constructor(
    readonly failures: Array<{ check: string; reason: string }>,
    options?: { cause?: unknown },
  ) {
    super(`pre-flight refused, nothing was changed:\n${failures.map((f) => `  - ${f.check}: ${f.reason}`).join('\n')}`, options);
    this.name = 'PreflightRefused';
  }

  /** Named by the first check that failed. */
  get shipCode(): ErrorCode {
    const check = this.failures[0]?.check;
    return (check !== undefined ? CHECK_CODES[check] : undefined) ?? ERROR_CODES.preflightFailed;
  }

  /** Refusing is what pre-flight does; why it refused (a changed host key, missing permissions) is the more useful code. */
  get shipCodeYieldsToCause(): boolean {
    return true;
  }
}

/**
 * Runs the checks in order, each after the previous one passed: a later check often needs what
 * an earlier one established (connections before load-balancer membership). Independent work
 * inside a check runs in parallel there. With `all` (ship check), every check runs and every
 * failure is reported together.
 */
export async function runPreflight(checks: PreflightCheck[], bus: EventBus, options: { all?: boolean } = {}): Promise<void> {
  const failures: Array<{ check: string; reason: string; error: unknown }> = [];
  for (const check of checks) {
    try {
      const detail = await check.run();
      bus.emit({ type: 'preflight.check', name: check.name, status: 'passed', detail: detail || 'ok' });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const refused = new PreflightRefused([{ check: check.name, reason }], { cause: error });
      bus.emit({ type: 'preflight.check', name: check.name, status: 'failed', detail: reason, ...codeOf(refused) });
      if (!options.all) throw refused;
      failures.push({ check: check.name, reason, error });
    }
  }
  if (failures.length > 0) {
    throw new PreflightRefused(
      failures.map(({ check, reason }) => ({ check, reason })),
      { cause: failures[0]!.error },
    );
  }
}
