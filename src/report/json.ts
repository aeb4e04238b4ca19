import type { ShipEvent } from '../events.js';

/** `--json`: one event per line (NDJSON), for scripts and CI. The bus scrubbed every secret from the event before handing it on. */
export function jsonRenderer(write: (text: string) => void): (event: ShipEvent) => void {
  return (event) => write(`${JSON.stringify(event)}\n`);
}
