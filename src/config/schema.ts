import { z } from 'zod';
import { loadBalancerSchema } from '../lb/registry.js';
import { notifySchema } from '../notify/config.js';
import { countOrPercent, duration, percent, positiveCountOrPercent, regex, secret, varName } from './fields.js';
import { hostClashes, type HostClash } from './host-identity.js';
import { containerSchema } from './container.js';
import { quietSchema } from './quiet.js';
import { secretsSchema } from './secrets.js';

const varValue = z.union([z.string(), z.number(), z.boolean()]);
const vars = z.record(varName, varValue);

const hostSchema = z.strictObject({
  name: z.string().min(1),
  address: z.string().min(1),
  /** Name of this host in the load balancer (HAProxy server name, ELBv2 target id); defaults to `name`. */
  lbName: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  user: z.string().min(1).optional(),
  transport: z.enum(['ssh', 'local']).optional(),
  vars: vars.optional(),
});

const sshSchema = z.strictObject({
  // user and port stay unset unless given, so ~/.ssh/config (then OpenSSH's defaults) can fill them in.
  user: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  privateKey: z.string().min(1).optional(),
  passphrase: secret().optional(),
  /** ssh-agent socket; true uses SSH_AUTH_SOCK, false disables the agent. */
  agent: z.union([z.boolean(), z.string()]).default(true),
  knownHosts: z.string().default('~/.ssh/known_hosts'),
  acceptNewHostKeys: z.boolean().default(false),
  /** OpenSSH client config to honour (Host aliases, User, Port, IdentityFile, ProxyJump); false to ignore. */
  configFile: z.union([z.string(), z.literal(false)]).default('~/.ssh/config'),
  jumpHost: z.string().min(1).optional(),
  connectTimeout: duration.default(10_000),
  commandTimeout: duration.default(600_000),
  keepaliveInterval: duration.default(15_000),
  /** Run steps through sudo: true for root, or the user to become. */
  sudo: z.union([z.boolean(), z.string().min(1)]).default(false),
});

const checkTiming = {
  successThreshold: z.number().int().min(1).default(3),
  interval: duration.default(1_000),
  timeout: duration.default(2_000),
};

const healthSchema = z
  .strictObject({
    http: z
      .strictObject({
        port: z.number().int().min(1).max(65535),
        path: z.string().startsWith('/').default('/healthz'),
        scheme: z.enum(['http', 'https']).default('http'),
        expectStatus: z.union([z.number().int(), z.array(z.number().int()).min(1)]).default(200),
        /** A regular expression the body must match. */
        bodyMatch: regex.optional(),
        ...checkTiming,
      })
      .optional(),
    tcp: z.strictObject({ port: z.number().int().min(1).max(65535), ...checkTiming }).optional(),
    command: z.strictObject({ run: z.string().min(1), ...checkTiming }).optional(),
  })
  .refine((health) => health.http || health.tcp || health.command, {
    message: 'at least one health check (http, tcp or command) is required: ship never puts an instance back unchecked',
  });

/**
 * `rollout.analysis`: what decides whether a baked batch may stay. The counter fields judge
 * HAProxy's own per-server counters and default (in src/rollout/analysis/settings.ts) when the load
 * balancer is HAProxy; other load balancers have no per-server counters, so setting them there is
 * refused rather than silently ignored (see the refinement of appConfigSchema).
 */
const analysisSchema = z.strictObject({
  maxErrorRate: percent.optional(),
  minRequests: z.number().int().min(1).optional(),
  compareToFleet: z.boolean().optional(),
  margin: percent.optional(),
  alarms: z.array(z.string().trim().min(1)).min(1).optional(),
  command: z.string().trim().min(1).optional(),
  commandTimeout: duration.default(60_000),
});

