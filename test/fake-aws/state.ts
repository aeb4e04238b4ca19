import http from 'node:http';
import { AwsFault } from './faults.js';

/**
 * What the fake AWS account holds: EC2 instances and ELBv2 target groups, with each registered
 * target moving through the states a real target group reports. Health checks are real HTTP
 * requests to the target's address (the test fleet's apps on loopback), so a target becomes
 * `healthy` only when something actually answers there.
 */

export type InstanceStateName = 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';

export interface FakeInstanceSpec {
  id: string;
  privateIp: string;
  publicIp?: string;
  state?: InstanceStateName;
  tags?: Record<string, string>;
}

export interface FakeInstance extends FakeInstanceSpec {
  state: InstanceStateName;
  tags: Record<string, string>;
}

export interface FakeTargetGroupSpec {
  name: string;
  /** Defaults to an ARN in the fake's region and account. */
  arn?: string;
  /** Traffic port, used for targets registered without one and for health checks. */
  port: number;
  targetType?: 'instance' | 'ip';
  healthCheckPath?: string;
  /** Defaults to the traffic port of each target. */
  healthCheckPort?: number;
  /** The `deregistration_delay.timeout_seconds` attribute. AWS's default is 300. */
  deregistrationDelaySeconds?: number;
  /**
   * Simulated client connections of a draining target end this long after deregistration, so
   * draining finishes early. Absent: they stay open for the whole deregistration delay.
   */
  drainConnectionsMs?: number;
  /** Registered when the fake starts, in the state given by `initialTargetState`. */
  targets?: Array<{ id: string; port?: number }>;
}

export interface FakeStateOptions {
  region?: string;
  accountId?: string;
  instances?: FakeInstanceSpec[];
  targetGroups?: FakeTargetGroupSpec[];
  /** Consecutive passing checks that turn a target healthy. */
  healthyThreshold?: number;
  /** Consecutive failing checks that turn a target unhealthy. */
  unhealthyThreshold?: number;
  checkIntervalMs?: number;
  checkTimeoutMs?: number;
  /** CloudWatch alarms (DescribeAlarms); a test changes their state with setAlarm. */
  alarms?: Array<{ name: string; state?: FakeAlarmState; reason?: string }>;
  /** State of the targets listed in `targetGroups[].targets` at start: an already running fleet is 'healthy'. */
  initialTargetState?: 'healthy' | 'initial';
}

export type FakeAlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

export interface FakeAlarm {
  name: string;
  state: FakeAlarmState;
  reason: string;
  updatedAt: number;
}

export type TargetHealthState = 'initial' | 'healthy' | 'unhealthy' | 'draining';

export interface TargetHealthView {
  id: string;
  port: number;
  state: TargetHealthState | 'unused';
  reason?: string;
  description?: string;
}

interface TargetRecord {
  id: string;
  port: number;
  state: TargetHealthState;
  reason?: string;
  description?: string;
  successes: number;
  failures: number;
  probing: boolean;
  drainTimer?: NodeJS.Timeout;
}

export interface FakeTargetGroup {
  arn: string;
  name: string;
  port: number;
  targetType: 'instance' | 'ip';
  healthCheckPath: string;
  healthCheckPort?: number;
  deregistrationDelaySeconds: number;
  drainConnectionsMs?: number;
  targets: Map<string, TargetRecord>;
}

/** A target's state change in one group, in the order they happened (`seq`), for assertions about ordering. */
export interface TransitionRecord {
  seq: number;
  group: string;
  id: string;
  port: number;
  to: TargetHealthState | 'unused';
  at: number;
}

