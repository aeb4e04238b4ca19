/** The patch tests' view of their fleet's HAProxy: who is in service, and putting every host back between tests. */
import { HaproxyLoadBalancer } from '../../../src/lb/haproxy.js';
import { parseRuntimeApi } from '../../../src/lb/haproxy-runtime.js';
import type { Fleet } from '../fleet.js';
import type { RebootableHost } from './reboot.js';

function haproxy(fleet: Fleet): HaproxyLoadBalancer {
  return new HaproxyLoadBalancer({ backend: 'app', nodes: [parseRuntimeApi(fleet.runtimeApi)], pollIntervalMs: 20 });
}

export async function inService(fleet: Fleet): Promise<Record<string, boolean>> {
  const lb = haproxy(fleet);
  try {
    return Object.fromEntries((await lb.members(fleet.hosts.map((h) => h.name))).map((m) => [m.name, m.inService]));
  } finally {
    await lb.close();
  }
}

/** Every host up and back in the load balancer, whatever the last test did. */
export async function everyHostBackInService(fleet: Fleet, hosts: Iterable<RebootableHost>): Promise<void> {
  for (const h of hosts) if (!h.isUp()) await h.powerOn();
  const lb = haproxy(fleet);
  try {
    for (const member of await lb.members(fleet.hosts.map((h) => h.name))) {
      if (!member.inService) {
        await lb.putBack(member.name, { deadlineMs: 10_000 });
        await lb.waitHealthy(member.name, { deadlineMs: 10_000 });
      }
    }
  } finally {
    await lb.close();
  }
}
