/**
 * Keeps docs/events.md (the --json schema) and the types in the source from drifting: every
 * event type and every field, with whether it is optional, must match.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const doc = read('docs/events.md');
const eventsSource = read('src/events.ts');
const noticeSource = read('src/notify/notifier.ts');

/** Field names (`name` or `name?`) of an object type's text, top level only. */
function fieldsOf(body: string): string[] {
  const text = body.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  const fields: string[] = [];
  let depth = 0;
  let piece = '';
  const flush = () => {
    const match = /^\s*(readonly\s+)?([A-Za-z_$][\w$]*)(\??)\s*:/.exec(piece);
    if (match) fields.push(match[2]! + match[3]!);
    piece = '';
  };
  for (const char of text) {
    if ('{<(['.includes(char)) depth++;
    if ('}>)]'.includes(char) && !(char === '>' && piece.endsWith('='))) depth--;
    if (depth === 0 && (char === ';' || char === '\n' || char === ',')) flush();
    else piece += char;
  }
  flush();
  return fields;
}

/** The members of `export type ShipEventBody = | {...} | {...};` as type → fields. */
function sourceEvents(): Map<string, string[]> {
  const start = eventsSource.indexOf('export type ShipEventBody =');
  assert.ok(start >= 0, 'src/events.ts exports ShipEventBody');
  const events = new Map<string, string[]>();
  let depth = 0;
  let member = '';
  for (let i = eventsSource.indexOf('=', start) + 1; i < eventsSource.length; i++) {
    const char = eventsSource[i]!;
    if (char === '{') {
      depth++;
      if (depth === 1) {
        member = '';
        continue;
      }
    }
    if (char === '}') {
      depth--;
      if (depth === 0) {
        const fields = fieldsOf(member);
        const type = /type:\s*'([^']+)'/.exec(member)?.[1];
        assert.ok(type, `a ShipEventBody member without a literal type: ${member}`);
        events.set(
          type,
          fields.filter((f) => f !== 'type'),
        );
        continue;
      }
    }
    if (depth === 0 && char === ';') break;
    if (depth >= 1) member += char;
  }
  return events;
}

function sourceInterface(source: string, name: string): string[] {
  const match = new RegExp(`export interface ${name} \\{`).exec(source);
  assert.ok(match, `interface ${name} in the source`);
  let depth = 0;
  let body = '';
  for (let i = match.index + match[0].length - 1; i < source.length; i++) {
    const char = source[i]!;
    if (char === '{') depth++;
    if (char === '}') depth--;
    if (depth === 0) break;
    if (i > match.index + match[0].length - 1) body += char;
  }
  return fieldsOf(body);
}

/** `### heading` → the field column of the table under it (up to the next heading). */
function docSections(): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  const parts = doc.split(/^### /m).slice(1);
  for (const part of parts) {
    const heading = part.split('\n', 1)[0]!.trim();
    const body = part.split(/^## /m)[0]!;
    const fields = [...body.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!);
    sections.set(heading, fields);
  }
  return sections;
}

const documented = docSections();
const documentedEvents = new Map([...documented].filter(([heading]) => heading.startsWith('`')).map(([heading, fields]) => [heading.replace(/`/g, ''), fields]));

test('the source parser sees the union (a sanity check on this test itself)', () => {
  const events = sourceEvents();
  assert.ok(events.size >= 20, `found ${events.size} event types`);
  assert.deepEqual(events.get('run.started'), ['command', 'app', 'version?', 'hosts', 'sources', 'batches', 'dryRun', 'roles?']);
  assert.deepEqual(events.get('warning'), ['host?', 'message']);
  assert.deepEqual(fieldsOf(' a: Array<{ b: string; c?: number }>; d?: Record<string, (x: number) => void>, e: string '), ['a', 'd?', 'e']);
});

test('docs/events.md documents exactly the event types of ShipEventBody', () => {
  const inSource = [...sourceEvents().keys()].sort();
  const inDoc = [...documentedEvents.keys()].sort();
  assert.deepEqual(
    inSource.filter((t) => !inDoc.includes(t)),
    [],
    'event types missing from docs/events.md (add a "### `type`" section with a field table)',
  );
  assert.deepEqual(
    inDoc.filter((t) => !inSource.includes(t)),
    [],
    'docs/events.md documents event types src/events.ts does not have',
  );
});

test('each event section lists exactly its fields, optional ones marked with ?', () => {
  for (const [type, fields] of sourceEvents()) {
    assert.deepEqual([...(documentedEvents.get(type) ?? [])].sort(), [...fields].sort(), `fields of ${type} in docs/events.md`);
  }
});

test('the envelope, the summary types and the webhook notice match the source', () => {
  const envelope = /## Envelope[\s\S]*?(?=\n## )/.exec(doc)?.[0] ?? '';
  assert.deepEqual(
    [...envelope.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]),
    ['type', 'time', 'runId'],
  );
  assert.match(eventsSource, /export type ShipEvent = ShipEventBody & \{ time: string; runId: string \};/);
  assert.deepEqual([...(documented.get('RunSummary') ?? [])].sort(), sourceInterface(eventsSource, 'RunSummary').sort(), 'RunSummary');
  assert.deepEqual([...(documented.get('HostSummary') ?? [])].sort(), sourceInterface(eventsSource, 'HostSummary').sort(), 'HostSummary');
  assert.deepEqual([...(documented.get('RunNotice') ?? [])].sort(), sourceInterface(noticeSource, 'RunNotice').sort(), 'RunNotice');
});