const rolloutSchema = z.strictObject({
  batchSize: positiveCountOrPercent.default(1),
  /** Roll a batch of one first and stop there if it fails. */
  canary: z.boolean().default(true),
  /** Healthy instances that must remain in service; defaults to all but one batch. */
  minHealthy: countOrPercent.optional(),
  /** How long to wait for capacity to come back before a batch; 0 stops at once. */
  capacityWait: duration.default(0),
  drainTimeout: duration.default(60_000),
  healthyTimeout: duration.default(120_000),
  maxFailures: z.number().int().min(0).default(0),
  /** Hosts staged at the same time before the rollout. */
  stageConcurrency: z.number().int().min(1).default(16),
  /** After a batch is back in service, watch it this long before the next. */
  bake: duration.default(0),
  analysis: analysisSchema.optional(),
  onFailure: z.enum(['stop', 'rollback']).default('stop'),
  /** With `roles`: the order they are rolled in (every role, once); default: the order they are written. */
  order: z.array(z.string().min(1)).min(1).optional(),
});

const ec2InventorySchema = z.strictObject({
  region: z.string().min(1),
  endpoint: z.string().url().optional(),
  tags: z.record(z.string(), z.union([z.string(), z.array(z.string()).min(1)])).optional(),
  autoScalingGroup: z.string().min(1).optional(),
  addressType: z.enum(['private', 'public']).default('private'),
  maxAttempts: z.number().int().min(1).max(20).default(6),
  /** Per-host variables from instance tags: variable name → tag key (an instance without the tag keeps the config's value). */
  varsFromTags: z.record(varName, z.string().min(1)).optional(),
});

/** `database.migrations`: also read on its own by `ship lint-migrations`, which needs no secrets. */
export const migrationsSchema = z.strictObject({
  dir: z.string().min(1),
  /** A regular expression with a named group `version` for layouts the discovery does not know. */
  // The group check only for a pattern that compiles: one problem at a time.
  pattern: regex
    .refine((source) => source.includes('(?<version>'), {
      when: (payload) => payload.issues.length === 0,
      message: 'needs a named group "version", e.g. "^(?<version>\\d+)-(?<name>.+)\\.sql$"',
    })
    .optional(),
  transactionPerFile: z.boolean().default(true),
  pgVersion: z.number().int().min(9).max(99).optional(),
  hygiene: z.boolean().default(false),
  requireStatementTimeout: z.boolean().default(true),
});

/**
 * `database.migrate`: ship applies the pending migrations inside the deploy (expand before the
 * rollout, contract after it), or runs the team's own migration tool once before the rollout.
 */
export const migrateSchema = z.strictObject({
  run: z.union([
    z.literal('ship'),
    z.strictObject({
      command: z.string().trim().min(1),
      /** 'local' (the machine running ship) or the name of one host of the fleet. */
      on: z.string().trim().min(1).default('local'),
    }),
  ]),
  lockTimeout: duration.default(2_000),
  statementTimeout: duration.default(0),
  retries: z.number().int().min(0).max(100).default(5),
  waitForReplicas: duration.default(60_000),
});

const databaseSchema = z.strictObject({
  primary: secret(),
  replicas: z.array(secret()).default([]),
  /** Connection strings the app really reads through (pgbouncer, pgpool, a DNS name). */
  readPaths: z.array(secret()).default([]),
  /** Connections opened per read path: a pooler or DNS name may hand each one to another server. */
  readPathSamples: z.number().int().min(1).max(100).default(5),
  /** Per connection to the primary, a replica, a read path or the scratch database. */
  connectTimeout: duration.default(5_000),
  maxReplicaLag: duration.default(10_000),
  maxReplicaLagBytes: z.number().int().min(0).optional(),
  versionTable: z.string().min(1).optional(),
  versionQuery: z.string().min(1).optional(),
  /** Connections each app process opens; with it, the pre-flight checks the primary's max_connections. */
  poolSize: z.number().int().min(1).optional(),
  processesPerInstance: z.number().int().min(1).default(1),
  /** The role the app connects as: its current connections are the fleet's own, not other clients'. */
  appRole: z.string().min(1).optional(),
  /** Go on despite replica, read-path or budget problems (`--allow-unsafe-database`); the reason is required and is reported. */
  allowUnsafe: z.strictObject({ reason: z.string().trim().min(1, { message: 'say why the database checks may be waived' }) }).optional(),
  shadowDatabase: secret().optional(),
  migrations: migrationsSchema.optional(),
  migrate: migrateSchema.optional(),
});

