import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, validateConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import { env } from '../../src/config/env.js';
import { redact } from '../../src/util/redact.js';
import { configProblems, minimalConfig } from '../support/config-problems.js';

test('defaults are applied and durations become milliseconds', () => {
  const { config } = validateConfig({ ...minimalConfig, rollout: { drainTimeout: '90s', healthyTimeout: '2m' } }, 'f');
  assert.equal(config.rollout.drainTimeout, 90_000);
  assert.equal(config.rollout.healthyTimeout, 120_000);
  assert.equal(config.rollout.batchSize, 1);
  assert.equal(config.health.http?.path, '/healthz');
  assert.equal(config.health.http?.successThreshold, 3);
  assert.equal(config.ssh.knownHosts, '~/.ssh/known_hosts');
});

test('unknown keys are rejected with their full path', () => {
  assert.deepEqual(configProblems({ ...minimalConfig, rollout: { batchsize: 2 } }), ['rollout.batchsize: unknown field']);
  assert.deepEqual(configProblems({ ...minimalConfig, hosts: [{ name: 'a', address: 'b', adress: 'c' }] }), ['hosts[0].adress: unknown field']);
});

test('a bad duration, percentage and missing field each name the field', () => {
  const found = configProblems({ ...minimalConfig, hosts: [{ name: 'web1' }], rollout: { drainTimeout: 'soon', minHealthy: 'most' } });
  assert.ok(
    found.some((p) => p.startsWith('hosts[0].address: required')),
    found.join('\n'),
  );
  assert.ok(
    found.some((p) => p.startsWith("rollout.drainTimeout: expected a duration like '500ms'")),
    found.join('\n'),
  );
  assert.ok(
    found.some((p) => p.startsWith('rollout.minHealthy:')),
    found.join('\n'),
  );
});

test('duplicate host names and a config without health checks are refused', () => {
  const found = configProblems({
    ...minimalConfig,
    hosts: [
      { name: 'a', address: '1' },
      { name: 'a', address: '2' },
    ],
    health: {},
  });
  assert.ok(found.includes("hosts[1].name: duplicate host name 'a' (also hosts[0])"), found.join('\n'));
  assert.ok(
    found.some((p) => p.startsWith('health: at least one health check')),
    found.join('\n'),
  );
});

test('a config without any host says where hosts come from', () => {
  assert.deepEqual(configProblems({ ...minimalConfig, hosts: [] }), ['hosts: no hosts: list them in hosts or discover them with inventory.ec2']);
});

test('an unknown load balancer type lists the known ones', () => {
  const [problem] = configProblems({ ...minimalConfig, loadBalancer: { type: 'nginx' } });
  assert.match(problem!, /^loadBalancer\.type: .*haproxy.*elbv2.*none/);
});

test('env() reads the environment, names the field when unset, and registers the value as a secret', () => {
  delete process.env.SHIP_TEST_DB_URL;
  const found = configProblems({ ...minimalConfig, database: { primary: env('SHIP_TEST_DB_URL') } });
  assert.deepEqual(found, ['database.primary: environment variable SHIP_TEST_DB_URL is not set']);
  process.env.SHIP_TEST_DB_URL = 'postgres://app:s3cretpw@db.internal/shop';
  const { config } = validateConfig({ ...minimalConfig, database: { primary: env('SHIP_TEST_DB_URL') } }, 'f');
  assert.equal(config.database?.primary, 'postgres://app:s3cretpw@db.internal/shop');
  assert.equal(redact('could not connect to postgres://app:s3cretpw@db.internal/shop'), 'could not connect to ***');
  assert.equal(redact('password s3cretpw rejected'), 'password *** rejected');
});

