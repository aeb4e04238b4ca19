/**
 * Security of a real run (two hosts of sshd + app behind HAProxy, a real PostgreSQL, loopback
 * webhook receivers), through the real CLI:
 *   - secrets planted in the config and the environment (an SSH key passphrase, a database URL
 *     password, Slack and generic webhook URLs, a webhook signing secret, AWS keys) never appear
 *     in stdout, stderr, the --json events, the journal and lock files under .ship/, error
 *     messages or the notifications sent, on success and on failure paths;
 *   - hostile host names and variables (quotes, ;, $(...), backticks, newlines) in the config,
 *     in a host's name and in --var reach the host verbatim and run nothing;
 *   - the journal and lock files are readable by their owner only.
 * Host keys are verified by default: test/integration/deploy-faults.test.ts (changed and unknown
 * keys refused) and test/integration/ssh-transport.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import pg from 'pg';
import { FileStateStore } from '../../src/journal/file-store.js';
import { quote } from '../../src/shell/sh.js';
import { fleetConfig, startFleet, type Fleet } from '../fleet/fleet.js';
import { generateKeyPair } from '../fleet/keys.js';
import { startPostgres, type PostgresFleet } from '../fleet/postgres.js';
import { REPO_ROOT, runShip, type ShipRun } from '../support/cli.js';
import { FLEET_APP, assertInvariants, describeRun, finishedEvent, lbView, resetFleet, stateStoreOf } from '../support/fleet-assertions.js';

const BASELINE = 'v1';

let fleet: Fleet;
let postgres: PostgresFleet;
let receiver: Server;
/** Every request the webhook receivers got. The path is the receiver's own URL (it carries its token by design). */
const received: Array<{ path: string; content: string }> = [];

const token = () => randomBytes(12).toString('hex');
const secrets = {
  passphrase: `pass-${token()}`,
  slackToken: `slack${token()}`,
  webhookToken: `hook${token()}`,
  webhookSecret: `whsec-${token()}`,
  awsKeyId: `AKIA${token().toUpperCase().slice(0, 16)}`,
  awsSecret: `aws/${token()}+${token()}`,
  awsSession: `FwoGZXIvYXdzE${token()}`,
  wrongDbPassword: `wrongpw-${token()}`,
};
let receiverUrl: string;
let encryptedKey: string;

before(async () => {
  fleet = await startFleet({ hosts: 2, version: BASELINE });
  const address = fleet.hosts[0]!.address.replace(/\.\d+$/, '.2');
  postgres = await startPostgres({ address, replica: false });
  // The pre-flight reads the applied schema versions: the app's database has its migration table.
  const client = new pg.Client({ connectionString: postgres.primaryUrl });
  await client.connect();
  try {
    await client.query('create table schema_migrations (version text primary key)');
  } finally {
    await client.end();
  }
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      received.push({ path: request.url ?? '', content: `${JSON.stringify(request.headers)}\n${body}` });
      response.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, address, resolve));
  receiverUrl = `http://${address}:${(receiver.address() as { port: number }).port}`;
  // A passphrase-protected key, authorized on every host next to the fleet's own.
  const key = await generateKeyPair(join(fleet.dir, 'client'), 'id_encrypted', secrets.passphrase);
  encryptedKey = key.privateKeyPath;
  for (const host of fleet.hosts) await appendFile(join(fleet.dir, 'hosts', host.name, 'sshd', 'authorized_keys'), `${key.publicKey}\n`);
});
after(async () => {
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
  await postgres?.stop();
  await fleet?.stop();
});

/** What may never be seen: every planted secret, and the parts of URLs that carry one. */
function plantedSecrets(): Record<string, string> {
  return { ...secrets, databasePassword: postgres.password, databasePasswordInUrl: encodeURIComponent(postgres.password) };
}

/** The environment of a run: the secrets the config reads, and AWS keys ship has no business printing. */
function secretEnv(databaseUrl: string): Record<string, string> {
  return {
    SHIP_TEST_PASSPHRASE: secrets.passphrase,
    SHIP_TEST_DATABASE_URL: databaseUrl,
    SHIP_TEST_SLACK_URL: `${receiverUrl}/services/T000/B000/${secrets.slackToken}`,
    SHIP_TEST_WEBHOOK_URL: `${receiverUrl}/hooks/${secrets.webhookToken}`,
    SHIP_TEST_WEBHOOK_SECRET: secrets.webhookSecret,
    AWS_ACCESS_KEY_ID: secrets.awsKeyId,
    AWS_SECRET_ACCESS_KEY: secrets.awsSecret,
    AWS_SESSION_TOKEN: secrets.awsSession,
  };
}

