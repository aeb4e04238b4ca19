import type { LoadedConfig } from '../config/load.js';
import { HaproxyLoadBalancer } from './haproxy.js';
import { parseRuntimeApi } from './haproxy-runtime.js';
import type { LoadBalancer } from './load-balancer.js';
import { NoneLoadBalancer } from './none.js';

export function loadBalancerFor(loaded: LoadedConfig): LoadBalancer {
  const lb = loaded.config.loadBalancer;
  switch (lb.type) {
    case 'haproxy': {
      const apis = Array.isArray(lb.runtimeApi) ? lb.runtimeApi : [lb.runtimeApi];
      return new HaproxyLoadBalancer({ backend: lb.backend, nodes: apis.map(parseRuntimeApi), pollIntervalMs: lb.pollInterval });
    }
    case 'none':
      return new NoneLoadBalancer();
    case 'elbv2':
      throw new Error('elbv2 is wired in by the AWS provider');
  }
}
