import type { LoadedConfig } from '../config/load.js';
import { transportFor } from '../transport/from-config.js';
import { SshTransport } from '../transport/ssh.js';
import type { LbHost, LoadBalancerContext } from './adapter.js';
import type { SshConnector } from './haproxy-runtime.js';
import type { LoadBalancer } from './load-balancer.js';
import { loadBalancerAdapter, type LoadBalancerConfig } from './registry.js';

/**
 * An SSH connection to a machine that is not one of the hosts (an HAProxy node's socket behind
 * `ssh://[user@]lbhost/path.sock`), with the config's own SSH settings.
 */
function sshConnector(loaded: LoadedConfig): SshConnector {
  return async (target) => {
    const transport = transportFor(
      { name: `haproxy ${target.host}`, address: target.host, ...(target.port ? { port: target.port } : {}), ...(target.user ? { user: target.user } : {}) },
      loaded,
    );
    if (!(transport instanceof SshTransport)) throw new Error(`haproxy runtime API ssh://${target.host}: needs the ssh transport, but the config sets transport 'local'`);
    return transport.client();
  };
}

/** The load balancer the config's `loadBalancer` section names, made by its registered adapter. */
export async function loadBalancerFor(loaded: LoadedConfig, hosts: LbHost[]): Promise<LoadBalancer> {
  const config: LoadBalancerConfig = loaded.config.loadBalancer;
  const context: LoadBalancerContext = { hosts, connectSsh: sshConnector(loaded) };
  const create = loadBalancerAdapter(config.type).create as (config: LoadBalancerConfig, context: LoadBalancerContext) => Promise<LoadBalancer> | LoadBalancer;
  // The adapter was found by config.type, so config is that adapter's own section.
  return create(config, context);
}