const stateSchema = z.discriminatedUnion('store', [
  z.strictObject({ store: z.literal('file'), path: z.string().default('.ship') }),
  z.strictObject({ store: z.literal('postgres'), url: secret() }),
]);

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** The fields of one app (and of one role of an app: see `roles`). */
const appFields = z.strictObject({
  app: z.string().regex(NAME, { message: 'app names are letters, digits, ., _ and -' }),
  hosts: z.array(hostSchema).default([]),
  inventory: z.strictObject({ ec2: ec2InventorySchema.optional() }).optional(),
  vars: vars.default({}),
  transport: z.enum(['ssh', 'local']).default('ssh'),
  ssh: sshSchema.default(sshSchema.parse({})),
  loadBalancer: loadBalancerSchema,
  health: healthSchema,
  rollout: rolloutSchema.default(rolloutSchema.parse({})),
  playbooks: z.record(z.string(), z.string().min(1)).default({}),
  database: databaseSchema.optional(),
  state: stateSchema.default({ store: 'file', path: '.ship' }),
  notify: notifySchema.optional(),
  container: containerSchema.optional(),
  quiet: quietSchema.optional(),
  secrets: secretsSchema.default({}),
});

type AppFields = z.output<typeof appFields>;

/** What is wrong with one app's or one role's own fields. */
function appProblems(config: AppFields, ctx: z.RefinementCtx): void {
  for (const clash of hostClashes(config.hosts, config.ssh.port)) ctx.addIssue({ code: 'custom', ...describeClash(config.hosts, clash) });
  const migrate = config.database?.migrate;
  if (migrate?.run === 'ship') {
    if (!config.database?.migrations) {
      ctx.addIssue({ code: 'custom', path: ['database', 'migrate', 'run'], message: "run: 'ship' applies the files in database.migrations.dir: set database.migrations" });
    } else if (config.database.versionQuery && !config.database.versionTable) {
      ctx.addIssue({
        code: 'custom',
        path: ['database', 'migrate', 'run'],
        message:
          "run: 'ship' must record each file in the version table, and database.versionQuery only reads one: set database.versionTable, or run your tool with run: { command }",
      });
    }
  }
  for (const problem of analysisProblems(config.rollout, config.loadBalancer.type)) ctx.addIssue({ code: 'custom', ...problem });
  for (const problem of quietProblems(config.quiet, config.container !== undefined)) ctx.addIssue({ code: 'custom', ...problem });
}

function noHosts(config: AppFields, ctx: z.RefinementCtx): void {
  if (config.hosts.length === 0 && !config.inventory?.ec2) {
    ctx.addIssue({ code: 'custom', path: ['hosts'], message: 'no hosts: list them in hosts or discover them with inventory.ec2' });
  }
}

/** One role of an app: every field of an app, those it leaves out inherited from the app (see inheritRoles). */
const roleSchema = appFields.superRefine((config, ctx) => {
  appProblems(config, ctx);
  noHosts(config, ctx);
});

/** One app: its own hosts, or roles that each have theirs. */
const appConfigSchema = appFields.extend({ roles: z.record(z.string(), roleSchema).default({}) }).superRefine((config, ctx) => {
  appProblems(config, ctx);
  const roles = Object.entries(config.roles);
  if (roles.length === 0) {
    noHosts(config, ctx);
    if (config.rollout.order) ctx.addIssue({ code: 'custom', path: ['rollout', 'order'], message: 'orders the roles, and this app has none: remove it, or define roles' });
  } else {
    rolesProblems(config, ctx);
  }
  // A host from the EC2 inventory is only known at run time; a config host can be checked now.
  const migrate = config.database?.migrate;
  const on = migrate && migrate.run !== 'ship' ? migrate.run.on : 'local';
  const everyHost = [config, ...roles.map(([, role]) => role)];
  const names = everyHost.flatMap((app) => app.hosts.map((host) => host.name));
  if (on !== 'local' && !everyHost.some((app) => app.inventory?.ec2) && !names.includes(on)) {
    ctx.addIssue({
      code: 'custom',
      path: ['database', 'migrate', 'run', 'on'],
      message: `no host named '${on}' in hosts (${names.join(', ')}): name one of them, or 'local'`,
    });
  }
});

