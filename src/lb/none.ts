/**
 * `loadBalancer: { type: 'none' }`: nothing sends traffic through a balancer ship can steer (a
 * single host, a batch worker, DNS round robin). Drain, out and back do nothing, and since there
 * is no balancer with a view of the members, every member is reported healthy with a detail that
 * says so; the rollout's own health checks are the only judge.
 */
import { z } from 'zod';
import { defineLoadBalancer } from './adapter.js';
import type { LoadBalancer, MemberState } from './load-balancer.js';

export class NoneLoadBalancer implements LoadBalancer {
  readonly kind = 'none';

  async verify(): Promise<void> {}

  async members(memberNames: string[]): Promise<MemberState[]> {
    return memberNames.map((name) => ({ name, healthy: true, inService: true, detail: 'no load balancer' }));
  }

  async startDrain(): Promise<void> {}

  async waitDrained(): Promise<void> {}

  async takeOut(): Promise<void> {}

  async putBack(): Promise<void> {}

  async waitHealthy(): Promise<void> {}

  async close(): Promise<void> {}
}

export const noneAdapter = defineLoadBalancer({
  schema: z.strictObject({ type: z.literal('none') }),
  fields: {},
  init: () => ({
    hosts: `  // The instances, rolled in this order.
  hosts: [
    { name: 'web1', address: '10.0.1.11' },
    { name: 'web2', address: '10.0.1.12' },
  ],`,
    loadBalancer: `  // No load balancer: ship cannot take an instance out of rotation, so requests reaching it while
  // it restarts may fail. Use this only where clients retry, or for workers that serve no traffic.
  loadBalancer: { type: 'none' },`,
  }),
  create: () => new NoneLoadBalancer(),
});
