import type { LoadedConfig } from '../config/load.js';
import { transportFor } from '../transport/from-config.js';
import { SshTransport } from '../transport/ssh.js';
import { HaproxyLoadBalancer } from './haproxy.js';
import { parseRuntimeApi, type SshConnector } from './haproxy-runtime.js';
import type { LoadBalancer } from './load-balancer.js';
import { NoneLoadBalancer } from './none.js';

export interface LbHost {
  name: string;
  address: string;
  lbName?: string;
}

/**
 * For `ssh://[user@]lbhost/path.sock` runtime APIs: an SSH connection to the load-balancer host
 * with the config's own SSH settings (key, known_hosts, ssh config, jump host).
 */
function sshConnector(loaded: LoadedConfig): SshConnector {
  return async (target) => {
    const transport = transportFor({ name: `haproxy ${target.host}`, address: target.host, ...(target.port ? { port: target.port } : {}), ...(target.user ? { user: target.user } : {}) }, loaded);
    if (!(transport instanceof SshTransport)) throw new Error(`haproxy runtime API ssh://${target.host}: needs the ssh transport, but the config sets transport 'local'`);
    return transport.client();
  };
}

/** Async so the AWS SDK (about a second to load) is only loaded for configs that use it. */
export async function loadBalancerFor(loaded: LoadedConfig, hosts: LbHost[]): Promise<LoadBalancer> {
  const lb = loaded.config.loadBalancer;
  switch (lb.type) {
    case 'haproxy': {
      const apis = Array.isArray(lb.runtimeApi) ? lb.runtimeApi : [lb.runtimeApi];
      return new HaproxyLoadBalancer({ backend: lb.backend, nodes: apis.map(parseRuntimeApi), pollIntervalMs: lb.pollInterval, connectSsh: sshConnector(loaded) });
    }
    case 'elbv2': {
      const { Elbv2LoadBalancer } = await import('./elbv2.js');
      return new Elbv2LoadBalancer({
        region: lb.region,
        ...(lb.endpoint ? { endpoint: lb.endpoint } : {}),
        targetGroupArns: lb.targetGroupArns,
        maxAttempts: lb.maxAttempts,
        pollIntervalMs: lb.pollInterval,
        deregistrationMarginMs: lb.deregistrationMargin,
        // A target is known by its lbName: the instance id for instance targets (EC2-discovered hosts have it), the IP for ip targets.
        resolveTarget: (member) => {
          const host = hosts.find((h) => (h.lbName ?? h.name) === member);
          return { id: host?.lbName ?? member };
        },
      });
    }
    case 'none':
      return new NoneLoadBalancer();
  }
}
