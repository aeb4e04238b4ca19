import type { ShipEvent } from '../events.js';
import { redactDeep } from '../util/redact.js';

/** `--json`: one event per line (NDJSON), secrets scrubbed, for scripts and CI. */
export function jsonRenderer(write: (text: string) => void): (event: ShipEvent) => void {
  return (event) => write(`${JSON.stringify(redactDeep(event))}\n`);
}