/** Roles share one run: each host in one role, the app's own hosts list empty, rollout.order naming every role once. */
function rolesProblems(config: AppFields & { roles: Record<string, AppFields> }, ctx: z.RefinementCtx): void {
  const roleNames = Object.keys(config.roles);
  if (config.hosts.length > 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['hosts'],
      message: `with roles, each role lists its own hosts (roles.<name>.hosts); these would belong to no role: move them into ${roleNames.join(' or ')}`,
    });
  }
  const seen = new Map<string, string>();
  for (const [role, app] of Object.entries(config.roles)) {
    for (const [index, host] of app.hosts.entries()) {
      const other = seen.get(host.name);
      if (other !== undefined)
        ctx.addIssue({ code: 'custom', path: ['roles', role, 'hosts', index, 'name'], message: `host '${host.name}' is also in role ${other}: a host belongs to one role` });
      else seen.set(host.name, role);
    }
  }
  const order = config.rollout.order;
  if (!order) return;
  const unknown = order.filter((name) => !roleNames.includes(name));
  const twice = order.filter((name, i) => order.indexOf(name) !== i);
  const missing = roleNames.filter((name) => !order.includes(name));
  const problems = [
    ...(unknown.length ? [`${unknown.join(', ')} ${unknown.length === 1 ? 'is not a role' : 'are not roles'} (roles: ${roleNames.join(', ')})`] : []),
    ...(twice.length ? [`${[...new Set(twice)].join(', ')} listed twice`] : []),
    ...(missing.length ? [`${missing.join(', ')} missing: list every role, or leave rollout.order out to roll them in the order they are written`] : []),
  ];
  if (problems.length > 0) ctx.addIssue({ code: 'custom', path: ['rollout', 'order'], message: problems.join('; ') });
}

const COUNTER_FIELDS = ['maxErrorRate', 'minRequests', 'compareToFleet', 'margin'] as const;

/**
 * An analysis that cannot judge anything is refused at load, naming the field: counters only
 * HAProxy keeps per server, alarms only CloudWatch holds (next to an ELBv2 load balancer, in its
 * region), and every signal needs a bake window to be read over.
 */
function analysisProblems(rollout: z.output<typeof rolloutSchema>, lbType: string): Array<{ path: PropertyKey[]; message: string }> {
  const analysis = rollout.analysis;
  if (!analysis) return [];
  const at = (field: string) => ['rollout', 'analysis', field];
  const problems: Array<{ path: PropertyKey[]; message: string }> = [];
  if (rollout.bake === 0) {
    problems.push({ path: ['rollout', 'bake'], message: "analysis judges a batch over its bake: set rollout.bake, e.g. '60s'" });
  }
  if (lbType !== 'haproxy') {
    for (const field of COUNTER_FIELDS.filter((f) => analysis[f] !== undefined)) {
      problems.push({
        path: at(field),
        message: `${field} judges HAProxy's per-server counters; a '${lbType}' load balancer has none: judge with alarms (CloudWatch) or a command instead`,
      });
    }
    if (!analysis.alarms && !analysis.command) {
      problems.push({ path: ['rollout', 'analysis'], message: `with a '${lbType}' load balancer, analysis needs alarms (CloudWatch, with elbv2) or a command to judge by` });
    }
  }
  if (analysis.alarms && lbType !== 'elbv2') {
    problems.push({ path: at('alarms'), message: "CloudWatch alarms are read in the region of an 'elbv2' load balancer; behind HAProxy, use its counters or a command" });
  }
  return problems;
}

/**
 * Where the quiet signal goes must be known at load: the container (`<engine> kill`), the process
 * in `pidFile`, or the team's own `command`. A pidFile next to a container is refused: the pid a
 * containerised app writes is the container's own, and on the host it names another process.
 */