test('a TypeScript config file is loaded at run time, and its errors name the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ship-config-'));
  const good = join(dir, 'orchestrator.config.ts');
  writeFileSync(
    good,
    `const port: number = 8080;\nexport default { app: 'shop', hosts: [{ name: 'web1', address: '127.0.0.1' }], loadBalancer: { type: 'none' as const }, health: { http: { port } } };\n`,
  );
  const loaded = await loadConfig(good);
  assert.equal(loaded.config.health.http?.port, 8080);
  assert.equal(loaded.dir, dir);

  const bad = join(dir, 'bad.config.ts');
  writeFileSync(bad, `export default { app: 'shop', hosts: [], loadBalancer: { type: 'none' }, health: { http: { port: 'eighty' } } };\n`);
  await assert.rejects(loadConfig(bad), (error: ConfigError) => {
    assert.equal(error.file, bad);
    assert.ok(
      error.problems.some((p) => p.startsWith('health.http.port:')),
      error.message,
    );
    return true;
  });
  await assert.rejects(loadConfig(join(dir, 'missing.ts')), /file not found/);
});

test('two hosts with the same effective load-balancer name are refused: one drain would take out both', () => {
  const found = configProblems({
    ...minimalConfig,
    hosts: [
      { name: 'h1', address: '10.0.0.1' },
      { name: 'h2', address: '10.0.0.2', lbName: 'h1' },
      { name: 'h3', address: '10.0.0.3', lbName: 'web-3' },
      { name: 'web-3', address: '10.0.0.4' },
    ],
  });
  assert.deepEqual(found, [
    "hosts[1].lbName: load-balancer name 'h1' is also hosts[0]'s (h1, by its name): draining one would take both out of the load balancer; give each host its own lbName",
    "hosts[3].name: load-balancer name 'web-3' is also hosts[2]'s (h3): draining one would take both out of the load balancer; give each host its own lbName",
  ]);
});

test('hosts may share an address on different SSH ports; the same address and port twice is refused naming both', () => {
  const nat = [
    { name: 'web1', address: '203.0.113.5', port: 2201 },
    { name: 'web2', address: '203.0.113.5', port: 2202 },
  ];
  assert.equal(validateConfig({ ...minimalConfig, hosts: nat }, 'f').config.hosts.length, 2);
  // A host without a port uses ssh.port (else 22): that is what it is compared with.
  assert.equal(validateConfig({ ...minimalConfig, hosts: [...nat, { name: 'web3', address: '203.0.113.5' }] }, 'f').config.hosts.length, 3);
  assert.deepEqual(configProblems({ ...minimalConfig, ssh: { port: 2201 }, hosts: [...nat, { name: 'web3', address: '203.0.113.5' }] }), [
    "hosts[2].address: SSH address 203.0.113.5:2201 is also hosts[0]'s (web1): one machine listed twice would be rolled twice in one batch; remove one, or set each host's port if they are different machines behind one address",
  ]);
  assert.deepEqual(
    configProblems({
      ...minimalConfig,
      hosts: [
        { name: 'a', address: '10.0.0.9' },
        { name: 'b', address: '10.0.0.9', port: 22 },
      ],
    }),
    [
      "hosts[1].address: SSH address 10.0.0.9:22 is also hosts[0]'s (a): one machine listed twice would be rolled twice in one batch; remove one, or set each host's port if they are different machines behind one address",
    ],
  );
});

