/**
 * In-memory seams for unit tests of the rollout engine: a load balancer that records every
 * change and the largest number of members out at once, and a transport whose commands are
 * answered by a function. The integration tests use the real sshd and HAProxy instead.
 */
import type { LoadBalancer, MemberState, WaitOptions } from '../../src/lb/load-balancer.js';
import { LoadBalancerError } from '../../src/lb/load-balancer.js';
import type { ShellCommand } from '../../src/shell/sh.js';
import type { ExecResult, Transport, UploadResult } from '../../src/transport/transport.js';
import { DeadlineError } from '../../src/util/deadline.js';

type Admin = 'ready' | 'drain' | 'maint';

export class MemoryLoadBalancer implements LoadBalancer {
  readonly kind = 'memory';
  readonly admin = new Map<string, Admin>();
  readonly healthy = new Map<string, boolean>();
  readonly log: string[] = [];
  maxOut = 0;
  /** Make the next call of a method fail, as an unreachable API would. */
  failOn = new Set<keyof LoadBalancer>();

  /** `keepLog: false`: no `log` (a simulation of 10,000 instances measures ship's memory, not this log's). */
  constructor(
    names: string[],
    private readonly options: { keepLog?: boolean } = {},
  ) {
    for (const name of names) {
      this.admin.set(name, 'ready');
      this.healthy.set(name, true);
    }
  }

  /** Members not 'ready' now, kept as they change (counting them on every call made the simulation of 10,000 quadratic). */
  private out = 0;

  private act(method: keyof LoadBalancer, name: string, admin?: Admin): void {
    if (this.failOn.has(method)) throw new LoadBalancerError(`memory lb: ${String(method)} unreachable`);
    if (this.options.keepLog !== false) this.log.push(`${String(method)} ${name}`);
    if (admin) {
      const before = this.admin.get(name);
      this.admin.set(name, admin);
      this.out += Number(admin !== 'ready') - Number(before !== undefined && before !== 'ready');
    }
    this.maxOut = Math.max(this.maxOut, this.out);
  }

  async verify(names: string[]): Promise<void> {
    const missing = names.filter((n) => !this.admin.has(n));
    if (missing.length) throw new LoadBalancerError(`memory lb: no member ${missing.join(', ')}`);
  }

  async members(names: string[]): Promise<MemberState[]> {
    if (this.failOn.has('members')) throw new LoadBalancerError('memory lb: members unreachable');
    return names.map((name) => {
      const admin = this.admin.get(name) ?? 'maint';
      const healthy = this.healthy.get(name) ?? false;
      return { name, healthy, inService: admin === 'ready', sessions: 0, detail: `${healthy ? 'UP' : 'DOWN'}/${admin}` };
    });
  }

  async startDrain(name: string) {
    this.act('startDrain', name, 'drain');
  }
  async waitDrained(name: string) {
    this.act('waitDrained', name);
  }
  async takeOut(name: string) {
    this.act('takeOut', name, 'maint');
  }
  async putBack(name: string) {
    this.act('putBack', name, 'ready');
  }
  async waitHealthy(name: string, options: WaitOptions) {
    this.act('waitHealthy', name);
    if (!this.healthy.get(name)) throw new DeadlineError(name, 'load balancer health', options.deadlineMs, 'DOWN');
  }
  async close() {}
}

export type CommandHandler = (host: string, command: string) => Partial<ExecResult> | Promise<Partial<ExecResult>>;

export class MemoryTransport implements Transport {
  readonly commands: string[] = [];
  readonly uploads: Array<{ from: string; to: string }> = [];
  connected = false;

  /** `keepLog: false`: no `commands` (see MemoryLoadBalancer). */
  constructor(
    readonly host: string,
    private readonly handler: CommandHandler = () => ({}),
    private readonly options: { keepLog?: boolean } = {},
  ) {}

  async connect() {
    this.connected = true;
  }

  async exec(command: ShellCommand): Promise<ExecResult> {
    if (this.options.keepLog !== false) this.commands.push(command.text);
    const result = await this.handler(this.host, command.text);
    return { code: 0, stdout: '', stderr: '', durationMs: 0, ...result };
  }

  async upload(from: string, to: string): Promise<UploadResult> {
    this.uploads.push({ from, to });
    return { bytes: 0, sha256: '' };
  }

  async close() {
    this.connected = false;
  }
}
