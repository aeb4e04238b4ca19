import type { ContainerSpec } from '../../src/playbook/define.js';

/** A worker container as the container playbooks read it, for tests that compare built shell text. */
export const WORKER_CONTAINER: ContainerSpec = {
  engine: 'podman',
  image: 'registry.example.com/acme/shop',
  name: 'shop-worker',
  run: { ports: [], volumes: [], args: [] },
  stopTimeoutMs: 5_000,
  keep: 3,
};
