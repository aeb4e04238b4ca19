/**
 * HAProxy as the load balancer, driven through its runtime API. Every operation goes to every
 * configured node (an HA pair runs the same backend on two hosts): a member counts as healthy
 * only when every node says so, sessions are summed over nodes, and one node that cannot be
 * asked fails the operation (fail closed).
 */
import { z } from 'zod';
import { duration } from '../config/fields.js';
import { pollUntil } from '../util/deadline.js';
import { defineLoadBalancer } from './adapter.js';
import { LoadBalancerError, type LoadBalancer, type MemberState, type ServerCounters, type WaitOptions } from './load-balancer.js';
import {
  ADMIN,
  OP_STATE,
  RuntimeApiClient,
  assertHaproxyName,
  parseRuntimeApi,
  type RuntimeEndpoint,
  type ServerStateRow,
  type ServerStatRow,
  type SshConnector,
} from './haproxy-runtime.js';

export interface HaproxyOptions {
  backend: string;
  nodes: RuntimeEndpoint[];
  /** How often waits ask HAProxy again. Default 200 ms. */
  pollIntervalMs?: number;
  /** Per runtime API command. Default 5000 ms. */
  commandTimeoutMs?: number;
  /** Opens the SSH connection for ssh:// nodes, with the configured SSH settings. */
  connectSsh?: SshConnector;
}

/** One node's view of one server. */
interface NodeView {
  node: string;
  state: ServerStateRow;
  stat: ServerStatRow;
}

export class HaproxyLoadBalancer implements LoadBalancer {
  readonly kind = 'haproxy';
  private readonly backend: string;
  private readonly clients: RuntimeApiClient[];
  private readonly pollIntervalMs: number;

  constructor(options: HaproxyOptions) {
    assertHaproxyName('backend', options.backend);
    if (options.nodes.length === 0) throw new LoadBalancerError('haproxy: no runtime API node configured (loadBalancer.runtimeApi)');
    this.backend = options.backend;
    this.pollIntervalMs = options.pollIntervalMs ?? 200;
    const clientOptions: { timeoutMs?: number; connectSsh?: SshConnector } = {};
    if (options.commandTimeoutMs !== undefined) clientOptions.timeoutMs = options.commandTimeoutMs;
    if (options.connectSsh) clientOptions.connectSsh = options.connectSsh;
    this.clients = options.nodes.map((endpoint) => new RuntimeApiClient(endpoint, clientOptions));
  }

  async verify(memberNames: string[]): Promise<void> {
    for (const name of memberNames) assertHaproxyName('server', name);
    await this.onEveryNode(async (client) => {
      const [level, servers] = await Promise.all([client.level(), client.serversState(this.backend)]);
      if (level !== 'admin') {
        throw new LoadBalancerError(`haproxy ${client.name}: the runtime API is at level '${level}'; drain and maintenance need 'level admin' on the stats socket`);
      }
      const known = new Set(servers.map((server) => server.name));
      const missing = memberNames.filter((name) => !known.has(name));
      if (missing.length > 0) {
        throw new LoadBalancerError(
          `haproxy ${client.name}: backend '${this.backend}' has no server ${missing.join(', ')} (it has ${[...known].join(', ') || 'none'}); check the hosts' lbName`,
        );
      }
    });
  }

  async members(memberNames: string[]): Promise<MemberState[]> {
    const perName = await this.snapshot(memberNames);
    return memberNames.map((name, i) => combine(name, perName[i]!));
  }

  async startDrain(name: string): Promise<void> {
    await this.setState(name, 'drain');
  }

  async waitDrained(name: string, options: WaitOptions): Promise<void> {
    await pollUntil(
      async () => {
        const views = await this.views(name);
        // A node that forgot the drain (for example reloaded without a server-state file) would
        // send new requests again; counting its sessions down to a lucky zero is not "drained".
        const forgot = views.find((view) => (view.state.adminState & (ADMIN.drain | ADMIN.maint)) === 0);
        if (forgot) {
          throw new LoadBalancerError(
            `haproxy ${forgot.node}: server ${this.backend}/${name} is not draining (status ${forgot.stat.status}); start the drain again before waiting for it`,
          );
        }
        const member = combine(name, views);
        options.onProgress?.(member);
        const left = views.reduce((sum, view) => sum + view.stat.sessions + view.stat.queued, 0);
        return { done: left === 0, seen: member, describe: describeSessions(views) };
      },
      this.waitOptions(name, 'drain', options),
    );
  }

