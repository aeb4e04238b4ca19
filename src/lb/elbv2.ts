import { isIP } from 'node:net';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { parseTargetGroupArn } from '../aws/arn.js';
import { awsClientConfig, describeEndpoint } from '../aws/clients.js';
import { Elbv2Api, type TargetGroupInfo, type TargetHealthEntry, type TargetRef } from '../aws/elbv2-api.js';
import { formatDuration } from '../util/duration.js';
import { DeadlineError, pollUntil } from '../util/deadline.js';
import { LoadBalancerError, type LoadBalancer, type MemberState, type WaitOptions, type WaitSettings } from './load-balancer.js';

/**
 * ELBv2 (ALB/NLB) target groups. A member is one target (an instance id, or an IP for `ip`
 * target groups) in every configured group: it is drained from all of them and counts as
 * healthy only when every group says `healthy`, so an instance behind two listeners never takes
 * traffic on one while it is being changed behind the other.
 *
 * Deregistration is both "stop new traffic" and "out of rotation" for ELBv2, so `startDrain`
 * deregisters and `takeOut` has nothing left to do.
 *
 * A batch's instances drain, wait and come back side by side; their calls are made per target
 * group, not per instance. DescribeTargetHealth answers for every target of a group: the reads
 * asked for in the same turn of the event loop go out as one, and a wait also takes a read another
 * wait sent less than a poll interval ago, as long as it was sent after this wait's own
 * (de)registration (so it cannot predate the change it waits on). (De)registrations asked for in
 * the same turn are one call per group. Right after a (de)registration a target is always
 * 'draining' or 'initial', so the waits look first one poll interval later.
 */

export interface Elbv2Options {
  region: string;
  endpoint?: string;
  targetGroupArns: string[];
  maxAttempts?: number;
  /** Between DescribeTargetHealth calls while waiting. */
  pollIntervalMs?: number;
  /** How long past the largest deregistration delay a target may still show as draining before it is an error. */
  deregistrationMarginMs?: number;
  /** Member name (the host's lbName) → target id (instance id or IP) and, optionally, the port it is registered with. */
  resolveTarget: (memberName: string) => { id: string; port?: number };
}

const DEFAULT_POLL_INTERVAL_MS = 2_000;
const DEFAULT_DEREGISTRATION_MARGIN_MS = 15_000;
const SUPPORTED_TARGET_TYPES = new Set(['instance', 'ip']);

interface GroupView {
  group: TargetGroupInfo;
  /** This target's registrations in the group (one per port); empty when not registered. */
  entries: TargetHealthEntry[];
}

interface DrainRecord {
  startedAt: number;
  /** performance.now() once the deregistration was accepted: reads sent since then show it. */
  changedAt: number;
  /** What was deregistered from each group, so putBack registers exactly that again. */
  deregistered: Map<string, TargetRef[]>;
}

type Change = 'register' | 'deregister';

interface PendingChange {
  targets: TargetRef[];
  callers: Array<{ targets: TargetRef[]; resolve: () => void; reject: (error: unknown) => void }>;
}

function matches(entry: TargetHealthEntry, target: TargetRef): boolean {
  return entry.id === target.id && (target.port === undefined || entry.port === target.port);
}

function describeEntry(entry: TargetHealthEntry): string {
  const why = entry.reason ? ` (${entry.reason}${entry.description ? `: ${entry.description}` : ''})` : '';
  return `${entry.state}${why}`;
}

function describeView(view: GroupView): string {
  const states = view.entries.length ? view.entries.map(describeEntry).join(', ') : 'not registered';
  return `${view.group.name}: ${states}`;
}

const healthyIn = (view: GroupView) => view.entries.length > 0 && view.entries.every((entry) => entry.state === 'healthy');
const goneFrom = (view: GroupView) => view.entries.every((entry) => entry.state === 'unused');

