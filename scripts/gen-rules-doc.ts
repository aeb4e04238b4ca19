/**
 * docs/rules.md from the lint rules themselves (schema-checks/index.ts): each rule's id, category,
 * severity, what it flags and its safe alternative, so the reference never drifts from the code.
 * `npm run docs` writes it; test/unit/rules-doc.test.ts fails when it is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { allRules } from '../schema-checks/index.js';
import type { LintRule, RuleCategory } from '../src/lint/types.js';

export const RULES_DOC_PATH = 'docs/rules.md';

const CATEGORIES: ReadonlyArray<{ category: RuleCategory; title: string; about: string }> = [
  { category: 'compat', title: 'Compatibility', about: 'breaks the code still running (expand migrations only: a contract migration runs once the old code is gone)' },
  { category: 'lock', title: 'Locks', about: 'takes or queues for a lock that stalls the site' },
  { category: 'rewrite', title: 'Rewrites', about: 'rewrites or scans a whole table while holding a lock' },
  { category: 'transaction', title: 'Transactions', about: 'the file cannot run, or cannot run again, as its runner runs it' },
  { category: 'hygiene', title: 'Hygiene', about: 'schema style; off unless the project sets `database.migrations.hygiene` (or `--hygiene`)' },
];

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

export function renderRulesDoc(rules: readonly LintRule[] = allRules): string {
  const lines = [
    '# Migration lint rules',
    '',
    `Generated from \`schema-checks/\` by \`npm run docs\`; do not edit. ${rules.length} rules.`,
    'Suppress a reviewed finding in the SQL: `-- ship:allow <rule-id> <reason>`.',
    '',
  ];
  for (const { category, title, about } of CATEGORIES) {
    const inCategory = rules.filter((rule) => rule.category === category).sort((a, b) => a.id.localeCompare(b.id));
    if (inCategory.length === 0) continue;
    lines.push(`## ${title} (\`${category}\`)`, '', `A statement that ${about}.`, '', '| rule | severity | flags | safe alternative |', '| --- | --- | --- | --- |');
    for (const rule of inCategory) lines.push(`| \`${rule.id}\` | ${rule.severity} | ${cell(rule.message)} | ${cell(rule.safeAlternative)} |`);
    lines.push('');
  }
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const target = join(dirname(fileURLToPath(import.meta.url)), '..', RULES_DOC_PATH);
  const generated = renderRulesDoc();
  const current = (() => {
    try {
      return readFileSync(target, 'utf8');
    } catch {
      return undefined;
    }
  })();
  if (current === generated) process.stdout.write(`${RULES_DOC_PATH} is up to date\n`);
  else {
    writeFileSync(target, generated);
    process.stdout.write(`wrote ${RULES_DOC_PATH}\n`);
  }
}
