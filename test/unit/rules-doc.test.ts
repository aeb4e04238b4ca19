/** docs/rules.md and the README's list stay what the rules are. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { allRules } from '../../schema-checks/index.js';
import { renderRulesDoc, RULES_DOC_PATH } from '../../scripts/gen-rules-doc.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

test(`${RULES_DOC_PATH} is what the rules generate`, () => {
  assert.ok(read(RULES_DOC_PATH) === renderRulesDoc(), `${RULES_DOC_PATH} is out of date with schema-checks/: run \`npm run docs\` and commit the result`);
});

test('the README names every rule under its category', () => {
  const readme = read('README.md');
  const missing = allRules.filter((rule) => !new RegExp(`\\*\\*${rule.category}\\*\\*[^\\n]*\`${rule.id}\``).test(readme)).map((rule) => `${rule.category}: ${rule.id}`);
  assert.deepEqual(missing, [], 'list these rules in the README, on the line of their category');
});