export class Elbv2LoadBalancer implements LoadBalancer {
  readonly kind = 'elbv2';
  private readonly api: Elbv2Api;
  private readonly arns: string[];
  private readonly pollIntervalMs: number;
  private readonly marginMs: number;
  private groups: Promise<TargetGroupInfo[]> | undefined;
  private readonly drains = new Map<string, DrainRecord>();
  /** Per group, the target-health read not sent yet, that callers of this turn share. */
  private readonly healthReads = new Map<string, Promise<TargetHealthEntry[]>>();
  /** Per group, the last read sent and when (performance.now()): waits changed before it may use it. */
  private readonly lastReads = new Map<string, { sentAt: number; entries: Promise<TargetHealthEntry[]> }>();
  /** performance.now() once each member's registration was accepted (putBack). */
  private readonly registeredAt = new Map<string, number>();
  /** Per group and kind, the (de)registration not sent yet, that callers of this turn share. */
  private readonly changes = new Map<string, PendingChange>();

  constructor(private readonly options: Elbv2Options) {
    if (options.targetGroupArns.length === 0) {
      throw new LoadBalancerError('elbv2: loadBalancer.targetGroupArns is empty; list the target groups the fleet is registered in');
    }
    for (const arn of options.targetGroupArns) {
      let parsed: ReturnType<typeof parseTargetGroupArn>;
      try {
        parsed = parseTargetGroupArn(arn);
      } catch (error) {
        throw new LoadBalancerError(`elbv2: loadBalancer.targetGroupArns: ${(error as Error).message}`);
      }
      if (parsed.region !== options.region) {
        throw new LoadBalancerError(
          `elbv2: target group ${arn} is in region ${parsed.region}, but the configured region is ${options.region}; ` +
            'set loadBalancer.region to the region of the target groups (one region per rollout)',
        );
      }
    }
    this.arns = [...new Set(options.targetGroupArns)];
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.marginMs = options.deregistrationMarginMs ?? DEFAULT_DEREGISTRATION_MARGIN_MS;
    let client: ElasticLoadBalancingV2Client;
    try {
      client = new ElasticLoadBalancingV2Client(awsClientConfig(options));
    } catch (error) {
      throw new LoadBalancerError(`elbv2: ${(error as Error).message}`);
    }
    this.api = new Elbv2Api(client, describeEndpoint(options), options.region);
  }

  async verify(memberNames: string[]): Promise<void> {
    this.groups = undefined;
    const groups = await this.targetGroups();
    const unsupported = groups.filter((group) => !SUPPORTED_TARGET_TYPES.has(group.targetType));
    if (unsupported.length) {
      throw new LoadBalancerError(
        `elbv2: target type ${unsupported.map((group) => `'${group.targetType}' of ${group.name}`).join(', ')} is not supported; ship rolls instance and ip target groups`,
      );
    }
    const problems: string[] = [];
    const targets = memberNames.map((name) => ({ name, target: this.target(name) }));
    for (const { name, target } of targets) {
      for (const group of groups) {
        if (group.targetType === 'ip' && !isIP(target.id)) {
          problems.push(`${name} maps to target '${target.id}', which is not an IP address as target group ${group.name} (ip type) needs`);
        }
        if (group.targetType === 'instance' && !target.id.startsWith('i-')) {
          problems.push(`${name} maps to target '${target.id}', which is not an instance id as target group ${group.name} (instance type) needs`);
        }
      }
    }
    const health = await this.allTargetHealth(groups);
    for (const { name, target } of targets) {
      for (const { group, entries } of health) {
        const registered = entries.filter((entry) => matches(entry, target));
        if (registered.length === 0) {
          problems.push(`${this.label(name, target)} is not registered in target group ${group.name} (${group.arn})`);
        } else if (registered.every((entry) => entry.state === 'unused')) {
          // Registered but taking no traffic (stopped instance, zone not enabled): rolling it proves nothing.
          problems.push(`${this.label(name, target)} is registered in target group ${group.name} but unused: ${registered.map(describeEntry).join(', ')}`);
        }
      }
    }
    if (problems.length) {
      throw new LoadBalancerError(
        `elbv2 pre-flight failed:\n  - ${problems.join('\n  - ')}\n` +
          'Register the missing targets (or fix lbName / the target group list) before rolling; ship never rolls an instance the load balancer does not know.',
      );
    }
  }