/** A config whose secrets all come from the environment, as the README tells users to write it. */
async function writeSecretConfig(name: string, restart?: Record<string, string>, privateKey = encryptedKey): Promise<string> {
  const base = fleetConfig(fleet, { rollout: { healthyTimeout: '3s', drainTimeout: '2s' } });
  if (restart)
    base.hosts = base.hosts.map((h) => ({ ...h, vars: { ...(h.vars as Record<string, unknown>), ...(restart[h.name as string] ? { restart: restart[h.name as string] } : {}) } }));
  const { ssh, ...rest } = base;
  const path = join(fleet.dir, name);
  await writeFile(
    path,
    `const config = ${JSON.stringify(rest, null, 2)};
export default {
  ...config,
  ssh: { ...${JSON.stringify({ ...ssh, privateKey })}, passphrase: process.env.SHIP_TEST_PASSPHRASE },
  database: { primary: process.env.SHIP_TEST_DATABASE_URL },
  notify: {
    slack: { webhookUrl: process.env.SHIP_TEST_SLACK_URL },
    webhook: { url: process.env.SHIP_TEST_WEBHOOK_URL, secret: process.env.SHIP_TEST_WEBHOOK_SECRET },
    timeout: '2s',
    retries: 0,
  },
};
`,
  );
  return path;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else out.push(path);
  }
  return out;
}

/** Fails naming the secret and where it was found. */
async function assertNoSecrets(runs: Array<[string, ShipRun]>): Promise<void> {
  const places: Array<[string, string]> = runs.flatMap(([label, run]) => [
    [`${label} stdout (with the --json events)`, run.stdout],
    [`${label} stderr`, run.stderr],
  ]);
  for (const file of await filesUnder(join(fleet.dir, '.ship'))) places.push([file, await readFile(file, 'utf8')]);
  places.push(['the notifications sent (headers and bodies)', received.map((r) => r.content).join('\n')]);
  for (const [name, value] of Object.entries(plantedSecrets())) {
    for (const [where, text] of places) assert.ok(!text.includes(value), `secret ${name} appears in ${where}`);
  }
}

test('secrets in the config and the environment appear nowhere: output, events, journal, errors, notifications (success and failure paths)', async () => {
  const good = secretEnv(postgres.primaryUrl);
  const config = await writeSecretConfig('secrets.config.ts');
  const artifact = await fleet.artifact('v2');
  const deploy = (env: Record<string, string>, extra: string[] = [], file = config) =>
    runShip(['deploy', '--config', file, '--version', 'v2', '--artifact', artifact, ...extra], { env });

  const succeeded = await deploy(good, ['--json']);
  await assertInvariants(fleet, succeeded, { code: 0, configPath: config });
  assert.ok(
    succeeded.events.some((e) => e.type === 'preflight.check' && e.name === 'database' && e.status === 'passed'),
    'the database pre-flight ran against the real server',
  );
  assert.ok(
    received.some((r) => r.path.startsWith('/services/T000/B000/')) && received.some((r) => r.path.startsWith('/hooks/')),
    `both webhooks were called: ${received.map((r) => r.path).join(', ')}`,
  );
  assert.ok(
    received.some((r) => r.path.startsWith('/hooks/') && /x-ship-signature/i.test(r.content)),
    'the webhook body is signed (with the secret, not carrying it)',
  );

  // A wrong database password: refused, and the error speaks of the database without quoting it.
  const wrongUrl = postgres.primaryUrl.replace(`:${encodeURIComponent(postgres.password)}@`, `:${secrets.wrongDbPassword}@`);
  assert.notEqual(wrongUrl, postgres.primaryUrl);
  const refusedJson = await deploy(secretEnv(wrongUrl), ['--json']);
  await assertInvariants(fleet, refusedJson, { code: 3, configPath: config });
  assert.match(finishedEvent(refusedJson).summary.error ?? '', /database/);
  const refusedPlain = await deploy(secretEnv(wrongUrl));
  assert.equal(refusedPlain.code, 3, describeRun(refusedPlain));

  // A step that fails and prints a secret it was given: scrubbed from the output and the summary.
  await resetFleet(fleet, BASELINE);
  const leaky = await writeSecretConfig('secrets-leaky.config.ts', {
    web1: `echo "connecting with ${postgres.primaryUrl} and ${secrets.passphrase}" >&2; exit 5`,
  });
  const failedJson = await deploy(good, ['--json'], leaky);
  await assertInvariants(fleet, failedJson, { code: 1, configPath: leaky });
  const leaked = failedJson.events.find((e) => e.type === 'output' && e.line.includes('connecting with'));
  assert.ok(leaked && leaked.type === 'output' && leaked.line.includes('***'), `the step output was reported with the secrets scrubbed: ${JSON.stringify(leaked)}`);
  const failedPlain = await deploy(good, [], leaky);
  assert.equal(failedPlain.code, 1, describeRun(failedPlain));

  // A config error naming the field that needs a missing secret, and a fatal error path.
  const { SHIP_TEST_SLACK_URL: _unset, ...missing } = good;
  const configError = await deploy(missing);
  assert.equal(configError.code, 2, describeRun(configError));
  assert.match(configError.stderr, /notify\.slack\.webhookUrl/);

  const status = await runShip(['status', '--config', config, '--json'], { env: good });
  const statusPlain = await runShip(['status', '--config', config], { env: good });
  await assertNoSecrets([
    ['deploy', succeeded],
    ['refused deploy (--json)', refusedJson],
    ['refused deploy', refusedPlain],
    ['failed deploy (--json)', failedJson],
    ['failed deploy', failedPlain],
    ['config error', configError],
    ['status --json', status],
    ['status', statusPlain],
  ]);
  await resetFleet(fleet, BASELINE);
});

