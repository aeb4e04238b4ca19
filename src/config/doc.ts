/**
 * docs/config.md, generated from the zod schema so the reference can never drift from what the
 * validator accepts: every field, its type, its default, and its description. A description
 * comes from the schema itself (`.describe()` / `.meta({ description })`) or, failing that, from
 * FIELD_DESCRIPTIONS; a field with neither fails `test/unit/config-doc.test.ts`.
 */
import type { z } from 'zod';
import { duration } from './fields.js';
import { configSchema } from './schema.js';
import { FIELD_DESCRIPTIONS } from './field-descriptions.js';

export const CONFIG_DOC_PATH = 'docs/config.md';
export const REGENERATE_COMMAND = 'npm run docs';

export interface FieldRow {
  /** `ssh.connectTimeout`, `hosts[].name`, `apps.<name>`. */
  path: string;
  /** For a field of one variant of a discriminated union: `type: 'haproxy'`. */
  variant?: string;
  /** The key FIELD_DESCRIPTIONS uses: the path, with the variant in brackets when there is one. */
  key: string;
  type: string;
  required: boolean;
  default?: string;
  description?: string;
}

type Schema = z.core.$ZodType;
// biome-ignore lint/suspicious/noExplicitAny: zod's internal definitions differ per schema kind; each field read here is checked where it is used
type Def = Record<string, any> & { type: string };

function defOf(schema: Schema): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

function ownDescription(schema: Schema): string | undefined {
  return (schema as unknown as { description?: string }).description;
}

function isSecret(def: Def): boolean {
  // secret() in schema.ts: any input, resolved from env() and registered for redaction.
  return def.type === 'pipe' && defOf(def.in).type === 'custom' && defOf(def.out).type === 'transform';
}

function literal(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : String(value);
}

function checksText(def: Def): { integer: boolean; notes: string[] } {
  const notes: string[] = [];
  let integer = false;
  let min: number | undefined;
  let max: number | undefined;
  for (const check of (def.checks ?? []) as Schema[]) {
    const c = defOf(check) as Def & { check: string };
    if (c.check === 'number_format' && /int/.test(String(c.format))) integer = true;
    else if (c.check === 'greater_than') min = c.value as number;
    else if (c.check === 'less_than') max = c.value as number;
    else if (c.check === 'min_length' && (c.minimum as number) > 0 && def.type === 'array') notes.push(`at least ${c.minimum}`);
    else if (c.check === 'string_format' && c.format === 'url') notes.push('URL');
    else if (c.check === 'string_format' && c.format === 'starts_with') notes.push(`starts with ${literal(c.prefix)}`);
  }
  if (min !== undefined && max !== undefined) notes.push(`${min}–${max}`);
  else if (min !== undefined) notes.push(`≥ ${min}`);
  else if (max !== undefined) notes.push(`≤ ${max}`);
  return { integer, notes };
}

/** A short type for the table: `string`, `integer 1–65535`, `duration`, `'ssh' \| 'local'`, `string[]`. */
function typeText(schema: Schema): string {
  if (schema === duration) return 'duration';
  const def = defOf(schema);
  if (isSecret(def)) return 'secret';
  switch (def.type) {
    case 'string': {
      const { notes } = checksText(def);
      return notes.includes('URL') ? 'URL' : 'string';
    }
    case 'number': {
      const { integer, notes } = checksText(def);
      return [integer ? 'integer' : 'number', ...notes].join(' ');
    }
    case 'boolean':
      return 'boolean';
    case 'literal':
      return (def.values as unknown[]).map(literal).join(' \\| ');
    case 'enum':
      return Object.values(def.entries as Record<string, string>)
        .map(literal)
        .join(' \\| ');
    case 'array':
      return `${wrap(typeText(def.element))}[]`;
    case 'record':
      return `{ [${typeText(def.keyType)}]: ${typeText(def.valueType)} }`;
    case 'union':
      return (def.options as Schema[]).map(typeText).join(' \\| ');
    case 'object':
      return 'object';
    case 'optional':
    case 'default':
    case 'nullable':
      return typeText(def.innerType);
    case 'pipe':
      return typeText(defOf(def.in).type === 'transform' ? def.out : def.in);
    default:
      throw new Error(`config doc: no type text for zod type '${def.type}'; teach src/config/doc.ts`);
  }
}

function wrap(text: string): string {
  return text.includes(' ') ? `(${text})` : text;
}

/** The largest unit that states the default exactly: 90000 is '90s', not a rounded '2m'. */
function exactDuration(milliseconds: number): string {
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (milliseconds > 0 && milliseconds % size === 0) return `${milliseconds / size}${unit}`;
  }
  return `${milliseconds}ms`;
}

function defaultText(value: unknown, schema: Schema): string | undefined {
  if (value === undefined) return undefined;
  if (schema === duration && typeof value === 'number') return `'${exactDuration(value)}'`;
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length > 0 && defOf(schema).type === 'object') {
    return undefined; // each field shows its own default
  }
  return JSON.stringify(value).replace(/"/g, "'").replace(/\|/g, '\\|');
}

interface Walk {
  rows: FieldRow[];
  /** Object schemas already documented, by their field schemas, so a nested copy is referenced, not repeated. */
  documented: Array<{ path: string; fields: Set<Schema> }>;
}

function unwrap(schema: Schema): { inner: Schema; required: boolean; defaultValue?: unknown; description?: string } {
  let current = schema;
  let required = true;
  let defaultValue: unknown;
  let description = ownDescription(schema);
  for (;;) {
    const def = defOf(current);
    if (def.type === 'optional') required = false;
    else if (def.type === 'default') {
      required = false;
      defaultValue = def.defaultValue;
    } else if (def.type === 'pipe' && defOf(def.in).type === 'transform') {
      current = def.out; // z.preprocess: document what the preprocessed value must be
      description ??= ownDescription(current);
      continue;
    } else break;
    current = def.innerType;
    description ??= ownDescription(current);
  }
  return { inner: current, required, ...(defaultValue !== undefined ? { defaultValue } : {}), ...(description ? { description } : {}) };
}

