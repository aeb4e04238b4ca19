import { resolvePath, type LoadedConfig } from '../config/load.js';
import type { StateStore } from './state-store.js';

/**
 * The store named by the config's `state`: files under `state.path` (relative to the config's
 * folder, default `.ship`), or the shared PostgreSQL database at `state.url`. Nothing is opened
 * until first use.
 */
export async function stateStoreFor(loaded: LoadedConfig): Promise<StateStore> {
  const state = loaded.config.state;
  // Each store's module is loaded only when used: the postgres one pulls in the pg driver.
  if (state.store === 'file') {
    const { FileStateStore } = await import('./file-store.js');
    return new FileStateStore(resolvePath(loaded.dir, state.path));
  }
  const { PostgresStateStore } = await import('./postgres-store.js');
  return new PostgresStateStore(state.url);
}
