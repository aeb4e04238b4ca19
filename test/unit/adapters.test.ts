/**
 * Load balancers and notifiers are composed from their registries: what each one declares (its
 * schema, its `ship init` section, its factory) must fit together for every registered type,
 * so a new one that forgets a piece fails here rather than in a user's config.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initConfigText } from '../../src/cli/init.js';
import { loadConfig } from '../../src/config/load.js';
import { loadBalancerFor } from '../../src/lb/from-config.js';
import { LOAD_BALANCER_TYPES } from '../../src/lb/registry.js';
import { notifierHubFor } from '../../src/notify/from-config.js';
import { NOTIFIERS } from '../../src/notify/registry.js';

const root = await mkdtemp(join(tmpdir(), 'ship-adapters-'));
after(() => rm(root, { recursive: true, force: true }));

/** Writes the text as a config file and loads it with the loader every command uses. */
async function load(name: string, text: string) {
  const file = join(root, `${name}.config.ts`);
  await writeFile(file, text);
  return loadConfig(file);
}

for (const type of LOAD_BALANCER_TYPES) {
  test(`load balancer '${type}': ship init's section validates and the registry builds it`, async () => {
    const loaded = await load(`lb-${type}`, initConfigText(type, 'shop'));
    assert.equal(loaded.config.loadBalancer.type, type);
    const lb = await loadBalancerFor(loaded, loaded.config.hosts);
    try {
      assert.equal(lb.kind, type);
    } finally {
      await lb.close();
    }
  });
}

test("every notifier's ship init example validates when uncommented, and the hub sends to each of them", async () => {
  const text = initConfigText('none', 'shop');
  const block = /^ {2}\/\/ notify: \{\n(?: {2}\/\/ .*\n)*? {2}\/\/ \},\n/m.exec(text);
  assert.ok(block, 'ship init writes a commented notify example');
  for (const name of ['SLACK_WEBHOOK_URL', 'PAGERDUTY_ROUTING_KEY', 'WEBHOOK_URL', 'WEBHOOK_SECRET']) process.env[name] ??= `https://hooks.example.com/${name}`;
  const uncommented = text.replace(block[0], block[0].replace(/^ {2}\/\/ /gm, '  '));
  const { config } = await load('notify', uncommented);
  const hub = notifierHubFor(config.notify);
  assert.ok(hub, 'a hub for the example');
  assert.deepEqual(
    hub.notifiers.map((notifier) => notifier.name),
    NOTIFIERS.map((adapter) => adapter.key),
  );
});