function walkObject(schema: Schema, prefix: string, variant: string | undefined, walk: Walk): void {
  const shape = defOf(schema).shape as Record<string, Schema>;
  walk.documented.push({ path: prefix || '(top level)', fields: new Set(Object.values(shape)) });
  for (const [name, field] of Object.entries(shape)) {
    walkField(field, prefix ? `${prefix}.${name}` : name, variant, walk);
  }
}

function walkField(schema: Schema, path: string, variant: string | undefined, walk: Walk): void {
  const { inner, required, defaultValue, description } = unwrap(schema);
  const def = defOf(inner);
  const key = variant ? `${path} [${variant}]` : path;
  const row = (type: string, extra: Partial<FieldRow> = {}): FieldRow => ({
    path,
    ...(variant ? { variant } : {}),
    key,
    type,
    required,
    ...(defaultText(defaultValue, inner) !== undefined ? { default: defaultText(defaultValue, inner)! } : {}),
    ...(description ? { description } : {}),
    ...extra,
  });

  if (def.type === 'object') {
    walk.rows.push(row('object'));
    walkObject(inner, path, variant, walk);
    return;
  }
  if (def.type === 'union' && def.discriminator && (def.options as Schema[]).every((o) => defOf(o).type === 'object')) {
    const discriminator = def.discriminator as string;
    const tags = (def.options as Schema[]).map((o) => literal(defOf(defOf(o).shape[discriminator]).values[0]));
    walk.rows.push(row(`object, one of ${discriminator}: ${tags.join(', ')}`));
    for (const option of def.options as Schema[]) {
      const shape = defOf(option).shape as Record<string, Schema>;
      const tag = `${discriminator}: ${literal(defOf(shape[discriminator]!).values[0])}`;
      for (const [name, field] of Object.entries(shape)) {
        if (name !== discriminator) walkField(field, `${path}.${name}`, tag, walk);
      }
    }
    return;
  }
  if (def.type === 'array' && defOf(unwrap(def.element).inner).type === 'object') {
    walk.rows.push(row('object[]'));
    walkObject(unwrap(def.element).inner, `${path}[]`, variant, walk);
    return;
  }
  if (def.type === 'record' && defOf(def.valueType).type === 'object') {
    const fields = new Set(Object.values(defOf(def.valueType).shape as Record<string, Schema>));
    const same = walk.documented.find((d) => [...fields].every((f) => d.fields.has(f)));
    if (same) {
      walk.rows.push(row(`{ [name]: object }`));
      return;
    }
    walk.rows.push(row(`{ [name]: object }`));
    walkObject(def.valueType, `${path}.<name>`, variant, walk);
    return;
  }
  walk.rows.push(row(typeText(inner)));
}

/** Every field of the config, in schema order, with its description resolved. */
export function configFields(schema: Schema = configSchema as unknown as Schema): FieldRow[] {
  const walk: Walk = { rows: [], documented: [] };
  walkObject(unwrap(schema).inner, '', undefined, walk);
  return walk.rows.map((row) => {
    const description = row.description ?? FIELD_DESCRIPTIONS[row.key];
    return description ? { ...row, description } : row;
  });
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The Markdown of docs/config.md. */
export function renderConfigDoc(rows: FieldRow[] = configFields()): string {
  const sections = new Map<string, FieldRow[]>();
  for (const row of rows) {
    const top = row.path.split(/[.[]/)[0]!;
    const topLevelScalar =
      !row.path.includes('.') && !row.path.includes('[') && row.type !== 'object' && !row.type.startsWith('object') && !row.type.startsWith('{ [name]: object');
    const section = topLevelScalar ? '' : top;
    sections.set(section, [...(sections.get(section) ?? []), row]);
  }
  const out = [
    '# Config reference',
    '',
    `<!-- Generated from src/config/schema.ts by \`${REGENERATE_COMMAND}\` (src/config/doc.ts). Do not edit by hand: test/unit/config-doc.test.ts fails when this file is out of date. -->`,
    '',
    '`orchestrator.config.ts` exports `defineConfig({...})`. Every field below is validated when the',
    'file is loaded; an unknown field, a wrong type or a bad value is an error naming the file and',
    'the field path. `ship init` writes a commented starting point.',
    '',
    "- **duration**: `'500ms'`, `'30s'`, `'2m'`, `'1h'`, or a number of milliseconds.",
    "- **secret**: a string, or `env('NAME')` to read it from the environment when the config is",
    '  loaded (a missing variable is reported with the field that needs it). Secrets are scrubbed',
    '  from every log line, event, notification and error.',
    '- A field of a `one of` object applies when its tag (`type`, `store`) has the value shown.',
    '',
  ];
  for (const [section, sectionRows] of sections) {
    out.push(section ? `## \`${section}\`` : '## Top level', '');
    out.push('| field | type | required | default | description |', '| --- | --- | --- | --- | --- |');
    for (const row of sectionRows) {
      const field = `\`${row.path}\`${row.variant ? ` (${cell(row.variant.replace(/: /, '='))})` : ''}`;
      out.push(`| ${field} | ${row.type} | ${row.required ? 'yes' : ''} | ${row.default ? `\`${row.default}\`` : ''} | ${cell(row.description ?? '')} |`);
    }
    out.push('');
  }
  return out.join('\n');
}
