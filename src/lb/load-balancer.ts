import { ERROR_CODES, type CodedError } from '../errors/codes.js';

/**
 * The seam between the rollout and whatever sends traffic to the fleet. Member names are the
 * host's `lbName` (HAProxy server name, ELBv2 target id). Every method fails closed: when the
 * load balancer cannot be asked, it throws; it never guesses.
 */
export interface MemberState {
  name: string;
  /** The load balancer itself considers the member healthy and would send it traffic. */
  healthy: boolean;
  /** Taking traffic: healthy and administratively enabled. */
  inService: boolean;
  /** Connections still open to the member (where the load balancer reports them). */
  sessions?: number;
  /** Raw state for messages, e.g. 'UP/READY', 'draining'. */
  detail: string;
}

/** The response counters of one server HAProxy keeps since it started (`show stat`). */
export interface ServerCounters {
  /** `req_tot`: requests sent to the server; where a HAProxy lacks the column and the `hrsp_*` sum stands in. */
  requests: number;
  /** `hrsp_5xx`: 5xx answers the server gave. */
  http5xx: number;
  /** `eresp`: responses that failed (server closed, timed out, invalid); `srv_abrt` is counted in it too. */
  eresp: number;
  /** `econ`: requests that could not connect to the server; not in `req_tot` (measured on 2.6). */
  econ: number;
  /** `wretr`: connection retries (each a failed connect HAProxy retried elsewhere or again). */
  wretr: number;
  /** `srv_abrt`: transfers the server aborted. */
  srvAbrt: number;
}

export interface WaitOptions {
  deadlineMs: number;
  signal?: AbortSignal;
  /** Called with each observation while waiting, for progress events. */
  onProgress?: (state: MemberState) => void;
}

/**
 * What makes a host that was put back wait for the load balancer, read from the load balancer's
 * own settings, and the setting to change to shorten that wait: said once per run when that wait
 * is most of a host's time out of rotation.
 */
export interface WaitSettings {
  /** What the wait is made of, with the values read (e.g. HAProxy's check interval, a target group's interval and threshold). */
  cause: string;
  /** The setting to change, named as the load balancer names it (`inter`, `fastinter`, `rise`, `HealthCheckIntervalSeconds`). */
  change: string;
}

export interface LoadBalancer {
  readonly kind: string;
  /** Reachability and member existence check, for pre-flight. Throws naming what is missing. */
  verify(memberNames: string[]): Promise<void>;
  /**
   * Provider-specific pre-flight, after `verify`: settings of the load balancer itself that would
   * make the rollout unsafe. Returns a detail line for the report; throws to refuse.
   */
  preflight?(options: { drainTimeoutMs: number }): Promise<string | void>;
  /** Live state of every member the rollout cares about. */
  members(memberNames: string[]): Promise<MemberState[]>;
  /** Stop new traffic to the member; existing connections may finish. */
  startDrain(name: string): Promise<void>;
  /** Resolves when no connections remain; rejects with a DeadlineError when the deadline passes. */
  waitDrained(name: string, options: WaitOptions): Promise<void>;
  /** Fully out of rotation (HAProxy maint, ELBv2 deregistered). */
  takeOut(name: string): Promise<void>;
  /**
   * Back into rotation. May wait (up to the options' deadline) for the load balancer's own check of
   * the instance before letting traffic in (HAProxy does); returns a line saying how the load
   * balancer confirmed it, where there is one. `waitHealthy` follows it either way.
   */
  putBack(name: string, options: WaitOptions): Promise<string | void>;
  /** Resolves when the load balancer's own health checks say the member is healthy. */
  waitHealthy(name: string, options: WaitOptions): Promise<void>;
  /**
   * Cumulative request counters per member, where the load balancer keeps them (HAProxy); a
   * canary's bake compares two readings. Absent where there are none (ELBv2 has no per-target
   * counters, only CloudWatch metrics).
   */
  counters?(memberNames: string[]): Promise<Map<string, ServerCounters>>;
  /** The settings that make a host wait after it is put back (see WaitSettings), where they can be read. */
  waitSettings?(memberNames: string[]): Promise<WaitSettings | undefined>;
  close(): Promise<void>;
}

export class LoadBalancerError extends Error implements CodedError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LoadBalancerError';
  }

  get shipCode() {
    return ERROR_CODES.loadBalancerUnusable;
  }
}