  async takeOut(name: string): Promise<void> {
    await this.setState(name, 'maint');
  }

  /**
   * Found on HAProxy 2.6: leaving maintenance with `set server <b>/<s> state ready`, a server
   * with health checks is UP at once ("UP/READY (leaving forced maintenance)", status 'UP 1/2'
   * with rise 3 fall 2) without a single new check, because checks are paused in maintenance and
   * the verdict from before it is kept. So a freshly restarted app would get traffic before
   * HAProxy ever checked it. To make "the load balancer agrees it is healthy" mean a check passed
   * after the restart, a server coming out of maintenance goes drain -> forced health down ->
   * ready in one runtime API line: drain takes it out of maintenance without new traffic (checks
   * resume), health down makes HAProxy wait for `rise` passing checks, ready re-enables it; it gets
   * traffic only once those checks pass. Measured: DOWN -> 'DOWN 1/3' -> 'DOWN 2/3' -> UP.
   * A server that is only draining kept being checked all along, so it is just set ready; one
   * without health checks is set ready too (HAProxy then reports 'no check': it has no view).
   */
  async putBack(name: string): Promise<void> {
    assertHaproxyName('server', name);
    const server = `${this.backend}/${name}`;
    await this.onEveryNode(async (client) => {
      const state = (await client.serversState(this.backend)).find((row) => row.name === name);
      if (!state) throw new LoadBalancerError(`haproxy ${client.name}: backend '${this.backend}' has no server ${name}`);
      if ((state.adminState & (ADMIN.maint | ADMIN.drain)) === 0) return;
      const leavingMaintenance = (state.adminState & ADMIN.maint) !== 0;
      if (leavingMaintenance && state.checked) {
        await client.runSilent(`set server ${server} state drain; set server ${server} health down; set server ${server} state ready`);
      } else {
        await client.runSilent(`set server ${server} state ready`);
      }
    });
  }

  async waitHealthy(name: string, options: WaitOptions): Promise<void> {
    await pollUntil(
      async () => {
        const views = await this.views(name);
        // Forced maintenance or drain never ends by itself; waiting out the deadline would only hide that.
        const held = views.find((view) => (view.state.adminState & (ADMIN.forcedMaint | ADMIN.configMaint | ADMIN.forcedDrain)) !== 0);
        if (held) {
          throw new LoadBalancerError(`haproxy ${held.node}: server ${this.backend}/${name} is held in ${held.stat.status}; put it back before waiting for it to be healthy`);
        }
        const member = combine(name, views);
        options.onProgress?.(member);
        return { done: views.every(isFullyUp), seen: member, describe: member.detail };
      },
      this.waitOptions(name, 'load balancer health', options),
    );
  }

  /** Each server's counters summed over every node: a request counts wherever it came in. */
  async counters(names: string[]): Promise<Map<string, ServerCounters>> {
    const perName = await this.snapshot(names);
    return new Map(names.map((name, i) => [name, sumCounters(perName[i]!.map((view) => view.stat.counters))]));
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.close()));
  }

  private async views(name: string): Promise<NodeView[]> {
    return (await this.snapshot([name]))[0]!;
  }

  /** For each name, every node's view of that server: two commands per node, however many names. */
  private async snapshot(names: string[]): Promise<NodeView[][]> {
    for (const name of names) assertHaproxyName('server', name);
    const perNode = await this.onEveryNode(async (client) => {
      const [states, stats] = await Promise.all([client.serversState(this.backend), client.serverStats(this.backend)]);
      return names.map((name): NodeView => {
        const state = states.find((row) => row.name === name);
        const stat = stats.find((row) => row.name === name);
        if (!state || !stat) throw new LoadBalancerError(`haproxy ${client.name}: backend '${this.backend}' has no server ${name}`);
        return { node: client.name, state, stat };
      });
    });
    return names.map((_, i) => perNode.map((views) => views[i]!));
  }

  private async setState(name: string, state: 'drain' | 'maint'): Promise<void> {
    assertHaproxyName('server', name);
    await this.onEveryNode((client) => client.runSilent(`set server ${this.backend}/${name} state ${state}`));
  }

  private waitOptions(name: string, step: string, options: WaitOptions) {
    const poll: { instance: string; step: string; deadlineMs: number; intervalMs: number; signal?: AbortSignal } = {
      instance: name,
      step,
      deadlineMs: options.deadlineMs,
      intervalMs: this.pollIntervalMs,
    };
    if (options.signal) poll.signal = options.signal;
    return poll;
  }

  /** Runs on all nodes at once; any node failing fails the whole, naming every node that failed. */
  private async onEveryNode<T>(operation: (client: RuntimeApiClient) => Promise<T>): Promise<T[]> {
    const results = await Promise.allSettled(this.clients.map((client) => operation(client)));
    const failures = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected').map((result) => result.reason as unknown);
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) {
      const message = failures.map((failure) => (failure instanceof Error ? failure.message : String(failure))).join('; ');
      throw new LoadBalancerError(message, { cause: failures[0] });
    }
    return results.map((result) => (result as PromiseFulfilledResult<T>).value);
  }
}

