/**
 * Secrets are scrubbed from structured values as data, string by string, before anything is
 * serialised: a secret holding `"` or `\` never survives in its escaped form, and a secret that
 * looks like JSON never breaks a document. Secrets too short to scrub safely are refused at
 * config load, naming the field. (The real CLI against a real fleet: test/integration/security.test.ts.)
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../../src/config/errors.js';
import { env } from '../../src/config/env.js';
import { validateConfig } from '../../src/config/load.js';
import { EventBus, type ShipEvent } from '../../src/events.js';
import { serialize } from '../../src/journal/file/durable-files.js';
import { NotifierHub } from '../../src/notify/notifier.js';
import { PagerDutyNotifier } from '../../src/notify/pagerduty.js';
import { SlackNotifier } from '../../src/notify/slack.js';
import { WebhookNotifier } from '../../src/notify/webhook.js';
import { jsonRenderer } from '../../src/report/json.js';
import { ListrView } from '../../src/report/listr.js';
import { plainRenderer } from '../../src/report/plain.js';
import { redact, redactDeep, registerSecret } from '../../src/util/redact.js';

/** The value from the issue: a quote and a backslash, which JSON escapes. */
const QUOTED = 'Pa"ss\\word9';
/** The forms it must never take anywhere: as is, and escaped as JSON writes it. */
const QUOTED_FORMS = [QUOTED, JSON.stringify(QUOTED).slice(1, -1)];

const servers: Server[] = [];
after(() => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
});

/** Every event kind that carries free text, each holding the secret (raw, inside a JSON document, in a key). */
function leakyEvents(secret: string): Parameters<EventBus['emit']>[0][] {
  return [
    { type: 'run.started', command: 'deploy', app: 'shop', version: 'v2', hosts: ['web1'], sources: { web1: 'config' }, batches: [['web1']], dryRun: false },
    { type: 'output', host: 'web1', stream: 'stderr', line: `connecting with ${secret}` },
    { type: 'output', host: 'web1', stream: 'stdout', line: JSON.stringify({ password: secret }) },
    { type: 'step.finished', host: 'web1', phase: 'activate', step: 'restart', durationMs: 12, ok: false, exitCode: 5, error: `exit 5: ${secret}` },
    {
      type: 'instance.finished',
      host: 'web1',
      outcome: 'failed-out',
      outOfRotationMs: 5,
      durationMs: 5,
      error: `web1: restart failed: ${JSON.stringify(secret)}`,
    },
    {
      type: 'run.finished',
      status: 'failed',
      durationMs: 30,
      summary: {
        hosts: [{ host: 'web1', outcome: 'failed-out', outOfRotationMs: 5, timeToHealthyMs: 0, error: `exit 5: ${secret}`, facts: { [secret]: secret } }],
        outOfRotation: ['web1'],
        error: `rollout stopped: ${secret}`,
      },
    },
  ];
}

function assertNoForms(where: string, text: string, forms: string[]): void {
  for (const form of forms) assert.ok(!text.includes(form), `${where} holds the secret as ${JSON.stringify(form)}:\n${text}`);
}

test('a secret holding " and \\ is scrubbed from every renderer and the journal, escaped or not (issue 13, item 1)', async () => {
  registerSecret(QUOTED);
  const bus = new EventBus('run-quoted');
  const json: string[] = [];
  const plain: string[] = [];
  const seen: ShipEvent[] = [];
  const listr: string[] = [];
  const view = new ListrView((text) => listr.push(text));
  bus.subscribe(jsonRenderer((text) => json.push(text)));
  bus.subscribe(plainRenderer((text) => plain.push(text)));
  bus.subscribe(view.listener);
  bus.subscribe((event) => seen.push(event));
  for (const event of leakyEvents(QUOTED)) bus.emit(event);
  await view.done();

  assertNoForms('the --json output', json.join(''), QUOTED_FORMS);
  assertNoForms('the plain output', plain.join(''), QUOTED_FORMS);
  assertNoForms('the task list summary', listr.join(''), QUOTED_FORMS);
  assertNoForms('the events every subscriber (journal, notifiers, reports) sees', JSON.stringify(seen), QUOTED_FORMS);
  const lines = json.map((line) => JSON.parse(line) as ShipEvent);
  assert.equal(lines.length, 6, 'every event was written, none failed to render');
  const output = lines.filter((e) => e.type === 'output').map((e) => (e.type === 'output' ? e.line : ''));
  assert.deepEqual(output, ['connecting with ***', '{"password":"***"}']);
  const finished = lines.at(-1);
  assert.ok(finished?.type === 'run.finished');
  assert.equal(finished.summary.error, 'rollout stopped: ***');
  assert.deepEqual(finished.summary.hosts[0]!.facts, { '***': '***' });

  // The journal scrubs what is handed to it directly too (lock holders, break reasons).
  assertNoForms('a journal record', serialize({ reason: `broke it with ${QUOTED}`, nested: [{ [QUOTED]: [QUOTED] }] }), QUOTED_FORMS);
  // Text that quotes it as JSON (an error built with JSON.stringify) is scrubbed as well.
  assert.equal(redact(`bad value ${JSON.stringify(QUOTED)}`), 'bad value "***"');
});