  async members(memberNames: string[]): Promise<MemberState[]> {
    const health = await this.allTargetHealth(await this.targetGroups());
    return memberNames.map((name) => {
      const target = this.target(name);
      const views = health.map(({ group, entries }) => ({ group, entries: entries.filter((entry) => matches(entry, target)) }));
      return this.memberState(name, views);
    });
  }

  async startDrain(name: string): Promise<void> {
    const target = this.target(name);
    const groups = await this.targetGroups();
    const startedAt = Date.now();
    const deregistered = new Map<string, TargetRef[]>();
    await this.wrap(`drain ${this.label(name, target)}`, () =>
      Promise.all(
        groups.map(async (group) => {
          // A read up to one poll interval old (usually the capacity check's, just before) tells the ports, as the waits'
          // reads tell the state; a port registered since would keep the drain wait from ending: it fails closed.
          const live = (await this.groupHealth(group.arn, performance.now() - this.pollIntervalMs)).filter((entry) => matches(entry, target) && entry.state !== 'unused');
          // Deregister every port the target is registered with; deregistering a target that is not there is a no-op in AWS.
          const refs = live.length ? live.map((entry) => ({ id: entry.id, port: entry.port })) : [target];
          await this.change('deregister', group.arn, refs);
          deregistered.set(group.arn, refs);
        }),
      ),
    );
    this.drains.set(name, { startedAt, changedAt: performance.now(), deregistered });
  }

  async waitDrained(name: string, options: WaitOptions): Promise<void> {
    const target = this.target(name);
    const groups = await this.targetGroups();
    const longestDelayMs = await this.longestDeregistrationDelayMs();
    const sinceDrain = Date.now() - (this.drains.get(name)?.startedAt ?? Date.now());
    // Draining ends when connections close or the delay runs out, whichever is first; past delay + margin something is wrong.
    const deadlineMs = Math.max(0, Math.min(options.deadlineMs, longestDelayMs + this.marginMs - sinceDrain));
    const since = this.drains.get(name)?.changedAt ?? performance.now();
    await pollUntil(
      async () => {
        const views = await this.views(target, groups, since);
        const state = this.memberState(name, views);
        options.onProgress?.(state);
        return { done: views.every(goneFrom), seen: state, describe: state.detail };
      },
      {
        instance: this.label(name, target),
        step: `deregistration from target groups (deregistration delay ${formatDuration(longestDelayMs)})`,
        deadlineMs,
        intervalMs: this.pollIntervalMs,
        signal: options.signal,
        ...(this.drains.has(name) ? { firstAfterMs: this.pollIntervalMs } : {}),
      },
    );
  }

  /**
   * Refuses a drain timeout shorter than a group's deregistration delay: ship would stop waiting
   * and restart the instance while that group still sends it the requests it is draining.
   */
  async preflight({ drainTimeoutMs }: { drainTimeoutMs: number }): Promise<string> {
    const groups = await this.targetGroups();
    const seconds = (ms: number) => `${ms / 1000}s`;
    const tooLong = groups.filter((group) => group.deregistrationDelayMs > drainTimeoutMs).sort((a, b) => b.deregistrationDelayMs - a.deregistrationDelayMs);
    if (tooLong.length) {
      const longest = tooLong[0]!;
      throw new LoadBalancerError(
        `elbv2: the deregistration delay of ${tooLong.map((group) => `target group ${group.name} (${seconds(group.deregistrationDelayMs)})`).join(', ')} ` +
          `is longer than rollout.drainTimeout (${seconds(drainTimeoutMs)}): a drain could be cut off while the load balancer still sends in-flight requests. ` +
          `Lower the group's deregistration_delay.timeout_seconds attribute to at most ${Math.floor(drainTimeoutMs / 1000)}, ` +
          `or raise rollout.drainTimeout to at least '${seconds(longest.deregistrationDelayMs)}'.`,
      );
    }
    const longest = groups.reduce((a, b) => (b.deregistrationDelayMs > a.deregistrationDelayMs ? b : a));
    return `deregistration delay ${seconds(longest.deregistrationDelayMs)} (${longest.name}) within drainTimeout ${seconds(drainTimeoutMs)}`;
  }