function sumCounters(rows: ServerCounters[]): ServerCounters {
  const total: ServerCounters = { requests: 0, http5xx: 0, eresp: 0, econ: 0, wretr: 0, srvAbrt: 0 };
  for (const row of rows) for (const key of Object.keys(total) as Array<keyof ServerCounters>) total[key] += row[key];
  return total;
}

/** UP by HAProxy's own checks (or it has none), fully enabled, on this node. */
function isFullyUp(view: NodeView): boolean {
  return view.state.opState === OP_STATE.running && view.state.adminState === 0 && (view.stat.status === 'UP' || view.stat.status === 'no check');
}

function combine(name: string, views: NodeView[]): MemberState {
  const healthy = views.every((view) => view.state.opState === OP_STATE.running && (view.state.adminState & ADMIN.maint) === 0);
  const inService = healthy && views.every((view) => view.state.adminState === 0 && /^(UP|no check)/.test(view.stat.status));
  const statuses = [...new Set(views.map((view) => view.stat.status))];
  const detail = statuses.length === 1 ? statuses[0]! : views.map((view) => `${view.stat.status} on ${view.node}`).join(', ');
  return { name, healthy, inService, sessions: views.reduce((sum, view) => sum + view.stat.sessions, 0), detail };
}

function describeSessions(views: NodeView[]): string {
  return views
    .map((view) => {
      const queued = view.stat.queued > 0 ? ` and ${view.stat.queued} queued` : '';
      return `${view.stat.sessions} session${view.stat.sessions === 1 ? '' : 's'}${queued} on ${view.node} (${view.stat.status})`;
    })
    .join(', ');
}

/**
 * The config is checked with the same rules the runtime client applies, so a typo in an address
 * or a backend name is refused when the file is loaded (by `ship plan` and `ship check` too),
 * not when the first batch is about to be drained.
 */
function validName(what: 'backend') {
  return (name: string, ctx: z.RefinementCtx) => {
    try {
      assertHaproxyName(what, name);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  };
}

const runtimeApiAddress = z.string().superRefine((value, ctx) => {
  try {
    parseRuntimeApi(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

export const haproxyAdapter = defineLoadBalancer({
  schema: z.strictObject({
    type: z.literal('haproxy'),
    runtimeApi: z.union([runtimeApiAddress, z.array(runtimeApiAddress).min(1)]),
    backend: z.string().superRefine(validName('backend')),
    pollInterval: duration.default(10),
  }),
  fields: {
    runtimeApi: 'HAProxy runtime API, one per HAProxy node: `host:port`, a unix socket path, or `ssh://[user@]lbhost/path/to.sock` (reached through SSH). Needs `level admin`.',
    backend: 'The HAProxy backend whose servers are the hosts.',
    pollInterval: 'How often drain and health state are read while waiting.',
  },
  init: () => ({
    hosts: `  // The instances, rolled in this order. lbName is the server's name in the HAProxy backend
  // (default: name); port and user override the ssh section per host.
  hosts: [
    { name: 'web1', address: '10.0.1.11' },
    { name: 'web2', address: '10.0.1.12' },
    { name: 'web3', address: '10.0.1.13', lbName: 'web3-8080' },
  ],`,
    loadBalancer: `  // HAProxy's runtime API with 'level admin': one entry per HAProxy node, as host:port, a unix
  // socket path, or ssh://[user@]lbhost/run/haproxy/admin.sock (reached through SSH).
  loadBalancer: { type: 'haproxy', runtimeApi: ['10.0.1.5:9999'], backend: 'app' },`,
  }),
  create: (config, context) => {
    const apis = Array.isArray(config.runtimeApi) ? config.runtimeApi : [config.runtimeApi];
    return new HaproxyLoadBalancer({ backend: config.backend, nodes: apis.map(parseRuntimeApi), pollIntervalMs: config.pollInterval, connectSsh: context.connectSsh });
  },
});
