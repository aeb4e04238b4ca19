/**
 * The `notify` config section: a field per registered notifier (src/notify/registry.ts), then
 * the settings every delivery shares. Every URL, key, secret and header value is a secret: it
 * is registered for redaction and never appears in an error or event.
 */
import { z } from 'zod';
import { duration, type FieldDescriptions } from '../config/fields.js';
import { NOTIFIERS } from './registry.js';
import { NOTIFY_TRIGGERS } from './triggers.js';

type Destinations = { [Adapter in (typeof NOTIFIERS)[number] as Adapter['key']]: z.ZodOptional<Adapter['schema']> };

// fromEntries() forgets the keys; each one is still its adapter's key with its optional schema.
const destinations = Object.fromEntries(NOTIFIERS.map((adapter) => [adapter.key, adapter.schema.optional()])) as Destinations;

const deliverySettings = {
  on: z
    .array(z.enum(NOTIFY_TRIGGERS))
    .min(1)
    .default([...NOTIFY_TRIGGERS]),
  timeout: duration.default(5_000),
  retries: z.number().int().min(0).max(5).default(2),
  runbookUrl: z.string().url().optional(),
};

export const notifySchema = z.strictObject({ ...destinations, ...deliverySettings });
export type NotifyConfig = z.output<typeof notifySchema>;

export const DELIVERY_FIELDS: FieldDescriptions<typeof deliverySettings> = {
  on: 'Which notices are sent: the run started, succeeded, failed (or was refused), or was aborted.',
  timeout:
    'Bound on one delivery attempt. When a run ends, ship waits for notifications still sending at most what their attempts can take: timeout × (retries + 1) plus the pauses between attempts (0.5 s, then 1 s, 2 s, …); 16.5 s with the defaults.',
  retries: 'Attempts after the first, with exponential backoff, on a network error, a timeout, 429 or 5xx.',
  runbookUrl: 'Absolute URL of docs/runbook.md (on your Git host), so runbook links in notifications open from a phone. Also `SHIP_RUNBOOK_URL`.',
};
