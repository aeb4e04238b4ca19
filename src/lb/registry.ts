/**
 * Every load balancer type ship knows, one line each. The `loadBalancer` config section, its
 * documentation, `ship init --lb` and the factory are all composed from this list.
 */
import { z } from 'zod';
import type { TaggedSchema } from './adapter.js';
import { elbv2Adapter } from './elbv2-adapter.js';
import { haproxyAdapter } from './haproxy.js';
import { noneAdapter } from './none.js';

export const LOAD_BALANCERS = [haproxyAdapter, elbv2Adapter, noneAdapter] as const;

type SchemasOf<Adapters extends ReadonlyArray<{ schema: TaggedSchema }>> = { -readonly [I in keyof Adapters]: Adapters[I]['schema'] };

/** The `loadBalancer` section: one variant per registered type, chosen by `type`. */
export const loadBalancerSchema = z.discriminatedUnion(
  'type',
  // map() forgets that the list is a tuple; each element is still its adapter's schema.
  LOAD_BALANCERS.map((adapter) => adapter.schema) as SchemasOf<typeof LOAD_BALANCERS>,
);

export type LoadBalancerConfig = z.output<typeof loadBalancerSchema>;
export type LoadBalancerType = LoadBalancerConfig['type'];

export const LOAD_BALANCER_TYPES = LOAD_BALANCERS.map((adapter) => adapter.schema.shape.type.value) as LoadBalancerType[];

export function loadBalancerAdapter(type: LoadBalancerType): (typeof LOAD_BALANCERS)[number] {
  const adapter = LOAD_BALANCERS.find((candidate) => candidate.schema.shape.type.value === type);
  // The schema admits only registered types, so this is a bug in ship, not in the config.
  if (!adapter) throw new Error(`load balancer type '${type}' is not in src/lb/registry.ts`);
  return adapter;
}
