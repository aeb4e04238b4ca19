/** Several apps in one config: inheritance from the top level, validation per app, selection. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../src/config/load.js';
import { allApps, appNames, selectApp } from '../../src/config/apps.js';
import { ConfigError } from '../../src/config/errors.js';

const base = {
  app: 'storefront',
  hosts: [{ name: 'web1', address: '10.0.1.11' }],
  vars: { appDir: '/srv/storefront', keepReleases: 5 },
  loadBalancer: { type: 'haproxy', runtimeApi: '127.0.0.1:9999', backend: 'storefront' },
  health: { http: { port: 8080 } },
  rollout: { drainTimeout: '30s' },
};

function load(value: unknown) {
  return { ...validateConfig(value, 'ship.config.ts'), file: '/x/ship.config.ts', dir: '/x' };
}

test('a single-app config is unchanged: one app, no apps', () => {
  const loaded = load(base);
  assert.deepEqual(appNames(loaded), ['storefront']);
  assert.deepEqual(loaded.config.apps, {});
  assert.equal(selectApp(loaded).config.hosts[0]!.name, 'web1');
});

test('an app inherits the top-level fields it does not set, and merges vars key by key', () => {
  const loaded = load({
    ...base,
    apps: {
      admin: {
        hosts: [{ name: 'admin1', address: '10.0.2.11' }],
        loadBalancer: { type: 'haproxy', runtimeApi: '127.0.0.1:9998', backend: 'admin' },
        vars: { appDir: '/srv/admin' },
      },
    },
  });
  assert.deepEqual(appNames(loaded), ['storefront', 'admin']);
  const admin = selectApp(loaded, 'admin').config;
  assert.equal(admin.app, 'admin');
  assert.deepEqual(
    admin.hosts.map((h) => h.name),
    ['admin1'],
  );
  assert.equal(admin.loadBalancer.type === 'haproxy' && admin.loadBalancer.backend, 'admin');
  assert.deepEqual(admin.vars, { appDir: '/srv/admin', keepReleases: 5 });
  assert.equal(admin.rollout.drainTimeout, 30_000, 'rollout inherited from the top level, durations parsed');
  assert.deepEqual(admin.health, loaded.config.health);
  assert.deepEqual(admin.apps, {});
  assert.deepEqual(
    allApps(loaded).map((a) => a.config.app),
    ['storefront', 'admin'],
  );
  const storefront = selectApp(loaded, 'storefront').config.loadBalancer;
  assert.equal(storefront.type === 'haproxy' && storefront.backend, 'storefront');
});

test('errors in an app name the app and the field', () => {
  assert.throws(
    () => load({ ...base, apps: { admin: { rollout: { drainTimeout: 'soon' } } } }),
    (error: unknown) => error instanceof ConfigError && /apps\.admin\.rollout\.drainTimeout: expected a duration/.test(error.message),
  );
  assert.throws(
    () => load({ ...base, apps: { admin: { hosts: [], colour: 'red' } } }),
    (error: unknown) => error instanceof ConfigError && /apps\.admin\.colour: unknown field/.test(error.message) && /apps\.admin\.hosts: no hosts/.test(error.message),
  );
  assert.throws(() => load({ ...base, apps: { 'bad name': {} } }), /apps\.bad name\.app: app names are letters/);
  assert.throws(() => load({ ...base, apps: { storefront: {} } }), /apps\.storefront: 'storefront' is already the top-level app's name/);
  assert.throws(() => load({ ...base, apps: { admin: { app: 'other' } } }), /apps\.admin\.app: an app is named by its key/);
});

test('selecting an unknown app names the apps the file has', () => {
  const loaded = load({ ...base, apps: { admin: {} } });
  assert.throws(() => selectApp(loaded, 'billing'), /--app billing: no such app; this file defines storefront, admin/);
});