export interface CallRecord {
  service: 'ec2' | 'elbv2' | 'cloudwatch';
  action: string;
  params: Record<string, string>;
  status: number;
  at: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function targetKey(id: string, port: number): string {
  return `${id}:${port}`;
}

type ProbeOutcome = { ok: true } | { ok: false; reason: string; description: string };

export class FakeAwsState {
  readonly region: string;
  readonly accountId: string;
  readonly instances = new Map<string, FakeInstance>();
  readonly targetGroups = new Map<string, FakeTargetGroup>();
  readonly calls: CallRecord[] = [];
  readonly alarms = new Map<string, FakeAlarm>();
  readonly transitions: TransitionRecord[] = [];
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
  readonly checkIntervalMs: number;
  readonly checkTimeoutMs: number;
  private checkTimer: NodeJS.Timeout | undefined;
  /** Target ids whose health checks the load balancer cannot reach (time out), as after a security group change. */
  private readonly unreachable = new Set<string>();

  /** Creates the alarm or changes its state, as CloudWatch's evaluation would. */
  setAlarm(name: string, state: FakeAlarmState, reason = `set to ${state} by the test`): void {
    this.alarms.set(name, { name, state, reason, updatedAt: Date.now() });
  }

  constructor(options: FakeStateOptions) {
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '123456789012';
    this.healthyThreshold = options.healthyThreshold ?? 2;
    this.unhealthyThreshold = options.unhealthyThreshold ?? 2;
    this.checkIntervalMs = options.checkIntervalMs ?? 100;
    this.checkTimeoutMs = options.checkTimeoutMs ?? 500;
    for (const spec of options.instances ?? []) this.addInstance(spec);
    for (const alarm of options.alarms ?? []) this.setAlarm(alarm.name, alarm.state ?? 'OK', alarm.reason);
    for (const spec of options.targetGroups ?? []) {
      const group = this.addTargetGroup(spec);
      for (const target of spec.targets ?? []) {
        const port = target.port ?? group.port;
        const healthy = (options.initialTargetState ?? 'healthy') === 'healthy';
        group.targets.set(targetKey(target.id, port), {
          id: target.id,
          port,
          state: healthy ? 'healthy' : 'initial',
          reason: healthy ? undefined : 'Elb.RegistrationInProgress',
          description: healthy ? undefined : 'Target registration is in progress',
          successes: healthy ? this.healthyThreshold : 0,
          failures: 0,
          probing: false,
        });
      }
    }
  }

  addInstance(spec: FakeInstanceSpec): FakeInstance {
    const instance: FakeInstance = { ...spec, state: spec.state ?? 'running', tags: { ...(spec.tags ?? {}) } };
    this.instances.set(spec.id, instance);
    return instance;
  }

  addTargetGroup(spec: FakeTargetGroupSpec): FakeTargetGroup {
    const arn = spec.arn ?? `arn:aws:elasticloadbalancing:${this.region}:${this.accountId}:targetgroup/${spec.name}/${hexId(spec.name)}`;
    const group: FakeTargetGroup = {
      arn,
      name: spec.name,
      port: spec.port,
      targetType: spec.targetType ?? 'instance',
      healthCheckPath: spec.healthCheckPath ?? '/',
      healthCheckPort: spec.healthCheckPort,
      deregistrationDelaySeconds: spec.deregistrationDelaySeconds ?? 300,
      drainConnectionsMs: spec.drainConnectionsMs,
      targets: new Map(),
    };
    this.targetGroups.set(arn, group);
    return group;
  }

  /** By ARN or by name, for tests. */
  group(arnOrName: string): FakeTargetGroup {
    const group = this.targetGroups.get(arnOrName) ?? [...this.targetGroups.values()].find((candidate) => candidate.name === arnOrName);
    if (!group) throw new AwsFault('TargetGroupNotFound', `Target groups '${arnOrName}' not found`);
    return group;
  }

  /** Current health of a target as DescribeTargetHealth would report it ('unused' when not registered). */
  targetHealth(arnOrName: string, id: string, port?: number): TargetHealthView {
    const group = this.group(arnOrName);
    const effectivePort = port ?? group.port;
    const record = group.targets.get(targetKey(id, effectivePort));
    if (!record) {
      return {
        id,
        port: effectivePort,
        state: 'unused',
        reason: 'Target.NotRegistered',
        description: 'Target is not registered to the target group',
      };
    }
    const instanceState = group.targetType === 'instance' ? this.instances.get(id)?.state : 'running';
    if (instanceState !== 'running' && record.state !== 'draining') {
      return { id, port: record.port, state: 'unused', reason: 'Target.InvalidState', description: `Target is in the ${instanceState} state` };
    }
    return { id, port: record.port, state: record.state, reason: record.reason, description: record.description };
  }

