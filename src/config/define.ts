import type { ShipConfigInput } from './schema.js';

/** Identity at run time; gives a config file full types and completion. */
export function defineConfig(config: ShipConfigInput): ShipConfigInput {
  return config;
}