test('a passphrase holding " and \\ is scrubbed, escaped or not, from --json events, notifications, the journal and errors; a secret shorter than 8 characters is refused', async () => {
  const quoted = `Pa"ss\\word9-${token()}`;
  // As is, and as JSON writes it (the form that leaked when the JSON text was scrubbed).
  const forms = { raw: quoted, jsonEscaped: JSON.stringify(quoted).slice(1, -1) };
  const key = await generateKeyPair(join(fleet.dir, 'client'), 'id_quoted', quoted);
  for (const host of fleet.hosts) await appendFile(join(fleet.dir, 'hosts', host.name, 'sshd', 'authorized_keys'), `${key.publicKey}\n`);
  // Each host's restart prints the passphrase, and a JSON document holding it; web1's then succeeds, web2's fails.
  const printIt = `printf '%s\\n' ${quote(`using ${quoted}`)} ${quote(JSON.stringify({ passphrase: quoted }))} >&2`;
  const [web1, web2] = fleet.hosts as [Fleet['hosts'][number], Fleet['hosts'][number]];
  const config = await writeSecretConfig(
    'secrets-quoted.config.ts',
    { [web1.name]: `${printIt}; sh ${web1.appDir}/restart.sh ${web1.appDir}`, [web2.name]: `${printIt}; exit 5` },
    key.privateKeyPath,
  );
  try {
    const env = { ...secretEnv(postgres.primaryUrl), SHIP_TEST_PASSPHRASE: quoted };
    const artifact = await fleet.artifact('v2');
    const before = received.length;
    const deploy = (extra: string[]) => runShip(['deploy', '--config', config, '--version', 'v2', '--artifact', artifact, ...extra], { env });

    const json = await deploy(['--json']);
    await assertInvariants(fleet, json, { code: 1, configPath: config });
    assert.equal(json.events.length, json.stdout.trim().split('\n').length, 'every line of --json is one parsed event');
    const printed = json.events.filter((e) => e.type === 'output' && e.line.includes('using'));
    assert.ok(printed.length >= 2, `both hosts' output was reported: ${describeRun(json)}`);
    for (const e of printed) assert.ok(e.type === 'output' && e.line === 'using ***', JSON.stringify(e));
    assert.ok(
      json.events.some((e) => e.type === 'output' && e.line === '{"passphrase":"***"}'),
      'the JSON document the step printed kept its shape, its value scrubbed',
    );
    const restarted = json.events.find((e) => e.type === 'step.finished' && e.host === web1.name && e.phase === 'activate' && e.ok);
    assert.ok(restarted, `web1's restart printed the secret and succeeded, and is reported so: ${describeRun(json)}`);
    assert.ok(!json.events.some((e) => e.type === 'warning' && /failed on a/.test(e.message)), 'no renderer or subscriber broke on the secret');
    const notices = received.slice(before).filter((r) => r.path.startsWith('/hooks/'));
    assert.ok(
      notices.some((r) => r.content.includes('"trigger":"failure"')),
      `the failure was notified: ${notices.map((r) => r.content).join('\n')}`,
    );

    const plain = await deploy([]);
    assert.equal(plain.code, 1, describeRun(plain));
    // An error printed by the CLI itself that quotes the value as JSON (--version "...").
    const badVersion = await runShip(['deploy', '--config', config, '--version', quoted, '--artifact', artifact], { env });
    assert.equal(badVersion.code, 2, describeRun(badVersion));
    assert.match(badVersion.stderr, /--version "\*\*\*"/);

    const places: Array<[string, string]> = [
      ['--json stdout', json.stdout],
      ['--json stderr', json.stderr],
      ['plain stdout', plain.stdout],
      ['plain stderr', plain.stderr],
      ['the error printed for --version', badVersion.stderr],
      ['the notifications sent', received.map((r) => r.content).join('\n')],
    ];
    for (const file of await filesUnder(join(fleet.dir, '.ship'))) places.push([file, await readFile(file, 'utf8')]);
    for (const [form, value] of Object.entries(forms)) {
      for (const [where, text] of places) assert.ok(!text.includes(value), `the passphrase (${form}) appears in ${where}`);
    }

    // A secret too short to scrub without masking ordinary output (a JSON token here) is refused
    // at load, naming the field, before anything runs.
    const short = await runShip(['deploy', '--config', config, '--version', 'v2', '--artifact', artifact, '--json'], { env: { ...env, SHIP_TEST_PASSPHRASE: 'true' } });
    assert.equal(short.code, 2, describeRun(short));
    assert.match(short.stderr, /ssh\.passphrase: this secret has 4 character\(s\); ship needs at least 8/);
    assert.equal(short.stdout, '', 'no event was written');
  } finally {
    // The next tests start from the baseline, whatever failed here.
    await resetFleet(fleet, BASELINE);
  }
});

