/**
 * What a load balancer type brings to ship: its `loadBalancer` config section (tagged by
 * `type`), what each field means, the starting point `ship init --lb <type>` writes, and the
 * factory. Registered with one line in src/lb/registry.ts; the config schema, docs/config.md,
 * `ship init` and src/lb/from-config.ts are composed from there.
 */
import type { z } from 'zod';
import type { FieldDescriptions } from '../config/fields.js';
import type { SshConnector } from './haproxy-runtime.js';
import type { LoadBalancer } from './load-balancer.js';

export interface LbHost {
  name: string;
  address: string;
  lbName?: string;
}

/** What a load balancer may need beyond its own config section; never the whole config. */
export interface LoadBalancerContext {
  /** The hosts being rolled: a member is known by its lbName (defaults to name). */
  hosts: LbHost[];
  /** An SSH connection to any machine with the config's own SSH settings (key, known_hosts, jump host). */
  connectSsh: SshConnector;
}

export type TaggedSchema = z.ZodObject<{ type: z.ZodLiteral<string> } & z.core.$ZodShape, z.core.$strict>;

export interface LoadBalancerAdapter<Schema extends TaggedSchema = TaggedSchema> {
  /** `z.strictObject({ type: z.literal('<type>'), ... })`, built from src/config/fields.ts. */
  schema: Schema;
  fields: FieldDescriptions<Schema['shape'], 'type'>;
  /** The commented `hosts` and `loadBalancer` sections `ship init` writes; they must validate as written. */
  init(app: string): { hosts: string; loadBalancer: string };
  /** May import heavy modules lazily (the AWS SDK takes about a second to load). */
  create(config: z.output<Schema>, context: LoadBalancerContext): LoadBalancer | Promise<LoadBalancer>;
}

/** Identity; infers the schema so `fields` and `create` are checked against it. */
export function defineLoadBalancer<Schema extends TaggedSchema>(adapter: LoadBalancerAdapter<Schema>): LoadBalancerAdapter<Schema> {
  return adapter;
}
