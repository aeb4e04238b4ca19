/**
 * What a notifier type brings to ship: its section under `notify` (`notify.<key>`), what it and
 * each of its fields mean, the commented example `ship init` writes, and the factory. Registered
 * with one line in src/notify/registry.ts; the `notify` section, docs/config.md, `ship init` and
 * src/notify/from-config.ts are composed from there.
 */
import type { z } from 'zod';
import type { FieldDescriptions } from '../config/fields.js';
import type { Notifier } from './notifier.js';

export type NotifierSchema = z.ZodObject<z.core.$ZodShape, z.core.$strict>;

export interface NotifierAdapter<Key extends string = string, Schema extends NotifierSchema = NotifierSchema> {
  /** Its field under `notify`. */
  key: Key;
  schema: Schema;
  /** What `notify.<key>` is, for docs/config.md. */
  description: string;
  fields: FieldDescriptions<Schema['shape']>;
  /** One line of the commented `notify` example `ship init` writes, e.g. `slack: { webhookUrl: process.env.SLACK_WEBHOOK_URL },`. */
  initExample: string;
  create(config: z.output<Schema>): Notifier;
}

/** Identity; infers the key and schema so `fields` and `create` are checked against them. */
export function defineNotifier<Key extends string, Schema extends NotifierSchema>(adapter: NotifierAdapter<Key, Schema>): NotifierAdapter<Key, Schema> {
  return adapter;
}