const HOSTILE = `it's "quoted"; touch CANARY; $(touch CANARY) \`touch CANARY\` | touch CANARY & \n touch CANARY # end`;

test('hostile host names and variables (quotes, ;, $(...), backticks, newlines) arrive verbatim and run nothing', async () => {
  const canary = join(fleet.dir, 'hostile-canary');
  const hostile = (what: string) => `${HOSTILE.replaceAll('CANARY', canary)} ${what}`;
  const markerDir = join(fleet.dir, 'hostile-out');
  const playbook = join(fleet.dir, 'hostile-playbook.ts');
  await writeFile(
    playbook,
    `import { definePlaybook, run, sh, requireVar } from ${JSON.stringify(join(REPO_ROOT, 'src', 'index.js'))};
const out = (ctx, what) => requireVar(ctx, 'markerDir') + '/' + ctx.host.lbName + '.' + what;
export default definePlaybook({
  name: 'echo-hostile',
  requiredVars: ['markerDir', 'fromConfig', 'fromHost', 'fromCli'],
  activate: [
    run((ctx) => sh\`mkdir -p \${requireVar(ctx, 'markerDir')} && printf '%s' \${ctx.host.name} > \${out(ctx, 'name')}\`, { name: 'host name' }),
    run((ctx) => sh\`printf '%s' \${requireVar(ctx, 'fromConfig')} > \${out(ctx, 'config')}\`, { name: 'config var' }),
    run((ctx) => sh\`printf '%s' \${requireVar(ctx, 'fromHost')} > \${out(ctx, 'host')}\`, { name: 'host var' }),
    run((ctx) => sh\`printf '%s' \${requireVar(ctx, 'fromCli')} > \${out(ctx, 'cli')}\`, { name: '--var' }),
  ],
});
`,
  );
  const [web1, web2] = fleet.hosts as [Fleet['hosts'][number], Fleet['hosts'][number]];
  const config = join(fleet.dir, 'hostile.config.ts');
  const base = fleetConfig(fleet, { rollout: { healthyTimeout: '3s', drainTimeout: '2s' }, vars: { markerDir, fromConfig: hostile('config') } });
  const hosts = [
    { name: hostile('name'), lbName: web1.name, address: web1.address, vars: { appDir: web1.appDir, fromHost: hostile('host var') } },
    { name: web2.name, address: web2.address, vars: { appDir: web2.appDir, fromHost: hostile('host var') } },
  ];
  await writeFile(config, `export default ${JSON.stringify({ ...base, hosts }, null, 2)};\n`);

  const run = await runShip(['run', playbook, '--config', config, '--var', `fromCli=${hostile('cli')}`, '--json']);
  await assertInvariants(fleet, run, { code: 0, configPath: config });
  assert.equal(existsSync(canary), false, 'a hostile value ran a command on a host');
  for (const [lbName, name] of [
    [web1.name, hostile('name')],
    [web2.name, web2.name],
  ] as const) {
    assert.equal(await readFile(join(markerDir, `${lbName}.name`), 'utf8'), name);
    assert.equal(await readFile(join(markerDir, `${lbName}.config`), 'utf8'), hostile('config'));
    assert.equal(await readFile(join(markerDir, `${lbName}.host`), 'utf8'), hostile('host var'));
    assert.equal(await readFile(join(markerDir, `${lbName}.cli`), 'utf8'), hostile('cli'));
  }
  const store = stateStoreOf(config);
  const journal = await store.lastRun(FLEET_APP).finally(() => store.close());
  assert.ok(
    journal?.transitions.some((t) => t.host === hostile('name')),
    'the journal keeps the hostile name as data',
  );

  // Without an lbName the hostile name would be an HAProxy server name: refused before any
  // runtime API command is sent, so its newline cannot smuggle in a command of its own.
  const injecting = `${web1.name}\nset server app/${web2.name} state maint`;
  const refusedConfig = join(fleet.dir, 'hostile-lb.config.ts');
  await writeFile(refusedConfig, `export default ${JSON.stringify({ ...base, hosts: [{ ...hosts[0], name: injecting, lbName: undefined }, hosts[1]] }, null, 2)};\n`);
  const refused = await runShip(['run', playbook, '--config', refusedConfig, '--var', 'fromCli=x', '--json']);
  await assertInvariants(fleet, refused, { code: 3, configPath: refusedConfig });
  const view = await lbView(fleet);
  assert.equal(view.get(web2.name)?.adminOut, false, `${web2.name} was put in maintenance by an injected command: ${view.get(web2.name)?.detail}`);
  assert.equal(existsSync(canary), false);
});

