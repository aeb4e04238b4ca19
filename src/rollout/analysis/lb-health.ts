/**
 * Watches the batch in the load balancer's own view during the bake: a member that leaves service
 * (its checks fail after it was put back, someone drains it) ends the bake as a failure at once.
 * The only signal ELBv2 gives per target, and a cheap one for every load balancer.
 */
import type { LoadBalancer } from '../../lb/load-balancer.js';
import { AnalysisError, type AnalysisSource, type BakeScope } from './source.js';
import type { Finding } from './verdict.js';

export function lbHealthSource(lb: Pick<LoadBalancer, 'members'>, scope: BakeScope): AnalysisSource {
  const look = async (): Promise<Finding> => {
    let members: Awaited<ReturnType<LoadBalancer['members']>>;
    try {
      members = await lb.members(scope.members);
    } catch (error) {
      throw new AnalysisError(`the load balancer could not be asked about ${scope.members.join(', ')}: ${(error as Error).message}`, { cause: error });
    }
    const out = members.filter((m) => !(m.healthy && m.inService));
    if (out.length > 0) return { source: 'load balancer', verdict: 'fail', detail: out.map((m) => `${m.name} left service during the bake: ${m.detail}`).join('; ') };
    return { source: 'load balancer', verdict: 'pass', detail: `${members.length === 1 ? 'healthy' : `all ${members.length} healthy`} in the load balancer throughout` };
  };
  return {
    name: 'load balancer',
    async watch() {
      const finding = await look();
      return finding.verdict === 'fail' ? finding : undefined;
    },
    judge: look,
  };
}
