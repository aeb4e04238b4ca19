/**
 * `loadBalancer: { type: 'none' }`: nothing sends traffic through a balancer ship can steer (a
 * single host, a batch worker, DNS round robin). Drain, out and back do nothing, and since there
 * is no balancer with a view of the members, every member is reported healthy with a detail that
 * says so; the rollout's own health checks are the only judge.
 */
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