  /** The largest deregistration delay of the configured groups: a drain can take this long. */
  async longestDeregistrationDelayMs(): Promise<number> {
    return Math.max(...(await this.targetGroups()).map((group) => group.deregistrationDelayMs));
  }

  /** Deregistration in startDrain already took the target out of rotation; nothing is left to do. */
  async takeOut(_name: string): Promise<void> {}

  async putBack(name: string): Promise<void> {
    const target = this.target(name);
    const groups = await this.targetGroups();
    const deregistered = this.drains.get(name)?.deregistered;
    await this.wrap(`register ${this.label(name, target)}`, () => Promise.all(groups.map((group) => this.change('register', group.arn, deregistered?.get(group.arn) ?? [target]))));
    this.drains.delete(name);
    this.registeredAt.set(name, performance.now());
  }

  async waitHealthy(name: string, options: WaitOptions): Promise<void> {
    const target = this.target(name);
    const groups = await this.targetGroups();
    const registeredAt = this.registeredAt.get(name);
    this.registeredAt.delete(name);
    const since = registeredAt ?? performance.now();
    await pollUntil(
      async () => {
        const views = await this.views(target, groups, since);
        const state = this.memberState(name, views);
        options.onProgress?.(state);
        return { done: state.healthy, seen: state, describe: state.detail };
      },
      {
        instance: this.label(name, target),
        step: 'become healthy in every target group',
        deadlineMs: options.deadlineMs,
        intervalMs: this.pollIntervalMs,
        signal: options.signal,
        ...(registeredAt !== undefined ? { firstAfterMs: this.pollIntervalMs } : {}),
      },
    );
  }

  /** The group whose checks take longest to call a registered target healthy: HealthCheckIntervalSeconds x HealthyThresholdCount. */
  async waitSettings(_memberNames: string[]): Promise<WaitSettings | undefined> {
    const groups = (await this.targetGroups()).filter((group) => group.healthCheckIntervalSeconds !== undefined && group.healthyThresholdCount !== undefined);
    if (groups.length === 0) return undefined;
    const slowest = groups.reduce((a, b) => (b.healthCheckIntervalSeconds! * b.healthyThresholdCount! > a.healthCheckIntervalSeconds! * a.healthyThresholdCount! ? b : a));
    const interval = slowest.healthCheckIntervalSeconds!;
    const threshold = slowest.healthyThresholdCount!;
    return {
      cause:
        `target group ${slowest.name} checks a registered target every ${interval} s (HealthCheckIntervalSeconds) and calls it healthy after ` +
        `${threshold} passing checks (HealthyThresholdCount): up to ${interval * threshold} s`,
      change: `lower HealthCheckIntervalSeconds (5 at the least) or HealthyThresholdCount (2 at the least) of target group ${slowest.name}`,
    };
  }

  async close(): Promise<void> {
    this.api.destroy();
  }

  /** Target groups with their deregistration delays, read once per verify. A failed read is retried next time. */
  private targetGroups(): Promise<TargetGroupInfo[]> {
    if (!this.groups) {
      this.groups = this.wrap('read target groups', () => this.api.describeTargetGroups(this.arns));
      this.groups.catch(() => (this.groups = undefined));
    }
    return this.groups;
  }

