import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { env } from '../../src/config/env.js';
import { validateConfig } from '../../src/config/load.js';
import { EventBus, type RunStatus, type RunSummary } from '../../src/events.js';
import { notifierHubFor } from '../../src/notify/from-config.js';
import { NotifierHub, deliveryBudgetMs, type Notifier } from '../../src/notify/notifier.js';
import { PagerDutyNotifier } from '../../src/notify/pagerduty.js';
import { SlackNotifier } from '../../src/notify/slack.js';
import { WebhookNotifier } from '../../src/notify/webhook.js';
import { redact } from '../../src/util/redact.js';
import { ERROR_CODES } from '../../src/errors/codes.js';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Reply = (req: IncomingMessage, res: ServerResponse, index: number) => void;

const servers: Array<{ close(): void; closeAllConnections(): void }> = [];
after(() => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
});

/** A listener on loopback (port from the OS) that records every request and answers with `reply`. */
async function listener(reply: Reply = (_req, res) => res.end('ok')): Promise<{ base: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      reply(req, res, received.length);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

/** A loopback port nobody listens on: bound by the OS, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function hub(notifiers: Notifier[], options: Partial<ConstructorParameters<typeof NotifierHub>[1]> = {}) {
  return new NotifierHub(notifiers, { on: ['start', 'success', 'failure', 'abort'], timeoutMs: 2000, retries: 2, backoffMs: 10, ...options });
}

function run(h: NotifierHub, status: RunStatus, summary: Partial<RunSummary> & { code?: string } = {}, runId = 'run-1', dryRun = false) {
  const bus = new EventBus(runId);
  h.attach(bus);
  bus.emit({ type: 'run.started', command: 'deploy', app: 'storefront', version: '1.4.2', hosts: ['web1', 'web2'], sources: {}, batches: [['web1'], ['web2']], dryRun });
  if (status === 'interrupted' && summary.outOfRotation?.length) {
    bus.emit({ type: 'interrupt', graceful: false, outOfRotation: summary.outOfRotation, restoreCommand: `ship restore --hosts ${summary.outOfRotation.join(',')}` });
  }
  bus.emit({ type: 'run.finished', status, durationMs: 63_000, summary: { hosts: [], outOfRotation: [], ...summary } as RunSummary });
}

const failedSummary = {
  hosts: [
    { host: 'web1', outcome: 'deployed' as const, outOfRotationMs: 900, timeToHealthyMs: 300 },
    { host: 'web2', outcome: 'failed-out' as const, outOfRotationMs: 5000, timeToHealthyMs: 0, error: 'web2: health check http did not finish within 120000ms' },
  ],
  outOfRotation: ['web2'],
  error: 'rollout stopped: the canary failed\nweb2: health check http did not finish within 120000ms (last seen: 503)',
  code: 'SHIP-E015',
};

test('Slack: a start and a failure message with text, blocks, the code and its runbook link', async () => {
  const slack = await listener();
  const url = `${slack.base}/services/T000/B000/slackTokenXYZ123`;
  const h = hub([new SlackNotifier(url)], { runbookUrl: 'https://git.example.com/ops/ship/blob/main/docs/runbook.md' });
  run(h, 'failed', failedSummary);
  assert.deepEqual(await h.flush(5000), []);
  assert.equal(slack.received.length, 2);
  assert.equal(slack.received[0]!.path, '/services/T000/B000/slackTokenXYZ123');
  assert.equal(slack.received[0]!.headers['content-type'], 'application/json');
  const start = JSON.parse(slack.received[0]!.body) as { text: string };
  assert.equal(start.text, ':rocket: ship deploy storefront 1.4.2: started on 2 host(s)');
  const failure = JSON.parse(slack.received[1]!.body) as {
    text: string;
    blocks: Array<{ type: string; text?: { type: string; text: string }; elements?: Array<{ text: string }> }>;
  };
  assert.equal(failure.text, ':rotating_light: ship deploy storefront 1.4.2: FAILED after 1m3s (SHIP-E015)');
  assert.equal(failure.blocks[0]!.type, 'section');
  assert.equal(failure.blocks[0]!.text!.type, 'mrkdwn');
  const section = failure.blocks[0]!.text!.text;
  assert.match(
    section,
    /<https:\/\/git\.example\.com\/ops\/ship\/blob\/main\/docs\/runbook\.md#ship-e015-health-check-did-not-pass-in-time\|SHIP-E015 Health check did not pass in time>/,
  );
  assert.match(section, /Still out of the load balancer:\* web2/);
  assert.match(section, /the canary failed/);
  assert.equal(failure.blocks[1]!.type, 'context');
  assert.match(failure.blocks[1]!.elements![0]!.text, /run run-1/);
});

test('PagerDuty: failure triggers with a per-app dedup key and the run id; a later success of the app resolves it', async () => {
  const pd = await listener((_req, res) => {
    res.writeHead(202, { 'content-type': 'application/json' });
    res.end('{"status":"success","message":"Event processed"}');
  });
  const notifier = new PagerDutyNotifier('pdRoutingKey0123456789abcdef', 'critical', `${pd.base}/v2/enqueue`);
  const first = hub([notifier]);
  run(first, 'failed', failedSummary, 'run-failing');
  assert.deepEqual(await first.flush(5000), []);
  // The start of a run is no page.
  assert.equal(pd.received.length, 1);
  const trigger = JSON.parse(pd.received[0]!.body) as Record<string, any>;
  assert.equal(pd.received[0]!.path, '/v2/enqueue');
  assert.equal(trigger.routing_key, 'pdRoutingKey0123456789abcdef');
  assert.equal(trigger.event_action, 'trigger');
  assert.equal(trigger.dedup_key, 'ship/storefront');
  assert.equal(trigger.payload.summary, 'ship deploy storefront 1.4.2: FAILED after 1m3s (SHIP-E015); out of the load balancer: web2');
  assert.equal(trigger.payload.severity, 'critical');
  assert.equal(trigger.payload.source, 'storefront');
  assert.equal(trigger.payload.class, 'SHIP-E015');
  assert.equal(trigger.payload.custom_details.run_id, 'run-failing');
  assert.deepEqual(trigger.payload.custom_details.out_of_rotation, ['web2']);
  assert.equal(trigger.payload.custom_details.runbook, 'docs/runbook.md#ship-e015-health-check-did-not-pass-in-time');
  assert.deepEqual(
    trigger.payload.custom_details.failed_hosts.map((h: { host: string }) => h.host),
    ['web2'],
  );
  // A relative runbook link is no use in PagerDuty's links list.
  assert.equal(trigger.links, undefined);

  const second = hub([notifier]);
  run(second, 'succeeded', {}, 'run-fixed');
  assert.deepEqual(await second.flush(5000), []);
  assert.equal(pd.received.length, 2);
  const resolve = JSON.parse(pd.received[1]!.body) as Record<string, unknown>;
  assert.deepEqual(resolve, { routing_key: 'pdRoutingKey0123456789abcdef', dedup_key: 'ship/storefront', event_action: 'resolve' });
});

test('PagerDuty: an abort pages only when instances were left out of the load balancer', async () => {
  const pd = await listener();
  const notifier = new PagerDutyNotifier('pdRoutingKeyAbort0123456789', 'error', `${pd.base}/v2/enqueue`);
  const clean = hub([notifier]);
  run(clean, 'interrupted', { outOfRotation: [] });
  await clean.flush(5000);
  assert.equal(pd.received.length, 0);
  const dirty = hub([notifier]);
  run(dirty, 'interrupted', { outOfRotation: ['web1'] });
  assert.deepEqual(await dirty.flush(5000), []);
  assert.equal(pd.received.length, 1);
  const event = JSON.parse(pd.received[0]!.body) as Record<string, any>;
  assert.equal(event.event_action, 'trigger');
  assert.equal(event.payload.class, 'SHIP-E030');
  assert.equal(event.payload.custom_details.restore_command, 'ship restore --hosts web1');
});

test('webhook: the JSON notice, signed with HMAC-SHA256 over the timestamp and the raw body', async () => {
  const hook = await listener();
  const secret = 'webhookSigningSecret-42';
  const h = hub([new WebhookNotifier({ url: `${hook.base}/hooks/ship`, secret, headers: { authorization: 'Bearer hookBearerToken987' } })]);
  const before = Math.floor(Date.now() / 1000);
  run(h, 'failed', failedSummary);
  assert.deepEqual(await h.flush(5000), []);
  assert.equal(hook.received.length, 2);
  for (const request of hook.received) {
    const timestamp = String(request.headers['x-ship-timestamp']);
    assert.ok(Number(timestamp) >= before && Number(timestamp) <= Math.floor(Date.now() / 1000), 'timestamp is now');
    const expected = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${request.body}`).digest('hex')}`;
    assert.equal(request.headers['x-ship-signature'], expected);
    // A replayed body with another timestamp does not verify.
    const replayed =
      'sha256=' +
      createHmac('sha256', secret)
        .update(`${Number(timestamp) + 600}.${request.body}`)
        .digest('hex');
    assert.notEqual(request.headers['x-ship-signature'], replayed);
    assert.equal(request.headers.authorization, 'Bearer hookBearerToken987');
    assert.equal(request.headers['content-type'], 'application/json');
  }
  const notice = JSON.parse(hook.received[1]!.body) as Record<string, any>;
  assert.equal(hook.received[1]!.headers['x-ship-event'], 'failure');
  assert.equal(hook.received[1]!.headers['x-ship-delivery'], notice.deliveryId);
  assert.equal(notice.trigger, 'failure');
  assert.equal(notice.status, 'failed');
  assert.equal(notice.runId, 'run-1');
  assert.equal(notice.app, 'storefront');
  assert.deepEqual(notice.code, { code: 'SHIP-E015', title: 'Health check did not pass in time', runbook: 'docs/runbook.md#ship-e015-health-check-did-not-pass-in-time' });
  assert.deepEqual(notice.outOfRotation, ['web2']);
});

test('a 500 is retried with backoff until the listener answers 200; a 4xx is not retried', async () => {
  const flaky = await listener((_req, res, index) => {
    res.statusCode = index <= 2 ? 500 : 200;
    res.end(index <= 2 ? 'busy' : 'ok');
  });
  const h = hub([new WebhookNotifier({ url: `${flaky.base}/flaky` })], { on: ['failure'] });
  run(h, 'failed', failedSummary);
  assert.deepEqual(await h.flush(5000), []);
  assert.equal(flaky.received.length, 3);
  // Retries are the same delivery: a receiver can drop duplicates.
  assert.equal(new Set(flaky.received.map((r) => r.headers['x-ship-delivery'])).size, 1);

  const wrong = await listener((_req, res) => {
    res.statusCode = 404;
    res.end('no_service');
  });
  const h2 = hub([new SlackNotifier(`${wrong.base}/services/slackTokenGone0001`)], { on: ['failure'] });
  run(h2, 'failed', failedSummary);
  const failures = await h2.flush(5000);
  assert.equal(wrong.received.length, 1);
  assert.equal(failures.length, 1);
  assert.equal(failures[0]!.notifier, 'slack');
  assert.equal(failures[0]!.error, 'HTTP 404: no_service');
  assert.equal(failures[0]!.code.code, 'SHIP-E032');
});

test('a listener that never answers: each attempt gives up at the timeout, and the failure is reported', async () => {
  const silent = await listener(() => undefined);
  const h = hub([new SlackNotifier(`${silent.base}/services/slackTokenSilent01`)], { on: ['failure'], timeoutMs: 200, retries: 1 });
  const started = performance.now();
  run(h, 'failed', failedSummary);
  const failures = await h.flush(10_000);
  const took = performance.now() - started;
  assert.equal(silent.received.length, 2);
  assert.ok(took >= 400 && took < 2000, `gave up after two 200ms attempts (took ${Math.round(took)}ms)`);
  assert.deepEqual(
    failures.map((f) => [f.notifier, f.trigger, f.attempts, f.error]),
    [['slack', 'failure', 2, 'no answer within 200ms (after 2 attempts)']],
  );
});

test('flush never waits past its deadline: deliveries still in flight are stopped and reported', async () => {
  const silent = await listener(() => undefined);
  const h = hub([new WebhookNotifier({ url: `${silent.base}/slow` })], { on: ['start'], timeoutMs: 30_000, retries: 3 });
  run(h, 'succeeded');
  const started = performance.now();
  const failures = await h.flush(300);
  const took = performance.now() - started;
  assert.ok(took >= 280 && took < 1500, `flush returned at its deadline (took ${Math.round(took)}ms)`);
  assert.deepEqual(
    failures.map((f) => [f.notifier, f.trigger, f.error]),
    [['webhook', 'start', 'still sending when the run ended']],
  );
});

test('a redirect is reported as a redirect (its status and target host), and is neither followed nor retried', async () => {
  const target = await listener();
  const moved = await listener((_req, res) => res.writeHead(302, { location: `${target.base}/hooks/newTokenPath4242` }).end());
  const h = hub([new WebhookNotifier({ url: `${moved.base}/hooks/oldTokenPath4242` })], { on: ['failure'] });
  run(h, 'failed', failedSummary);
  const failures = await h.flush(5000);
  assert.equal(moved.received.length, 1, 'a redirect is not transient: asked once');
  assert.equal(target.received.length, 0, 'the body and its signature were not sent where the redirect pointed');
  assert.deepEqual(
    failures.map((f) => [f.notifier, f.attempts, f.error]),
    [['webhook', 1, `the endpoint answered with a redirect (HTTP 302 to ${target.base}); ship does not follow redirects for notifications: set the URL to the final address`]],
  );
});

test('after a run, flush waits as long as notify.timeout and notify.retries let a delivery take, not a fixed time', async () => {
  // Defaults (5 s, 2 retries, backoff 0.5 s then 1 s): the figure README gives.
  assert.equal(deliveryBudgetMs({ timeoutMs: 5000, retries: 2 }), 16_500);

  // A hanging endpoint with a short timeout: flush returns when the attempts give up on their own.
  const silent = await listener(() => undefined);
  const hanging = hub([new WebhookNotifier({ url: `${silent.base}/hang` })], { on: ['failure'], timeoutMs: 300, retries: 1, backoffMs: 100 });
  run(hanging, 'failed', failedSummary);
  const started = performance.now();
  const failures = await hanging.flush();
  const took = performance.now() - started;
  assert.ok(took >= 650 && took < 2000, `two 300ms attempts and a 100ms pause, then done (took ${Math.round(took)}ms)`);
  assert.deepEqual(
    failures.map((f) => [f.attempts, f.error]),
    [[2, 'no answer within 300ms (after 2 attempts)']],
  );

  // A slow endpoint that answers within notify.timeout is waited for and delivered.
  const slow = await listener((_req, res) => setTimeout(() => res.end('ok'), 600));
  const patient = hub([new WebhookNotifier({ url: `${slow.base}/slow` })], { on: ['failure'], timeoutMs: 1500, retries: 0 });
  run(patient, 'failed', failedSummary);
  assert.deepEqual(await patient.flush(), []);
  assert.equal(slow.received.length, 1);
});

test('an unreachable listener is reported without the URL or any key in the error', async () => {
  const port = await closedPort();
  const token = 'unreachableSlackToken777';
  const routingKey = 'unreachableRoutingKey888';
  const h = hub(
    [
      new SlackNotifier(`http://127.0.0.1:${port}/services/${token}`),
      new PagerDutyNotifier(routingKey, 'error', `http://127.0.0.1:${port}/v2/enqueue`),
      new WebhookNotifier({ url: `http://127.0.0.1:${port}/hook?token=${token}`, secret: 'unreachableSecret999' }),
    ],
    { retries: 1 },
  );
  run(h, 'failed', failedSummary);
  const failures = await h.flush(5000);
  // start: slack and webhook (PagerDuty does not page a start); failure: all three.
  assert.deepEqual(failures.map((f) => `${f.notifier}/${f.trigger}`).sort(), ['pagerduty/failure', 'slack/failure', 'slack/start', 'webhook/failure', 'webhook/start']);
  for (const failure of failures) {
    assert.equal(failure.error, 'connection failed (ECONNREFUSED) (after 2 attempts)');
    const text = JSON.stringify(failure);
    for (const secret of [token, routingKey, 'unreachableSecret999', String(port)]) assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
  }
});

test('an error answer that echoes a key is scrubbed before it is reported', async () => {
  const routingKey = 'echoedRoutingKey0123456789';
  const pd = await listener((_req, res) => {
    res.statusCode = 400;
    res.end(`{"status":"invalid event","errors":["routing key ${routingKey} is not valid"]}`);
  });
  const h = hub([new PagerDutyNotifier(routingKey, 'error', `${pd.base}/v2/enqueue`)]);
  run(h, 'failed', failedSummary);
  const [failure] = await h.flush(5000);
  assert.ok(failure);
  assert.ok(!failure.error.includes(routingKey), failure.error);
  assert.match(failure.error, /^HTTP 400: .*routing key \*\*\* is not valid/);
  assert.equal(redact(`key ${routingKey}`), 'key ***');
});

test('notify.on filters triggers; dry runs and plans tell nobody', async () => {
  const hook = await listener();
  const onlyFailures = hub([new WebhookNotifier({ url: `${hook.base}/a` })], { on: ['failure'] });
  run(onlyFailures, 'succeeded');
  await onlyFailures.flush(5000);
  assert.equal(hook.received.length, 0);
  const dry = hub([new WebhookNotifier({ url: `${hook.base}/b` })]);
  run(dry, 'planned', {}, 'run-plan', true);
  await dry.flush(5000);
  assert.equal(hook.received.length, 0);
  const refused = hub([new WebhookNotifier({ url: `${hook.base}/c` })], { on: ['failure'] });
  run(refused, 'refused', { error: 'pre-flight refused, nothing was changed', code: 'SHIP-E006' });
  await refused.flush(5000);
  assert.equal(hook.received.length, 1);
  const notice = JSON.parse(hook.received[0]!.body) as Record<string, any>;
  assert.equal(notice.status, 'refused');
  assert.equal(notice.code.code, 'SHIP-E006');
});

test('the notify config section validates, resolves env() secrets, registers them, and builds the hub', async () => {
  const hook = await listener();
  process.env.SHIP_TEST_SLACK_URL = `${hook.base}/services/envSlackToken4242`;
  try {
    const { config } = validateConfig(
      {
        app: 'storefront',
        hosts: [{ name: 'web1', address: '127.0.0.1' }],
        loadBalancer: { type: 'none' },
        health: { tcp: { port: 8080 } },
        notify: {
          slack: { webhookUrl: env('SHIP_TEST_SLACK_URL') },
          webhook: { url: `${hook.base}/hook`, secret: 'configHookSecret55' },
          pagerduty: { routingKey: 'configRoutingKey66' },
          on: ['failure', 'abort'],
          timeout: '3s',
        },
      },
      'orchestrator.config.ts',
    );
    assert.equal(config.notify?.timeout, 3000);
    assert.equal(config.notify?.retries, 2);
    assert.equal(config.notify?.pagerduty?.severity, 'error');
    assert.equal(config.notify?.pagerduty?.url, 'https://events.pagerduty.com/v2/enqueue');
    // Registered while validating: scrubbed from every log, event and error from now on.
    assert.equal(redact(`${process.env.SHIP_TEST_SLACK_URL} configHookSecret55 configRoutingKey66`), '*** *** ***');
    const h = notifierHubFor(config.notify);
    assert.deepEqual(
      h?.notifiers.map((n) => n.name),
      ['slack', 'pagerduty', 'webhook'],
    );
    assert.equal(notifierHubFor(undefined), undefined);
    assert.throws(
      () => validateConfig({ app: 'a', hosts: [{ name: 'w', address: 'h' }], loadBalancer: { type: 'none' }, health: { tcp: { port: 1 } }, notify: { on: ['sometimes'] } }, 'f'),
      /notify\.on\[0\]/,
    );
  } finally {
    delete process.env.SHIP_TEST_SLACK_URL;
  }
});

test('a run that fails before it starts sends one failure notice with its code; once started, its own ending does', async () => {
  const hook = await listener();
  const h = hub([new WebhookNotifier({ url: `${hook.base}/hooks/ship` })], { runbookUrl: 'https://runbook.example/runbook.md' });
  h.attach(new EventBus('run-early'));
  const error = new Error('EC2 inventory: DescribeInstances failed');
  h.failedBeforeStart({ runId: 'run-early', app: 'storefront', command: 'patch', error, code: ERROR_CODES.inventoryFailed });
  assert.deepEqual(await h.flush(5000), []);
  assert.equal(hook.received.length, 1);
  const notice = JSON.parse(hook.received[0]!.body) as Record<string, any>;
  assert.equal(notice.trigger, 'failure');
  assert.equal(notice.status, 'refused');
  assert.equal(notice.command, 'patch');
  assert.equal(notice.error, 'EC2 inventory: DescribeInstances failed');
  assert.deepEqual(notice.code, { code: 'SHIP-E027', title: 'EC2 inventory failed', runbook: 'https://runbook.example/runbook.md#ship-e027-ec2-inventory-failed' });

  const started = hub([new WebhookNotifier({ url: `${hook.base}/hooks/ship` })]);
  run(started, 'failed', failedSummary, 'run-late');
  started.failedBeforeStart({ runId: 'run-late', app: 'storefront', command: 'deploy', error, code: ERROR_CODES.inventoryFailed });
  assert.deepEqual(await started.flush(5000), []);
  const late = hook.received.slice(1).map((r) => (JSON.parse(r.body) as { trigger: string }).trigger);
  assert.deepEqual(late, ['start', 'failure'], 'a started run is told about by its own run.finished, not a second time');
});

test('the canary analysis verdict travels with the notice: a line in the Slack message, the numbers in the webhook JSON', async () => {
  const slack = await listener();
  const hook = await listener();
  const h = hub([new SlackNotifier(`${slack.base}/services/T000/B000/slackTokenCANARY1`), new WebhookNotifier({ url: `${hook.base}/hook` })], { on: ['failure'] });
  const analysis = {
    batch: 1,
    hosts: ['web1'],
    canary: true,
    verdict: 'fail' as const,
    line: 'canary web1: FAIL: 48 errors in 240 requests (20.00%) above maxErrorRate 1.00%; untouched servers 0 errors in 721 requests (0.00%)',
    requests: 240,
    errors: 48,
    rate: 0.2,
    fleetRequests: 721,
    fleetErrors: 0,
    fleetRate: 0,
  };
  run(h, 'failed', { analysis, error: `rollout stopped: ${analysis.line}\nrolled back: web1`, code: 'SHIP-E055' });
  assert.deepEqual(await h.flush(5000), []);
  const section = (JSON.parse(slack.received[0]!.body) as { blocks: Array<{ text?: { text: string } }> }).blocks[0]!.text!.text;
  assert.match(section, /\*Canary analysis:\* canary web1: FAIL: 48 errors in 240 requests \(20\.00%\) above maxErrorRate 1\.00%/);
  const notice = JSON.parse(hook.received[0]!.body) as { analysis: typeof analysis; code: { code: string } };
  assert.deepEqual(notice.analysis, analysis);
  assert.equal(notice.code.code, 'SHIP-E055');
});