test('notification bodies (webhook, Slack, PagerDuty) never carry a secret holding " or \\', async () => {
  registerSecret(QUOTED);
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      bodies.push(body);
      res.writeHead(202).end('{}');
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const hub = new NotifierHub(
    [new WebhookNotifier({ url: `${base}/hook` }), new SlackNotifier(`${base}/slack`), new PagerDutyNotifier('pdRoutingKey0123456789', 'error', `${base}/pd`)],
    { on: ['start', 'success', 'failure', 'abort'], timeoutMs: 2000, retries: 0 },
  );
  const bus = new EventBus('run-notify');
  hub.attach(bus);
  for (const event of leakyEvents(QUOTED)) bus.emit(event);
  assert.deepEqual(await hub.flush(5000), []);
  assert.equal(bodies.length, 5, 'webhook and Slack: start and failure; PagerDuty: the failure only');
  for (const body of bodies) {
    assertNoForms('a notification body', body, QUOTED_FORMS);
    JSON.parse(body);
  }
  assert.ok(bodies.some((body) => body.includes('rollout stopped: ***')));
});

test('a secret that looks like JSON (a number, "ok":true) never breaks a document: values are scrubbed as strings (item 2)', () => {
  for (const secret of ['12345678', '"ok":true', 'true,"null"']) registerSecret(secret);
  const bus = new EventBus('run-tokens');
  const json: string[] = [];
  const warnings: string[] = [];
  bus.subscribe(
    jsonRenderer((text) => json.push(text)),
    'the JSON output',
  );
  bus.subscribe((event) => {
    if (event.type === 'warning') warnings.push(event.message);
  });
  bus.emit({ type: 'step.finished', host: 'web1', phase: 'activate', step: 'restart', durationMs: 12345678, ok: true, exitCode: 0 });
  bus.emit({ type: 'output', host: 'web1', stream: 'stdout', line: 'took 12345678 ms, {"ok":true}' });
  assert.deepEqual(warnings, [], 'no renderer failed');
  const [step, output] = json.map((line) => JSON.parse(line) as ShipEvent);
  assert.ok(step?.type === 'step.finished');
  assert.equal(step.ok, true, 'a step that succeeded is reported as succeeded');
  assert.equal(step.durationMs, 12345678, 'numbers are data, not text to scrub');
  assert.ok(output?.type === 'output');
  assert.equal(output.line, 'took *** ms, {***}');
  assert.deepEqual(redactDeep({ ok: true, n: 12345678, none: null, list: [true, '12345678'] }), { ok: true, n: 12345678, none: null, list: [true, '***'] });
});

const minimal = { app: 'shop', hosts: [{ name: 'web1', address: '127.0.0.1' }], loadBalancer: { type: 'none' }, health: { tcp: { port: 8080 } } };

function refusal(config: unknown): string {
  try {
    validateConfig(config, 'ship.config.ts');
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message;
  }
  assert.fail('expected the config to be refused');
}

test('a secret shorter than 8 characters (true, 1, null, a short password in a URL) is refused at load, naming the field (item 2)', () => {
  process.env.SHIP_TEST_SHORT = 'true';
  try {
    const message = refusal({ ...minimal, ssh: { passphrase: env('SHIP_TEST_SHORT') } });
    assert.match(message, /ssh\.passphrase: the value of environment variable SHIP_TEST_SHORT has 4 character\(s\); ship needs at least 8 .*use a longer one/);
    assert.match(refusal({ ...minimal, notify: { webhook: { url: 'https://hooks.example.com/x', secret: '1' } } }), /notify\.webhook\.secret: this secret has 1 character\(s\)/);
    assert.match(
      refusal({ ...minimal, notify: { webhook: { url: 'https://hooks.example.com/x', headers: { authorization: 'null' } } } }),
      /notify\.webhook\.headers\.authorization: this secret has 4/,
    );
    const url = refusal({ ...minimal, database: { primary: 'postgres://app:pw@db.internal/shop' } });
    assert.match(url, /database\.primary: this secret holds a password of 2 character\(s\)/);
    assert.ok(!url.includes('app:pw@'), 'the message does not quote the secret');
    // Long enough: accepted and scrubbed.
    process.env.SHIP_TEST_SHORT = 'longer-passphrase';
    const { config } = validateConfig({ ...minimal, ssh: { passphrase: env('SHIP_TEST_SHORT') }, database: { primary: 'postgres://app:8charsOK@db/shop' } }, 'f');
    assert.equal(config.ssh.passphrase, 'longer-passphrase');
    assert.equal(redact('login 8charsOK with longer-passphrase'), 'login *** with ***');
  } finally {
    delete process.env.SHIP_TEST_SHORT;
  }
});