  registeredTargets(arnOrName: string): TargetHealthView[] {
    const group = this.group(arnOrName);
    return [...group.targets.values()].map((record) => this.targetHealth(group.arn, record.id, record.port));
  }

  /** Throws InvalidTarget the way RegisterTargets and DescribeTargetHealth do for targets that cannot exist. */
  validateTargets(group: FakeTargetGroup, ids: string[], forRegistration: boolean): void {
    if (group.targetType === 'ip') {
      const invalid = ids.filter((id) => !IPV4.test(id));
      if (invalid.length) {
        throw new AwsFault('InvalidTarget', `The following targets are not valid IP addresses: ${invalid.map((id) => `'${id}'`).join(', ')}`);
      }
      return;
    }
    const unknown = ids.filter((id) => !this.instances.has(id));
    if (unknown.length) {
      throw new AwsFault('InvalidTarget', `The following targets are not valid instances: ${unknown.map((id) => `'${id}'`).join(', ')}`);
    }
    if (forRegistration) {
      const notRunning = ids.filter((id) => this.instances.get(id)?.state !== 'running');
      if (notRunning.length) {
        throw new AwsFault('InvalidTarget', `The following targets are not in a running state and cannot be registered: ${notRunning.map((id) => `'${id}'`).join(', ')}`);
      }
    }
  }

  register(arnOrName: string, targets: Array<{ id: string; port?: number }>): void {
    const group = this.group(arnOrName);
    this.validateTargets(
      group,
      targets.map((target) => target.id),
      true,
    );
    for (const target of targets) {
      const port = target.port ?? group.port;
      const key = targetKey(target.id, port);
      const existing = group.targets.get(key);
      if (existing && existing.state !== 'draining') continue;
      if (existing?.drainTimer) clearTimeout(existing.drainTimer);
      group.targets.set(key, {
        id: target.id,
        port,
        state: 'initial',
        reason: 'Elb.RegistrationInProgress',
        description: 'Target registration is in progress',
        successes: 0,
        failures: 0,
        probing: false,
      });
      this.recordTransition(group, target.id, port, 'initial');
    }
  }

  deregister(arnOrName: string, targets: Array<{ id: string; port?: number }>): void {
    const group = this.group(arnOrName);
    this.validateTargets(
      group,
      targets.map((target) => target.id),
      false,
    );
    for (const target of targets) {
      const record = group.targets.get(targetKey(target.id, target.port ?? group.port));
      if (!record || record.state === 'draining') continue;
      record.state = 'draining';
      record.reason = 'Target.DeregistrationInProgress';
      record.description = 'Target deregistration is in progress';
      this.recordTransition(group, record.id, record.port, 'draining');
      const delayMs = group.deregistrationDelaySeconds * 1000;
      const drainMs = Math.min(delayMs, group.drainConnectionsMs ?? Infinity);
      record.drainTimer = setTimeout(() => this.finishDraining(group, record), drainMs);
      record.drainTimer.unref();
    }
  }

  /** The simulated connections of a draining target end now: it leaves every group it is draining from. */
  endConnections(id: string): void {
    for (const group of this.targetGroups.values()) {
      for (const record of group.targets.values()) {
        if (record.id === id && record.state === 'draining') this.finishDraining(group, record);
      }
    }
  }

  /** From now on the target's health checks time out (it keeps serving everyone else); `false` lifts that. */
  blockHealthChecks(id: string, blocked = true): void {
    if (blocked) this.unreachable.add(id);
    else this.unreachable.delete(id);
  }

  callCount(action: string): number {
    return this.calls.filter((call) => call.action === action).length;
  }