function quietProblems(quiet: z.output<typeof quietSchema> | undefined, hasContainer: boolean): Array<{ path: PropertyKey[]; message: string }> {
  if (!quiet) return [];
  if (hasContainer && quiet.pidFile !== undefined) {
    return [
      {
        path: ['quiet', 'pidFile'],
        message: "with container, the signal goes to the container (`<engine> kill --signal`); a pid inside it is not the host's: leave quiet.pidFile out, or use quiet.command",
      },
    ];
  }
  if (!hasContainer && quiet.pidFile === undefined && quiet.command === undefined) {
    return [
      {
        path: ['quiet'],
        message: `nothing to send ${quiet.signal} to: without container, set quiet.pidFile (the worker's pid file on the host) or quiet.command (run instead of sending the signal)`,
      },
    ];
  }
  return [];
}

/** A clash between two config hosts, on the field of the later one to change. */
function describeClash(hosts: ReadonlyArray<{ name: string; lbName?: string | undefined }>, clash: HostClash): { path: PropertyKey[]; message: string } {
  const { firstIndex, secondIndex } = clash;
  const first = hosts[firstIndex]!;
  switch (clash.field) {
    case 'name':
      return { path: ['hosts', secondIndex, 'name'], message: `duplicate ${clash.what} (also hosts[${firstIndex}])` };
    case 'lbName':
      return {
        path: ['hosts', secondIndex, hosts[secondIndex]!.lbName === undefined ? 'name' : 'lbName'],
        message:
          `${clash.what} is also hosts[${firstIndex}]'s (${first.name}${first.lbName === undefined ? ', by its name' : ''}): ` +
          'draining one would take both out of the load balancer; give each host its own lbName',
      };
    case 'address':
      return {
        path: ['hosts', secondIndex, 'address'],
        message:
          `${clash.what} is also hosts[${firstIndex}]'s (${first.name}): one machine listed twice would be rolled twice in one batch; ` +
          "remove one, or set each host's port if they are different machines behind one address",
      };
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Each entry of `apps` gets every top-level field it does not set (its roles excepted); `vars`
 * are merged key by key. Then each app's roles inherit from their app.
 */
function inheritTopLevel(input: unknown, ctx: z.RefinementCtx): unknown {
  if (!isPlainObject(input)) return input;
  const { apps, ...topLevel } = input;
  const top = inheritRoles(topLevel, [], ctx);
  if (!isPlainObject(apps)) return { ...top, ...(apps === undefined ? {} : { apps }) };
  const { roles: _ownRoles, ...inherited } = topLevel;
  const topVars = isPlainObject(topLevel.vars) ? topLevel.vars : {};
  const merged = Object.entries(apps).map(([name, entry]) => {
    if (!isPlainObject(entry)) return [name, entry];
    // An app with roles lists its hosts under them: the top level's are not its.
    const { hosts: _hosts, ...withoutHosts } = inherited;
    const base = isPlainObject(entry.roles) ? withoutHosts : inherited;
    return [name, inheritRoles({ ...base, app: name, ...entry, vars: { ...topVars, ...(isPlainObject(entry.vars) ? entry.vars : {}) } }, ['apps', name], ctx)];
  });
  return { ...top, apps: Object.fromEntries(merged) };
}

/** What one run, one lock and one journal mean for roles: these stay the app's, and a role may not set them. */
const APP_ONLY = ['app', 'state', 'notify', 'database', 'roles', 'apps'] as const;
/** Merged key by key into a role (a role changes the container's command, not its image); every other field is replaced whole. */
const MERGED = ['vars', 'container', 'rollout'] as const;

/**
 * Each role gets every field of its app it does not set, except the app-wide ones (APP_ONLY) and
 * `hosts` (with roles, the app has none of its own). `vars`, `container` (with `container.run`)
 * and `rollout` are merged key by key.
 */
function inheritRoles(app: Record<string, unknown>, at: PropertyKey[], ctx: z.RefinementCtx): Record<string, unknown> {
  if (!isPlainObject(app.roles)) return app;
  const template = Object.fromEntries(Object.entries(app).filter(([key]) => key !== 'hosts' && !(APP_ONLY as readonly string[]).includes(key)));
  const roles = Object.entries(app.roles).map(([name, entry]) => {
    if (!NAME.test(name)) ctx.addIssue({ code: 'custom', path: [...at, 'roles', name], message: 'role names are letters, digits, ., _ and -', input: entry });
    if (!isPlainObject(entry)) return [name, entry];
    for (const key of APP_ONLY.filter((field) => field in entry)) {
      ctx.addIssue({ code: 'custom', path: [...at, 'roles', name, key], message: `a role shares its app's ${key}: set it on the app, not in a role`, input: entry });
    }
    if (isPlainObject(entry.rollout) && 'order' in entry.rollout) {
      ctx.addIssue({ code: 'custom', path: [...at, 'roles', name, 'rollout', 'order'], message: "orders the app's roles: set it on the app's rollout", input: entry });
    }
    const role: Record<string, unknown> = { ...template, ...entry, app: app.app };
    for (const key of MERGED) {
      const own = entry[key];
      const base = template[key];
      if (isPlainObject(own) && isPlainObject(base)) role[key] = { ...base, ...own };
    }
    const [ownRun, baseRun] = [(entry.container as Record<string, unknown> | undefined)?.run, (template.container as Record<string, unknown> | undefined)?.run];
    if (isPlainObject(ownRun) && isPlainObject(baseRun)) role.container = { ...(role.container as object), run: { ...baseRun, ...ownRun } };
    if (isPlainObject(role.rollout)) role.rollout = Object.fromEntries(Object.entries(role.rollout).filter(([key]) => key !== 'order'));
    return [name, role];
  });
  // The app's own loadBalancer and health are only what its roles inherit: when every role sets its
  // own, the first role's stand in, so the app is still whole for the schema.
  const filled = Object.fromEntries(
    (['loadBalancer', 'health'] as const).flatMap((key) => {
      if (key in app) return [];
      const first = roles.map(([, role]) => role).find((role) => isPlainObject(role) && key in role) as Record<string, unknown> | undefined;
      return first ? [[key, first[key]]] : [];
    }),
  );
  return { ...app, ...filled, roles: Object.fromEntries(roles) };
}

/**
 * Several apps in one file, without changing a single-app config: the top level is an app, and
 * `apps: { <name>: { hosts, loadBalancer, health, ... } }` adds more, each inheriting the top-level
 * fields it does not set. Each app is validated whole, with errors under apps.<name>. Any app may
 * have `roles`: kinds of server (web, workers) rolled one after the other in one run.
 */
export const configSchema = z.preprocess(
  inheritTopLevel,
  appConfigSchema.extend({ apps: z.record(z.string(), appConfigSchema).default({}) }).superRefine((config, ctx) => {
    for (const [name, app] of Object.entries(config.apps)) {
      if (name === config.app) ctx.addIssue({ code: 'custom', path: ['apps', name], message: `'${name}' is already the top-level app's name` });
      if (app.app !== name) ctx.addIssue({ code: 'custom', path: ['apps', name, 'app'], message: `an app is named by its key under apps ('${name}'); remove this field` });
    }
  }),
);

/** One entry of `roles`: any field of its app but the app-wide ones, inherited when left out. */
export type RoleConfigInput = Partial<Omit<z.input<typeof appFields>, (typeof APP_ONLY)[number]>>;
/** One entry of `apps`: any top-level field, inherited when left out. */
export type AppConfigInput = Partial<Omit<z.input<typeof appFields>, 'app'>> & { roles?: Record<string, RoleConfigInput> };
/** What a config file exports (durations as strings, defaults optional). */
export type ShipConfigInput = z.input<typeof appFields> & { roles?: Record<string, RoleConfigInput>; apps?: Record<string, AppConfigInput> };
/** The validated config with defaults applied and durations in milliseconds. */
export type ShipConfig = z.output<typeof configSchema>;
export type HostConfig = z.output<typeof hostSchema>;
export type HealthConfig = z.output<typeof healthSchema>;
