import { randomUUID } from 'node:crypto';
import { EventBus } from '../events.js';
import { jsonRenderer } from '../report/json.js';
import { ListrView } from '../report/listr.js';
import { plainRenderer } from '../report/plain.js';

export interface OutputChoice {
  json?: boolean;
  /** The live task list needs a plan to draw; commands without one print plain lines. */
  live?: boolean;
}

/**
 * Picks the renderer: NDJSON with --json, a live task list on an interactive terminal, plain
 * lines when output is piped or CI is set, so every command works in CI and in scripts.
 */
export function createOutput(choice: OutputChoice): { bus: EventBus; done: () => Promise<void>; mode: 'json' | 'tty' | 'plain' } {
  const bus = new EventBus(randomUUID());
  const write = (text: string) => process.stdout.write(text);
  if (choice.json) {
    bus.subscribe(jsonRenderer(write));
    return { bus, done: async () => undefined, mode: 'json' };
  }
  if ((choice.live ?? true) && process.stdout.isTTY && !process.env.CI) {
    const view = new ListrView(write);
    bus.subscribe(view.listener);
    return { bus, done: () => view.done(), mode: 'tty' };
  }
  bus.subscribe(plainRenderer(write));
  return { bus, done: async () => undefined, mode: 'plain' };
}