  /** `since` (performance.now()): the reads must have been sent after it; default now, a fresh read. */
  private allTargetHealth(groups: TargetGroupInfo[], since = performance.now()): Promise<Array<{ group: TargetGroupInfo; entries: TargetHealthEntry[] }>> {
    return this.wrap('read target health', () => Promise.all(groups.map(async (group) => ({ group, entries: await this.groupHealth(group.arn, since) }))));
  }

  /**
   * Every target's health in the group: the last read if it was sent after `since` and less than
   * a poll interval ago, else a read sent when this turn of the event loop ends, for all who ask in it.
   */
  private groupHealth(arn: string, since: number): Promise<TargetHealthEntry[]> {
    const last = this.lastReads.get(arn);
    if (last && last.sentAt >= since && performance.now() - last.sentAt < this.pollIntervalMs) return last.entries;
    let read = this.healthReads.get(arn);
    if (!read) {
      read = new Promise((resolve, reject) => {
        setImmediate(() => {
          this.healthReads.delete(arn);
          const entries = this.api.targetHealth(arn);
          const sent = { sentAt: performance.now(), entries };
          this.lastReads.set(arn, sent);
          // A failed read answers nobody else.
          entries.catch(() => {
            if (this.lastReads.get(arn) === sent) this.lastReads.delete(arn);
          });
          entries.then(resolve, reject);
        });
      });
      this.healthReads.set(arn, read);
    }
    return read;
  }

  /**
   * Registers or deregisters `targets` in the group together with the others asked for in this
   * turn of the event loop, in one call. Should that call fail, each caller's targets go again on
   * their own, so one bad target fails its own instance only, as when every call was its own.
   */
  private change(kind: Change, arn: string, targets: TargetRef[]): Promise<void> {
    const key = `${kind} ${arn}`;
    return new Promise((resolve, reject) => {
      let pending = this.changes.get(key);
      if (!pending) {
        const batch: PendingChange = { targets: [], callers: [] };
        pending = batch;
        this.changes.set(key, batch);
        setImmediate(() => {
          this.changes.delete(key);
          void this.sendChange(kind, arn, batch);
        });
      }
      pending.targets.push(...targets);
      pending.callers.push({ targets, resolve, reject });
    });
  }

  private async sendChange(kind: Change, arn: string, batch: PendingChange): Promise<void> {
    const send = (targets: TargetRef[]) => (kind === 'register' ? this.api.register(arn, targets) : this.api.deregister(arn, targets));
    try {
      await send(batch.targets);
      for (const caller of batch.callers) caller.resolve();
    } catch (error) {
      if (batch.callers.length === 1) return batch.callers[0]!.reject(error);
      for (const caller of batch.callers) send(caller.targets).then(caller.resolve, caller.reject);
    }
  }

  private async views(target: TargetRef, groups: TargetGroupInfo[], since: number): Promise<GroupView[]> {
    const health = await this.allTargetHealth(groups, since);
    return health.map(({ group, entries }) => ({ group, entries: entries.filter((entry) => matches(entry, target)) }));
  }

  private memberState(name: string, views: GroupView[]): MemberState {
    const healthy = views.every(healthyIn);
    return { name, healthy, inService: healthy, detail: views.map(describeView).join('; ') };
  }

  private target(name: string): TargetRef {
    let resolved: { id: string; port?: number };
    try {
      resolved = this.options.resolveTarget(name);
    } catch (error) {
      throw new LoadBalancerError(`elbv2: cannot map member '${name}' to a target: ${(error as Error).message}`);
    }
    return resolved.port === undefined ? { id: resolved.id } : { id: resolved.id, port: resolved.port };
  }

  private label(name: string, target: TargetRef): string {
    return name === target.id ? name : `${name} (${target.id})`;
  }

  /** AWS failures surface as LoadBalancerError (fail closed) with the AWS message, which never carries credentials. */
  private async wrap<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof LoadBalancerError || error instanceof DeadlineError) throw error;
      throw new LoadBalancerError(`elbv2: ${what}: ${(error as Error).message}`, { cause: error });
    }
  }
}