test('the journal and the lock are readable by their owner only (0700 folders, 0600 files; nobody cannot read them)', async () => {
  const root = join(fleet.dir, '.ship');
  // A lock held right now, and a broken one recorded, so every kind of file is there.
  const store = new FileStateStore(root);
  const actor = { osUser: 'root', hostname: 'test' };
  const at = new Date().toISOString();
  await store.acquireLock({ runId: 'held', pid: process.pid, app: 'other', command: 'deploy', actor, acquiredAt: at, heartbeatAt: at }, { staleAfterMs: 1 });
  await new Promise((resolve) => setTimeout(resolve, 20));
  await store.breakLock('other', actor, 'checking file modes');
  await store.acquireLock({ runId: 'held', pid: process.pid, app: FLEET_APP, command: 'deploy', actor, acquiredAt: at, heartbeatAt: at }, { staleAfterMs: 30_000 });
  try {
    const files = await filesUnder(root);
    for (const kind of [/\/runs\/demo\/[^/]+\.jsonl$/, /\/runs\/demo\/latest$/, /\/locks\/demo\.json$/, /\/locks\/other\.breaks\.jsonl$/]) {
      assert.ok(
        files.some((f) => kind.test(f)),
        `no file like ${kind} under ${root}: ${files.join(', ')}`,
      );
    }
    for (const file of files) assert.equal((await stat(file)).mode & 0o777, 0o600, `${file} is not 0600`);
    const dirs = [root, join(root, 'runs'), join(root, 'runs', FLEET_APP), join(root, 'locks')];
    for (const dir of dirs) assert.equal((await stat(dir)).mode & 0o777, 0o700, `${dir} is not 0700`);
    for (const file of files) {
      const read = await execa('runuser', ['-u', 'nobody', '--', 'cat', file], { reject: false });
      assert.notEqual(read.exitCode, 0, `nobody could read ${file}`);
      assert.match(read.stderr, /Permission denied/);
    }
  } finally {
    await store.releaseLock(FLEET_APP, 'held');
    await store.close();
  }
});