  startHealthChecks(): void {
    this.checkTimer = setInterval(() => this.checkAll(), this.checkIntervalMs);
    this.checkTimer.unref();
  }

  stop(): void {
    if (this.checkTimer) clearInterval(this.checkTimer);
    for (const group of this.targetGroups.values()) {
      for (const record of group.targets.values()) if (record.drainTimer) clearTimeout(record.drainTimer);
    }
  }

  private finishDraining(group: FakeTargetGroup, record: TargetRecord): void {
    if (record.drainTimer) clearTimeout(record.drainTimer);
    const key = targetKey(record.id, record.port);
    if (group.targets.get(key) === record) {
      group.targets.delete(key);
      this.recordTransition(group, record.id, record.port, 'unused');
    }
  }

  private recordTransition(group: FakeTargetGroup, id: string, port: number, to: TransitionRecord['to']): void {
    this.transitions.push({ seq: this.transitions.length, group: group.name, id, port, to, at: Date.now() });
  }

  private checkAll(): void {
    for (const group of this.targetGroups.values()) {
      for (const record of group.targets.values()) {
        if (record.state === 'draining' || record.probing) continue;
        record.probing = true;
        void this.probe(group, record).then((outcome) => {
          record.probing = false;
          const before = record.state;
          this.applyCheck(record, outcome);
          if (record.state !== before && group.targets.get(targetKey(record.id, record.port)) === record) {
            this.recordTransition(group, record.id, record.port, record.state);
          }
        });
      }
    }
  }

  private applyCheck(record: TargetRecord, outcome: ProbeOutcome): void {
    if (record.state === 'draining') return;
    if (outcome.ok) {
      record.successes++;
      record.failures = 0;
      if (record.state === 'healthy') return;
      if (record.successes >= this.healthyThreshold) {
        record.state = 'healthy';
        record.reason = undefined;
        record.description = undefined;
      } else if (record.state === 'initial') {
        record.reason = 'Elb.InitialHealthChecking';
        record.description = 'Initial health checks in progress';
      }
      return;
    }
    record.failures++;
    record.successes = 0;
    if (record.state === 'unhealthy' || record.failures >= this.unhealthyThreshold) {
      record.state = 'unhealthy';
      record.reason = outcome.reason;
      record.description = outcome.description;
    } else if (record.state === 'initial') {
      record.reason = 'Elb.InitialHealthChecking';
      record.description = 'Initial health checks in progress';
    }
  }

  private probe(group: FakeTargetGroup, record: TargetRecord): Promise<ProbeOutcome> {
    const host = group.targetType === 'ip' ? record.id : this.instances.get(record.id)?.privateIp;
    if (!host) return Promise.resolve({ ok: false, reason: 'Target.FailedHealthChecks', description: 'Health checks failed' });
    if (this.unreachable.has(record.id)) {
      return new Promise((resolve) => setTimeout(() => resolve({ ok: false, reason: 'Target.Timeout', description: 'Request timed out' }), this.checkTimeoutMs).unref());
    }
    return new Promise((resolve) => {
      const request = http.get({ host, port: group.healthCheckPort ?? record.port, path: group.healthCheckPath, agent: false, timeout: this.checkTimeoutMs }, (response) => {
        response.resume();
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 400) resolve({ ok: true });
        else {
          resolve({
            ok: false,
            reason: 'Target.ResponseCodeMismatch',
            description: `Health checks failed with these codes: [${status}]`,
          });
        }
      });
      request.on('timeout', () => {
        request.destroy();
        resolve({ ok: false, reason: 'Target.Timeout', description: 'Request timed out' });
      });
      request.on('error', () => resolve({ ok: false, reason: 'Target.FailedHealthChecks', description: 'Health checks failed' }));
    });
  }
}

/** A stable 16-hex-digit id derived from the name, like the suffix of a real target group ARN. */
function hexId(name: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const char of name) hash = ((hash ^ BigInt(char.charCodeAt(0))) * 0x100000001b3n) & 0xffffffffffffffffn;
  return hash.toString(16).padStart(16, '0');
}
