/** Roles of one app: what they inherit, what they may not set, their order, and selecting them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../src/config/load.js';
import { roleNames, selectRoles } from '../../src/config/roles.js';
import { ConfigError } from '../../src/config/errors.js';

const app = {
  app: 'shop',
  vars: { appDir: '/srv/shop', restart: 'systemctl restart shop' },
  loadBalancer: { type: 'haproxy', runtimeApi: '127.0.0.1:9999', backend: 'shop' },
  health: { http: { port: 8080 } },
  rollout: { drainTimeout: '30s', batchSize: 2 },
  state: { store: 'file', path: '.ship-shop' },
  container: { image: 'registry.example.com/acme/shop', name: 'shop', run: { ports: ['8080:8080'], args: ['--memory', '512m'] } },
  roles: {
    web: { hosts: [{ name: 'web1', address: '10.0.1.11' }] },
    workers: {
      hosts: [{ name: 'work1', address: '10.0.2.11' }],
      loadBalancer: { type: 'none' },
      health: { command: { run: 'pgrep -f worker' } },
      vars: { restart: 'systemctl restart shop-worker' },
      container: { name: 'shop-worker', run: { ports: [] } },
      rollout: { batchSize: 1 },
    },
  },
};

function load(value: unknown) {
  return { ...validateConfig(value, 'ship.config.ts'), file: '/x/ship.config.ts', dir: '/x' };
}

function rejects(value: unknown, pattern: RegExp) {
  assert.throws(
    () => load(value),
    (error: unknown) => error instanceof ConfigError && pattern.test(error.message),
    `expected ${pattern}`,
  );
}

test('each role inherits what it leaves out; vars, container (with its run) and rollout merge key by key', () => {
  const [web, workers] = selectRoles(load(app));
  assert.equal(web!.role, 'web');
  assert.equal(web!.loaded.config.loadBalancer.type, 'haproxy');
  assert.deepEqual(web!.loaded.config.health, load(app).config.health);
  assert.equal(web!.loaded.config.container?.name, 'shop');
  assert.equal(workers!.role, 'workers');
  const w = workers!.loaded.config;
  assert.equal(w.app, 'shop', 'a role is part of its app: runs, the lock and notifications name the app');
  assert.equal(w.loadBalancer.type, 'none');
  assert.deepEqual(w.vars, { appDir: '/srv/shop', restart: 'systemctl restart shop-worker' });
  assert.equal(w.container?.image, 'registry.example.com/acme/shop', 'the image is the app’s');
  assert.equal(w.container?.name, 'shop-worker');
  assert.deepEqual(w.container?.run.ports, []);
  assert.deepEqual(w.container?.run.args, ['--memory', '512m'], 'run merged key by key');
  assert.equal(w.rollout.batchSize, 1);
  assert.equal(w.rollout.drainTimeout, 30_000, 'rollout merged key by key, durations parsed');
  assert.deepEqual(w.state, { store: 'file', path: '.ship-shop' }, "one journal: the app's state");
  assert.deepEqual(w.roles, {});
});

test('roles roll in rollout.order, else in the order they are written; --roles keeps that order', () => {
  assert.deepEqual(roleNames(load(app)), ['web', 'workers']);
  const ordered = load({ ...app, rollout: { ...app.rollout, order: ['workers', 'web'] } });
  assert.deepEqual(roleNames(ordered), ['workers', 'web']);
  assert.deepEqual(
    selectRoles(ordered, ['web', 'workers']).map((r) => r.role),
    ['workers', 'web'],
  );
  assert.deepEqual(
    selectRoles(ordered, ['web']).map((r) => r.role),
    ['web'],
  );
  assert.equal(selectRoles(ordered)[0]!.loaded.config.rollout.order, undefined, 'a role has no order of its own');
});

test('an app without roles is its own only unit; --roles on it is refused', () => {
  const { roles: _roles, ...single } = app;
  const loaded = load({ ...single, hosts: [{ name: 'web1', address: '10.0.1.11' }] });
  const units = selectRoles(loaded);
  assert.equal(units.length, 1);
  assert.equal(units[0]!.role, undefined);
  assert.throws(() => selectRoles(loaded, ['web']), /--roles web: app shop has no roles/);
  assert.throws(() => selectRoles(load(app), ['web', 'cron']), /--roles: no role cron in app shop; its roles are web, workers/);
});

test('every role setting its own load balancer and health needs none on the app', () => {
  const { loadBalancer: _lb, health: _health, ...bare } = app;
  const loaded = load({ ...bare, roles: { web: { ...app.roles.web, loadBalancer: app.loadBalancer, health: app.health }, workers: app.roles.workers } });
  assert.deepEqual(
    selectRoles(loaded).map((r) => r.loaded.config.loadBalancer.type),
    ['haproxy', 'none'],
  );
  rejects({ ...bare, roles: { web: app.roles.web, workers: app.roles.workers } }, /roles\.web\.loadBalancer/);
});

const refusals: Array<{ name: string; config: unknown; error: RegExp }> = [
  {
    name: 'app-level hosts beside roles',
    config: { ...app, hosts: [{ name: 'x1', address: '10.0.9.1' }] },
    error: /hosts: with roles, each role lists its own hosts.*move them into web or workers/,
  },
  { name: 'a role without hosts', config: { ...app, roles: { ...app.roles, cron: {} } }, error: /roles\.cron\.hosts: no hosts/ },
  {
    name: 'one host in two roles',
    config: { ...app, roles: { ...app.roles, cron: { hosts: [{ name: 'web1', address: '10.0.3.1' }] } } },
    error: /roles\.cron\.hosts\[0\]\.name: host 'web1' is also in role web: a host belongs to one role/,
  },
  {
    name: 'a role setting the app-wide state',
    config: { ...app, roles: { ...app.roles, web: { ...app.roles.web, state: { store: 'file' } } } },
    error: /roles\.web\.state: a role shares its app's state/,
  },
  {
    name: 'a role setting the database',
    config: { ...app, roles: { ...app.roles, web: { ...app.roles.web, database: { primary: 'postgres://x' } } } },
    error: /roles\.web\.database: a role shares its app's database/,
  },
  {
    name: 'a role setting its own order',
    config: { ...app, roles: { ...app.roles, web: { ...app.roles.web, rollout: { order: ['web'] } } } },
    error: /roles\.web\.rollout\.order: orders the app's roles/,
  },
  {
    name: 'an order naming an unknown role',
    config: { ...app, rollout: { order: ['web', 'workers', 'cron'] } },
    error: /rollout\.order: cron is not a role \(roles: web, workers\)/,
  },
  { name: 'an order leaving a role out', config: { ...app, rollout: { order: ['web'] } }, error: /rollout\.order: workers missing: list every role/ },
  { name: 'an order naming a role twice', config: { ...app, rollout: { order: ['web', 'web', 'workers'] } }, error: /rollout\.order: web listed twice/ },
  {
    name: 'an order without roles',
    config: { ...app, roles: undefined, hosts: [{ name: 'web1', address: '10.0.1.11' }], rollout: { order: ['web'] } },
    error: /rollout\.order: orders the roles, and this app has none/,
  },
  { name: 'a bad role name', config: { ...app, roles: { ...app.roles, 'web tier': { hosts: [{ name: 'w9', address: '10.0.9.9' }] } } }, error: /role names are letters/ },
  {
    name: 'an error inside a role',
    config: { ...app, roles: { ...app.roles, workers: { ...app.roles.workers, rollout: { drainTimeout: 'soon' } } } },
    error: /roles\.workers\.rollout\.drainTimeout: expected a duration/,
  },
];

for (const { name, config, error } of refusals) {
  test(`refused, naming the field: ${name}`, () => rejects(config, error));
}

test('an app under apps has roles of its own, inheriting from that app, not the top level’s roles', () => {
  const { roles: _roles, ...single } = app;
  const loaded = load({
    ...single,
    hosts: [{ name: 'solo', address: '10.0.0.1' }],
    apps: { billing: { vars: { appDir: '/srv/billing' }, roles: { web: { hosts: [{ name: 'bill1', address: '10.0.5.1' }] } } } },
  });
  const billing = loaded.config.apps.billing!;
  assert.deepEqual(Object.keys(billing.roles), ['web']);
  assert.equal(billing.roles.web!.vars.appDir, '/srv/billing');
  assert.equal(billing.roles.web!.app, 'billing');
  assert.deepEqual(loaded.config.roles, {});
});
