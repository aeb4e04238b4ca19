import { resolvePath, type LoadedConfig } from '../config/load.js';
import { FileStateStore } from './file-store.js';
import { PostgresStateStore } from './postgres-store.js';
import type { StateStore } from './state-store.js';

/**
 * The store named by the config's `state`: files under `state.path` (relative to the config's
 * folder, default `.ship`), or the shared PostgreSQL database at `state.url`. Nothing is opened
 * until first use.
 */
export function stateStoreFor(loaded: LoadedConfig): StateStore {
  const state = loaded.config.state;
  return state.store === 'file' ? new FileStateStore(resolvePath(loaded.dir, state.path)) : new PostgresStateStore(state.url);
}
