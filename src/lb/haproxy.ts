/**
 * HAProxy as the load balancer, driven through its runtime API. Every operation goes to every
 * configured node (an HA pair runs the same backend on two hosts): a member counts as healthy
 * only when every node says so, sessions are summed over nodes, and one node that cannot be
 * asked fails the operation (fail closed).
 */
import { z } from 'zod';
import { duration } from '../config/fields.js';
import { DeadlineError, pollUntil } from '../util/deadline.js';
import { defineLoadBalancer } from './adapter.js';
import { LoadBalancerError, type LoadBalancer, type MemberState, type ServerCounters, type WaitOptions, type WaitSettings } from './load-balancer.js';
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
  /** What putting a server back waits for (see putBack). Default 'one-check'. */
  confirm?: HaproxyConfirm;
}

/** 'one-check': one HAProxy check started after the restart passed; 'rise': HAProxy's own `rise` passing checks. */
export type HaproxyConfirm = 'one-check' | 'rise';

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
  private readonly confirm: HaproxyConfirm;

  constructor(options: HaproxyOptions) {
    assertHaproxyName('backend', options.backend);
    if (options.nodes.length === 0) throw new LoadBalancerError('haproxy: no runtime API node configured (loadBalancer.runtimeApi)');
    this.backend = options.backend;
    this.pollIntervalMs = options.pollIntervalMs ?? 200;
    this.confirm = options.confirm ?? 'one-check';
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
   * with rise 3 fall 2) without a single new check: maintenance pauses the checks and leaving it
   * sets the health counter to `rise`, "start OK but check immediately" in HAProxy's source. So a
   * freshly restarted app would get traffic before HAProxy ever checked it.
   *
   * What "the load balancer agrees" then means depends on `confirm`:
   * - 'one-check' (default): a HAProxy check that started after the restart has passed. The
   *   server leaves maintenance as drain + forced health down (DOWN: no traffic at all, not even
   *   persistent sessions), ship waits for HAProxy's health counter to leave 0, which only a
   *   passing check does, then sets `health up` and ready. Why that check started after the
   *   restart: maintenance pauses checks (HAProxy starts none while paused, though one already
   *   running finishes), and ship leaves maintenance only once it has seen no check running, after
   *   the restart; so every check whose result can move the counter started after that.
   *   `health up` is sent only while no check runs, so no result can land between the reading and
   *   the command but one that started and finished within those few milliseconds.
   * - 'rise': drain -> forced health down -> ready in one line, and HAProxy needs `rise` passing
   *   checks before it sends traffic (measured: DOWN -> 'DOWN 1/3' -> 'DOWN 2/3' -> UP).
   * Either way a server that is only draining kept being checked all along, so it is just set
   * ready; one without health checks is set ready too (HAProxy then reports 'no check': it has no
   * view).
   */
  async putBack(name: string, options: WaitOptions): Promise<string | void> {
    assertHaproxyName('server', name);
    const server = `${this.backend}/${name}`;
    try {
      const confirmed = await this.onEveryNode((client) => this.putBackOn(client, name, options));
      const lines = confirmed.filter((line): line is string => line !== undefined);
      if (lines.length > 0) return [...new Set(lines)].join('; ');
    } catch (error) {
      // A server that HAProxy did not confirm stays out on every node, also where it was confirmed:
      // fail closed, and it does not come back by itself if its checks pass later.
      if (this.confirm === 'one-check') await Promise.allSettled(this.clients.map((client) => client.runSilent(`set server ${server} state maint`)));
      throw error;
    }
  }

  private async putBackOn(client: RuntimeApiClient, name: string, options: WaitOptions): Promise<string | undefined> {
    const server = `${this.backend}/${name}`;
    const state = await this.stateOn(client, name);
    if ((state.adminState & (ADMIN.maint | ADMIN.drain)) === 0) return undefined;
    const leavingMaintenance = (state.adminState & ADMIN.maint) !== 0;
    if (!leavingMaintenance || !state.checked) {
      await client.runSilent(`set server ${server} state ready`);
      return undefined;
    }
    if (this.confirm === 'rise') {
      await client.runSilent(`set server ${server} state drain; set server ${server} health down; set server ${server} state ready`);
      return undefined;
    }
    const node = this.clients.length > 1 ? ` on ${client.name}` : '';
    const started = performance.now();
    // A check that began before the restart may still be running; maintenance starts no new one.
    if (state.checkInProgress) {
      await pollUntil(
        async () => {
          const now = await this.stateOn(client, name);
          return { done: !now.checkInProgress, seen: now, describe: `a health check from before the restart still running${node}` };
        },
        this.waitOptions(name, 'load balancer health', options),
      );
    }
    // Still in maintenance, so no check can start or end until the next command: the last result from before the restart.
    const before = await this.viewOn(client, name);
    await client.runSilent(`set server ${server} state drain; set server ${server} health down`);
    const left = performance.now();
    // One deadline for both waits.
    const remaining = { ...options, deadlineMs: Math.max(0, options.deadlineMs - Math.round(left - started)) };
    let checkSeen = false;
    const passed = await pollUntil(
      async () => {
        const view = await this.viewOn(client, name);
        if ((view.state.adminState & ADMIN.maint) !== 0) {
          throw new LoadBalancerError(`haproxy ${client.name}: server ${server} went back into maintenance (${view.stat.status}) while ship waited for its first health check`);
        }
        // Only for the message: the check result HAProxy shows stays the one from before maintenance until a new check ends.
        if (view.state.checkInProgress || view.stat.checkStatus !== before.stat.checkStatus || view.stat.checkCode !== before.stat.checkCode) checkSeen = true;
        const done = view.state.checkHealth > 0 && !view.state.checkInProgress;
        options.onProgress?.(combine(name, [{ node: client.name, ...view }]));
        const last = !checkSeen ? 'no health check has finished since it left maintenance' : `last check ${describeCheck(view.stat)}`;
        return { done, seen: view, describe: `${view.stat.status}${node}, ${last}` };
      },
      this.waitOptions(name, 'load balancer health', remaining),
    ).catch((error: unknown) => {
      // Said with the deadline the caller gave, which both waits shared.
      if (error instanceof DeadlineError) throw new DeadlineError(error.instance, error.step, options.deadlineMs, error.lastSeen);
      throw error;
    });
    await client.runSilent(`set server ${server} health up; set server ${server} state ready`);
    const waitedMs = Math.round(performance.now() - left);
    const skipped = (passed.stat.rise ?? 1) > 1 ? `, without waiting for rise ${passed.stat.rise}` : '';
    const result = await this.settledCheck(client, name, passed.stat);
    return `HAProxy's first check after the restart passed${node} (${describeCheck(result)}) ${waitedMs} ms after it left maintenance${skipped}`;
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

  /**
   * HAProxy 2.6 reports `rise` and `fall` through the runtime API (`show stat`), not `inter` or
   * `fastinter`: the text names them as settings to look up in the configuration.
   */
  async waitSettings(memberNames: string[]): Promise<WaitSettings | undefined> {
    const stats = await this.clients[0]!.serverStats(this.backend);
    const checked = stats.filter((row) => memberNames.includes(row.name) && row.rise !== undefined);
    if (checked.length === 0) return undefined;
    const rises = [...new Set(checked.map((row) => row.rise!))].sort((a, b) => a - b);
    const rise = rises.length === 1 ? `rise ${rises[0]}` : `rise ${rises[0]} to ${rises.at(-1)}`;
    const servers = `the servers of backend '${this.backend}'`;
    if (this.confirm === 'one-check') {
      return {
        cause: `ship waits for HAProxy's first health check after the restart, and HAProxy runs it on its own schedule, once every \`inter\` of ${servers} (not ${rise}: ship does not wait for that)`,
        change: `lower \`inter\` on ${servers} (for example \`default-server inter 200ms\`); \`fastinter\` and \`rise\` do not shorten this wait`,
      };
    }
    return {
      cause: `HAProxy needs ${rise} passing health checks after the restart (loadBalancer.confirm 'rise'): the first within \`inter\`, then one every \`fastinter\` (\`inter\` where \`fastinter\` is not set)`,
      change: `set \`fastinter\` (for example \`fastinter 100ms\`) or lower \`rise\` on ${servers}, or let one passing check confirm it (loadBalancer.confirm 'one-check', the default)`,
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.close()));
  }

  private async stateOn(client: RuntimeApiClient, name: string): Promise<ServerStateRow> {
    const state = (await client.serversState(this.backend)).find((row) => row.name === name);
    if (!state) throw new LoadBalancerError(`haproxy ${client.name}: backend '${this.backend}' has no server ${name}`);
    return state;
  }

  /**
   * The state and stat rows are read on two connections at once, so the stat row may have been
   * taken before the check the state row saw end had ended: the result is read again, after it.
   */
  private async settledCheck(client: RuntimeApiClient, name: string, polled: ServerStatRow): Promise<ServerStatRow> {
    const after = (await client.serverStats(this.backend)).find((row) => row.name === name);
    // A next check may already be running; the polled row is then the better of two partial views.
    return after && !checkRunning(after) ? after : polled;
  }

  private async viewOn(client: RuntimeApiClient, name: string): Promise<Omit<NodeView, 'node'>> {
    const [states, stats] = await Promise.all([client.serversState(this.backend), client.serverStats(this.backend)]);
    const state = states.find((row) => row.name === name);
    const stat = stats.find((row) => row.name === name);
    if (!state || !stat) throw new LoadBalancerError(`haproxy ${client.name}: backend '${this.backend}' has no server ${name}`);
    return { state, stat };
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
    // The same wait running out on every node is still that wait running out (its own error code), seen on each node.
    const deadlines = failures.filter((failure): failure is DeadlineError => failure instanceof DeadlineError);
    if (failures.length > 1 && deadlines.length === failures.length && deadlines.every((d) => d.step === deadlines[0]!.step && d.instance === deadlines[0]!.instance)) {
      const first = deadlines[0]!;
      throw new DeadlineError(first.instance, first.step, first.deadlineMs, deadlines.map((d) => d.lastSeen).join('; '));
    }
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

/** HAProxy shows a running check as '* ' and the previous result, with that result's code already reset. */
function checkRunning(stat: ServerStatRow): boolean {
  return stat.checkStatus.startsWith('* ');
}

/** 'L7OK 200', 'L7STS 500', 'L4CON': the last check's result as HAProxy reports it. */
function describeCheck(stat: ServerStatRow): string {
  const code = checkRunning(stat) ? '' : stat.checkCode;
  return [stat.checkStatus.replace(/^\* /, ''), code].filter(Boolean).join(' ') || 'no result';
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
    confirm: z.enum(['one-check', 'rise']).default('one-check'),
  }),
  fields: {
    runtimeApi: 'HAProxy runtime API, one per HAProxy node: `host:port`, a unix socket path, or `ssh://[user@]lbhost/path/to.sock` (reached through SSH). Needs `level admin`.',
    backend: 'The HAProxy backend whose servers are the hosts.',
    pollInterval: 'How often drain and health state are read while waiting.',
    confirm:
      "What a host put back waits for before it takes traffic again: 'one-check', one HAProxy health check that started after the restart passed (within one `inter`); 'rise', HAProxy's own `rise` passing checks (the first within `inter`, then one per `fastinter`).",
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
    return new HaproxyLoadBalancer({
      backend: config.backend,
      nodes: apis.map(parseRuntimeApi),
      pollIntervalMs: config.pollInterval,
      confirm: config.confirm,
      connectSsh: context.connectSsh,
    });
  },
});
