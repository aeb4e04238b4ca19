import { LOAD_BALANCERS } from '../lb/registry.js';
import { DELIVERY_FIELDS } from '../notify/config.js';
import { NOTIFIERS } from '../notify/registry.js';

/**
 * What each config field means, for docs/config.md, keyed by its path (a field of one variant of
 * a discriminated union carries the variant: `loadBalancer.backend [type: 'haproxy']`). A field
 * may instead describe itself in src/config/schema.ts with `.describe('...')`, which wins.
 * test/unit/config-doc.test.ts fails for a field with no description and for a key here that
 * names no field, so this list cannot drift from the schema.
 */
const CORE_DESCRIPTIONS: Record<string, string> = {
  app: "The application's name: letters, digits, '.', '_' and '-'. Names runs, the deploy lock and notifications.",
  hosts: 'The instances to roll, in order. May be empty when `inventory.ec2` discovers them.',
  'hosts[].name': 'Unique name of the host, used in `--hosts`, output and events.',
  'hosts[].address': 'Address or DNS name ship connects to (SSH) and health-checks.',
  'hosts[].lbName': 'Name of this host in the load balancer (HAProxy server name, ELBv2 target id); defaults to `name`.',
  'hosts[].port': 'SSH port of this host; defaults to `ssh.port`, then `~/.ssh/config`, then 22.',
  'hosts[].user': 'SSH user for this host; defaults to `ssh.user`.',
  'hosts[].transport': "`local` runs this host's commands on this machine instead of over SSH.",
  'hosts[].vars': 'Variables only this host sees; they override top-level `vars`.',
  inventory: 'Hosts discovered at run time, merged with `hosts`.',
  'inventory.ec2': 'Running EC2 instances selected by tags or by Auto Scaling group.',
  'inventory.ec2.region': 'AWS region of the instances; with an ELBv2 load balancer, the same region.',
  'inventory.ec2.endpoint': 'EC2 API endpoint override (a VPC endpoint or a test double).',
  'inventory.ec2.tags': 'Tag key → value (or any of several values) an instance must carry.',
  'inventory.ec2.autoScalingGroup': 'Only instances of this Auto Scaling group.',
  'inventory.ec2.addressType': 'Which address ship connects to.',
  'inventory.ec2.maxAttempts': 'AWS SDK attempts per call (throttling and server errors are retried).',
  'inventory.ec2.varsFromTags': "Per-host variables from instance tags: variable name → tag key. An instance without the tag keeps the config's value.",
  vars: "Variables every step sees as `ctx.vars`; a host's `vars` override them and `--var key=value` overrides both.",
  transport: '`ssh` connects to every host; `local` runs every command on this machine (tests, single-box setups).',
  ssh: 'How ship connects to hosts. Values here win over `~/.ssh/config`.',
  'ssh.user': 'Login user; defaults to `~/.ssh/config`, then the local user.',
  'ssh.port': 'Port; defaults to `~/.ssh/config`, then 22.',
  'ssh.privateKey': 'Private key file (`~` expands to the home directory).',
  'ssh.passphrase': "Passphrase of the private key, usually `env('SSH_KEY_PASSPHRASE')`.",
  'ssh.agent': 'ssh-agent socket: `true` uses `SSH_AUTH_SOCK`, `false` disables the agent, a string is the socket path.',
  'ssh.knownHosts': 'known_hosts file. Host keys are always verified (hashed entries too); unknown or changed keys are refused with the fingerprint.',
  'ssh.acceptNewHostKeys': 'Record the keys of hosts not yet in known_hosts (also `--accept-new-host-keys`). A changed key is always refused.',
  'ssh.configFile': 'OpenSSH client config to honour (Host aliases, HostName, User, Port, IdentityFile, ProxyJump); `false` ignores it.',
  'ssh.jumpHost': '`[user@]host[:port]`, a comma-separated chain, or an alias from the ssh config.',
  'ssh.connectTimeout': 'Bound on opening one SSH connection.',
  'ssh.commandTimeout': "Default bound on one command; a command past it is killed on the host. A step's `timeout` overrides it.",
  'ssh.keepaliveInterval': 'SSH keepalive interval, so a dead connection is noticed.',
  'ssh.sudo': 'Run every step through `sudo -n`: `true` for root, or the user to become.',
  loadBalancer: 'The load balancer ship drains instances from and puts them back into.',
  health: 'How ship decides an instance is healthy before putting it back. At least one of `http`, `tcp`, `command`.',
  'health.http': 'An HTTP GET from this machine to the instance.',
  'health.http.port': 'Port of the application on the instance.',
  'health.http.path': 'Path to request.',
  'health.http.scheme': 'HTTP or HTTPS.',
  'health.http.expectStatus': 'Status code(s) that count as healthy.',
  'health.http.bodyMatch': 'A regular expression the response body must match.',
  'health.http.successThreshold': 'Consecutive passes needed.',
  'health.http.interval': 'Pause between probes.',
  'health.http.timeout': 'Bound on one probe.',
  'health.tcp': 'A TCP connect from this machine to the instance.',
  'health.tcp.port': 'Port that must accept connections.',
  'health.tcp.successThreshold': 'Consecutive passes needed.',
  'health.tcp.interval': 'Pause between probes.',
  'health.tcp.timeout': 'Bound on one probe.',
  'health.command': 'A command run on the instance; exit status 0 is healthy.',
  'health.command.run': 'Shell text run on the host, as written.',
  'health.command.successThreshold': 'Consecutive passes needed.',
  'health.command.interval': 'Pause between probes.',
  'health.command.timeout': 'Bound on one probe.',
  rollout: 'How the fleet is rolled: batches, the capacity floor, and deadlines.',
  'rollout.batchSize': "Instances per batch: a count or a percentage of the fleet like `'25%'` (also `--batch-size`).",
  'rollout.canary': 'Roll a batch of one first and stop there if it fails.',
  'rollout.minHealthy': 'Healthy instances that must stay in service (a count or a percentage); defaults to all but one batch, never below 1.',
  'rollout.capacityWait': 'How long to wait for capacity to come back before a batch; `0` stops at once.',
  'rollout.drainTimeout': 'How long connections may take to finish; then the instance is taken out anyway, with a warning.',
  'rollout.healthyTimeout': "How long an instance may take to pass its health checks, and the load balancer's.",
  'rollout.maxFailures': 'Failed instances tolerated before the rollout stops.',
  'rollout.stageConcurrency': 'Hosts staged (upload, unpack) at the same time before the rollout.',
  'rollout.bake': 'After a batch is back in service, watch it this long (`analysis`, and its health in the load balancer) before the next batch; `0` moves on at once.',
  'rollout.analysis':
    'What decides, at the end of each bake, whether the batch may stay: HAProxy counters, CloudWatch alarms, a command. A batch that fails is rolled back and the run stops (see `onFailure`).',
  'rollout.analysis.maxErrorRate':
    "HAProxy only. Highest error rate of the batch's servers over the bake: (5xx responses + response errors + connection errors) / requests, summed over every HAProxy node. Default `'1%'`.",
  'rollout.analysis.minRequests':
    'HAProxy only. Fewest requests the batch must serve during the bake to be judged; below it the bake is extended (up to 3 times `bake`), then the batch fails as not enough requests to judge. Default 50.',
  'rollout.analysis.compareToFleet': "HAProxy only. Also fail when the batch's error rate exceeds that of the servers not yet rolled by more than `margin`. Default true.",
  'rollout.analysis.margin': "HAProxy only. How far above the untouched servers' error rate the batch may be, with `compareToFleet`. Default `'0.5%'`.",
  'rollout.analysis.alarms': "ELBv2 only. CloudWatch alarms (names, in the load balancer's region) that must not be in ALARM during the bake, like CodeDeploy.",
  'rollout.analysis.command':
    "Shell text run on this machine (in this file's folder) at the end of each bake; exit 0 keeps the batch. It sees SHIP_APP, SHIP_VERSION, SHIP_HOSTS, SHIP_BATCH, SHIP_CANARY, SHIP_BAKE_STARTED and SHIP_BAKE_SECONDS.",
  'rollout.analysis.commandTimeout': 'How long `command` may run; past it the command is killed and the batch fails (it could not be judged).',
  'rollout.order': 'With `roles`: the order the roles are rolled in, one after the other, each role once. Left out: the order they are written.',
  'rollout.onFailure':
    "`'stop'`: the failed batch is rolled back and the run stops, earlier batches stay on the new release. `'rollback'`: every instance the run moved goes back to the release it ran before, in reverse order, batch by batch.",
  playbooks: 'Playbook name (`deploy`, `patch`, or your own) → path of a TypeScript playbook, relative to this file. Built-ins are used when not set.',
  database: "The schema pre-flight: replicas caught up and on the primary's schema version, the connection budget, and a lint of pending migrations.",
  'database.primary': "Connection string of the primary, usually `env('DATABASE_URL')`.",
  'database.replicas': 'Connection strings of read replicas that must be caught up and on the same schema version.',
  'database.readPaths': 'Connection strings the app really reads through (pgbouncer, pgpool, a DNS name).',
  'database.readPathSamples': 'Connections opened per read path: a pooler or DNS name may hand each one to another server.',
  'database.connectTimeout': 'Bound on connecting to the primary, a replica, a read path or the scratch database.',
  'database.maxReplicaLag': 'Replay lag above which a replica refuses the run.',
  'database.maxReplicaLagBytes': 'WAL bytes a replica may be behind.',
  'database.versionTable': 'Table the migration tool records applied versions in, when it is not one ship recognises.',
  'database.versionQuery': 'SQL returning the applied versions, for other migration tools.',
  'database.poolSize': "Connections each app process opens; with it, the pre-flight checks the primary's `max_connections` for the rollout.",
  'database.processesPerInstance': 'App processes per instance, for the connection budget.',
  'database.appRole': "The role the app connects as: its current connections are the fleet's own, not other clients'.",
  'database.allowUnsafe': 'Go on despite replica, read-path or budget problems (`--allow-unsafe-database`); reported in the run.',
  'database.allowUnsafe.reason': 'Why the database checks may be waived; required.',
  'database.shadowDatabase': 'A scratch database for tracing pending migrations (their locks and rewrites) before they run.',
  'database.migrations': 'Where the migrations are, for the pending-migration lint (also read by `ship lint-migrations`).',
  'database.migrations.dir': 'Folder of migration files, relative to this file.',
  'database.migrations.pattern': 'A regular expression with a named group `version` (and optionally `name`) for file layouts ship does not know.',
  'database.migrations.transactionPerFile': 'The migration runner wraps each file in a transaction.',
  'database.migrations.pgVersion': "Major PostgreSQL version the migrations run on; defaults to the primary's.",
  'database.migrate': 'Apply the pending migrations inside the deploy: expand ones before the first instance leaves, contract ones after the last is back.',
  'database.migrate.run':
    "`'ship'`: ship applies each pending file and records it in the tool's version table. Or `{ command, on }`: your tool (`command`, e.g. `npx prisma migrate deploy`, with DATABASE_URL set) run once, `on` `'local'` (default) or the host named.",
  'database.migrate.lockTimeout': "`SET lock_timeout` for every statement ship applies: a statement queued longer is cancelled and retried, so it never stalls the site's queries.",
  'database.migrate.statementTimeout': '`SET statement_timeout` for every statement ship applies (`0`: none).',
  'database.migrate.retries': 'Retries, with backoff, of a statement that hit `lockTimeout`.',
  'database.migrate.waitForReplicas': 'How long to wait, after the expand migrations, for every replica and read path to show the new schema version.',
  'database.migrations.hygiene':
    'Also lint schema style (the `hygiene` rules): `varchar(n)` over `text`, `int` keys, `serial`, `timestamp` without time zone, names over 63 bytes, tables without the schema the project uses.',
  'database.migrations.requireStatementTimeout':
    'Flag statements that scan or rewrite a table under a blocking lock with no `statement_timeout` set in the migration; `false` when the migration role sets one (`ALTER ROLE ... SET statement_timeout`).',
  state: 'Where runs, instance transitions and the deploy lock are recorded.',
  "state.path [store: 'file']": 'Folder for the journal, relative to this file.',
  "state.url [store: 'postgres']": 'Connection string of the PostgreSQL database that keeps the journal (shared by laptops and CI).',
  container:
    'The app ships as a container image: `ship deploy --version 1.4.2` rolls `<image>:1.4.2` with the built-in deploy-container playbook (pull in stage while serving, swap the container while out of the load balancer).',
  'container.engine': "The host's container CLI, `docker` or `podman`; detected on each host (docker first) when left out.",
  'container.image': 'Image reference without a tag, e.g. `registry.example.com/acme/shop`; `--version` is the tag.',
  'container.registry': 'Registry to log in to in stage, before the pull. Left out: no login (a public registry, or `--image-archive`).',
  'container.registry.server': 'Registry host (and port) to log in to.',
  'container.registry.username': 'Registry user.',
  'container.registry.password':
    "Registry password or token: `env('REGISTRY_TOKEN')`, `command('...')` or `file('...')`, resolved once per run in the pre-flight; it reaches the host through stdin (`--password-stdin`), never a command line.",
  'container.name': 'Container name on every host; the running release is its `ship.release` label.',
  'container.run': 'How the container is started.',
  'container.run.network': "`--network` (e.g. `'host'`).",
  'container.run.ports': "`--publish` mappings, e.g. `['8080:8080']`.",
  'container.run.volumes': "`--volume` mounts, e.g. `['/srv/shop/data:/data']`.",
  'container.run.args': "More `run` options, passed as written, each as one argument (e.g. `['--restart', 'unless-stopped']`).",
  'container.run.command':
    "The command the container runs instead of the image's default (Kamal's `cmd`), each word one argument after the image, e.g. `['bundle', 'exec', 'sidekiq']`: workers often run the web image with another command.",
  'container.stopTimeout': 'How long the old container has to stop (SIGTERM, then SIGKILL) while the instance is out.',
  'container.keep': 'Images kept per host for rollback, the new and the running one included (at least 2).',
  quiet:
    'For instances no load balancer sends to (workers): before activate restarts one, ship tells it to stop taking new work, then waits until it is idle or `wait` passes. The signal goes to the container (`<engine> kill --signal`), or to the process in `pidFile`; or `command` is run instead (without `container`, one of `pidFile` and `command` is required). Deploy, rollback, patch and run all quiet each instance; a worker that is not running is said to be, and rolled.',
  'quiet.signal': "The signal that makes the app stop taking new work (`'TSTP'` for Sidekiq), with or without `SIG`. KILL and STOP are refused: the app could not finish its jobs.",
  'quiet.wait':
    "How long the app may take to finish its running jobs. With `idleCommand`, the most ship waits (a note on stderr says when it passed; the restart then goes on and the app's own shutdown handles the rest); without, ship waits all of it. With `container` or `pidFile` the wait also ends when the worker is no longer running. Whole seconds, rounded up.",
  'quiet.idleCommand':
    'Shell text run on the host every second after the signal; exit 0 means idle and ends the wait. A command that cannot run (exit 126 or 127) fails the step rather than cost every host the whole `wait`.',
  'quiet.pidFile':
    "Without `container`: the file on the host holding the worker's pid (`~/` is the home of the user the steps run as). No file, or no such process: nothing to quiet, said and rolled. Refused with `container` (the pid inside a container is not the host's) and with `command`.",
  'quiet.command': 'Shell text run on the host, as written, instead of sending `signal` (e.g. `sv 2 worker`, `systemctl kill -s TSTP worker`); a failure fails the instance.',
  secrets:
    "Environment for the app: `NAME: env('X') | command('...') | file('...')`, resolved once per run on this machine (a missing one stops the pre-flight), written in stage to a 0600 env file on every host: the container's `--env-file`, `<appDir>/shared/.env` for the tarball playbook. Values never reach output, events, the journal, notifications or a command line.",
  notify: 'Who is told about runs. Notifications are sent in the background, never fail or hold up a rollout, and failures to deliver are listed in the summary.',
  roles:
    "Kinds of server of this app (web, workers): role name → any field of the app but `app`, `state`, `notify` and `database`, which a run's roles share. Each role inherits the app's fields it does not set (`vars`, `container` with its `run`, and `rollout` are merged key by key) and lists its own `hosts`. `ship deploy` rolls them one after the other in `rollout.order`, in one run with one lock and one journal; a role that fails stops the ones after it. `--roles web` limits a run.",
  apps: 'More apps in the same file: app name → any top-level field. Each app inherits the top-level fields it does not set (`vars` are merged key by key).',
};

/** Each load balancer's and notifier's own descriptions, under the path its section has in the config. */
function adapterDescriptions(): Record<string, string> {
  const entries: Array<[string, string]> = [];
  for (const adapter of LOAD_BALANCERS) {
    const variant = `[type: '${adapter.schema.shape.type.value}']`;
    for (const [field, text] of Object.entries(adapter.fields)) entries.push([`loadBalancer.${field} ${variant}`, text]);
  }
  for (const adapter of NOTIFIERS) {
    entries.push([`notify.${adapter.key}`, adapter.description]);
    for (const [field, text] of Object.entries(adapter.fields)) entries.push([`notify.${adapter.key}.${field}`, text]);
  }
  for (const [field, text] of Object.entries(DELIVERY_FIELDS)) entries.push([`notify.${field}`, text]);
  return Object.fromEntries(entries);
}

export const FIELD_DESCRIPTIONS: Record<string, string> = { ...CORE_DESCRIPTIONS, ...adapterDescriptions() };