test('what would only fail mid-rollout is refused at load: a bad regex, HAProxy names and addresses, a batch of 0', () => {
  const haproxy = (fields: Record<string, unknown>) => ({ type: 'haproxy', runtimeApi: '127.0.0.1:9999', backend: 'app', ...fields });
  assert.deepEqual(configProblems({ ...minimalConfig, health: { http: { port: 8080, bodyMatch: '"status":"ok"(' } } }), [
    `health.http.bodyMatch: "\\"status\\":\\"ok\\"(" is not a valid regular expression: Invalid regular expression: /"status":"ok"(/: Unterminated group`,
  ]);
  assert.deepEqual(configProblems({ ...minimalConfig, loadBalancer: haproxy({ backend: 'app pool' }) }), [
    "loadBalancer.backend: haproxy backend name 'app pool' is not valid: HAProxy names use only letters, digits, '_', '.', ':' and '-'",
  ]);
  const [runtimeApi] = configProblems({ ...minimalConfig, loadBalancer: haproxy({ runtimeApi: ['127.0.0.1:9999', 'lb2:99999'] }) });
  assert.match(runtimeApi!, /^loadBalancer\.runtimeApi\[1\]: haproxy runtimeApi 'lb2:99999': port 99999 is out of range; expected one of /);
  const [password] = configProblems({ ...minimalConfig, loadBalancer: haproxy({ runtimeApi: 'ssh://root:hunter2@lb1/run/haproxy.sock' }) });
  assert.match(password!, /^loadBalancer\.runtimeApi: .*a password in the address is not supported/);
  assert.ok(!password!.includes('hunter2'), password);
  for (const batchSize of [0, '0%', '0.0%']) {
    assert.deepEqual(configProblems({ ...minimalConfig, rollout: { batchSize } }), ["rollout.batchSize: expected a positive count or a percentage like '25%'"], String(batchSize));
  }
  assert.equal(validateConfig({ ...minimalConfig, rollout: { batchSize: '0.5%' } }, 'f').config.rollout.batchSize, '0.5%');
  assert.deepEqual(configProblems({ ...minimalConfig, database: { primary: 'postgres://db/x', migrations: { dir: 'db', pattern: '^(\\d+' } } }), [
    'database.migrations.pattern: "^(\\\\d+" is not a valid regular expression: Invalid regular expression: /^(\\d+/: Unterminated group',
  ]);
  assert.deepEqual(configProblems({ ...minimalConfig, database: { primary: 'postgres://db/x', migrations: { dir: 'db', pattern: '^(\\d+)-.*\\.sql$' } } }), [
    'database.migrations.pattern: needs a named group "version", e.g. "^(?<version>\\d+)-(?<name>.+)\\.sql$"',
  ]);
});

test('a config file that cannot give a config is named with what is wrong, never a TypeError or a require stack', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ship-config-'));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const cases: Array<{ path: string; expect: string }> = [
    { path: write('null.config.ts', 'export default null;\n'), expect: 'the default export is null: the file must `export default defineConfig({...})`' },
    { path: write('number.config.ts', 'throw 42;\n'), expect: 'could not be evaluated: it threw 42, not an Error' },
    {
      path: write('getter.config.ts', "export default { app: 'shop', get hosts() { throw new Error('inventory service down'); } };\n"),
      expect: 'reading the exported config threw: inventory service down',
    },
    {
      path: write('named.config.ts', "export const config = { app: 'shop' };\n"),
      expect: 'has no default export (only config): the file must `export default defineConfig({...})`',
    },
    { path: dir, expect: `is a directory; pass the config file in it, e.g. --config ${join(dir, 'orchestrator.config.ts')}` },
    { path: join(dir, 'missing.config.ts'), expect: 'file not found' },
  ];
  for (const { path, expect } of cases) {
    await assert.rejects(loadConfig(path), (error: unknown) => {
      assert.ok(error instanceof ConfigError, `${path}: ${String(error)}`);
      assert.equal(error.file, path);
      assert.ok(error.problems[0]!.startsWith(expect), `${path}: ${error.message}`);
      assert.doesNotMatch(error.message, /Cannot read properties|Require stack|undefined$/);
      return true;
    });
  }
  await assert.rejects(loadConfig(''), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.message, `--config "": invalid config\n  - no file named: give the config file's path, or leave --config out for ./orchestrator.config.ts`);
    return true;
  });
});

test('a config whose top-level await never settles is refused at the deadline, naming the file', async (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'ship-config-')), 'pending.config.ts');
  writeFileSync(path, "await new Promise(() => {});\nexport default { app: 'shop' };\n");
  // Something else keeps the process busy (the test runner would otherwise end the test as unsettled): only the deadline can end the wait.
  const busy = setInterval(() => {}, 1000);
  t.after(() => clearInterval(busy));
  await assert.rejects(loadConfig(path, { deadlineMs: 300 }), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.file, path);
    assert.deepEqual(error.problems, ['did not finish loading within 0.3s: a top-level await in it is still waiting']);
    assert.equal(error.unsettled, true, 'the CLI must exit rather than wait for the config code');
    return true;
  });
});
