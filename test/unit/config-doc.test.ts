import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { configFields, CONFIG_DOC_PATH, REGENERATE_COMMAND, renderConfigDoc } from '../../src/config/doc.js';
import { FIELD_DESCRIPTIONS } from '../../src/config/field-descriptions.js';
import { duration } from '../../src/config/fields.js';

const fields = configFields();

test(`${CONFIG_DOC_PATH} is what the schema generates`, () => {
  const onDisk = readFileSync(new URL(`../../${CONFIG_DOC_PATH}`, import.meta.url), 'utf8');
  assert.ok(onDisk === renderConfigDoc(fields), `${CONFIG_DOC_PATH} is out of date with src/config/schema.ts: run \`${REGENERATE_COMMAND}\` and commit the result`);
});

test('every config field has a description, and every description names a field', () => {
  const missing = fields.filter((f) => !f.description).map((f) => f.key);
  assert.deepEqual(
    missing,
    [],
    `describe these fields in src/config/field-descriptions.ts (or with .describe() in src/config/schema.ts; a load balancer's or notifier's own fields in its adapter's \`fields\`), then run \`${REGENERATE_COMMAND}\``,
  );
  const keys = new Set(fields.map((f) => f.key));
  const stale = Object.keys(FIELD_DESCRIPTIONS).filter((key) => !keys.has(key));
  assert.deepEqual(stale, [], 'src/config/field-descriptions.ts describes fields the schema does not have');
});

test('types, defaults and requiredness come from the schema', () => {
  const byKey = new Map(fields.map((f) => [f.key, f]));
  const pick = (key: string) => {
    const row = byKey.get(key);
    assert.ok(row, `no row for ${key}`);
    return { type: row.type, required: row.required, default: row.default };
  };
  assert.deepEqual(pick('app'), { type: 'string', required: true, default: undefined });
  assert.deepEqual(pick('ssh.connectTimeout'), { type: 'duration', required: false, default: "'10s'" });
  assert.deepEqual(pick('ssh.passphrase'), { type: 'secret', required: false, default: undefined });
  assert.deepEqual(pick('hosts[].port'), { type: 'integer 1–65535', required: false, default: undefined });
  assert.deepEqual(pick("loadBalancer.backend [type: 'haproxy']"), { type: 'string', required: true, default: undefined });
  assert.deepEqual(pick("loadBalancer.pollInterval [type: 'elbv2']"), { type: 'duration', required: false, default: "'2s'" });
  assert.deepEqual(pick('notify.on'), { type: "('start' \\| 'success' \\| 'failure' \\| 'abort')[]", required: false, default: "['start','success','failure','abort']" });
  assert.deepEqual(pick('rollout.drainTimeout'), { type: 'duration', required: false, default: "'1m'" });
});

test('the walker handles a schema it has never seen: describe() wins, unions of objects are split by tag', () => {
  const schema = z.strictObject({
    name: z.string().describe('the name'),
    wait: duration.default(1500).describe('how long'),
    target: z.discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('a'), port: z.number().int().min(1).max(9) }),
      z.strictObject({ kind: z.literal('b'), url: z.string().url().optional() }),
    ]),
    tags: z.array(z.enum(['x', 'y'])).default([]),
  });
  const rows = configFields(schema as unknown as z.core.$ZodType);
  assert.deepEqual(
    rows.map((r) => [r.key, r.type, r.required, r.default ?? '', r.description ?? '']),
    [
      ['name', 'string', true, '', 'the name'],
      ['wait', 'duration', false, "'1500ms'", 'how long'],
      ['target', "object, one of kind: 'a', 'b'", true, '', ''],
      ["target.port [kind: 'a']", 'integer 1–9', true, '', ''],
      ["target.url [kind: 'b']", 'URL', false, '', ''],
      ['tags', "('x' \\| 'y')[]", false, '[]', ''],
    ],
  );
  assert.throws(() => configFields(z.strictObject({ when: z.date() }) as unknown as z.core.$ZodType), /no type text for zod type 'date'/);
});
