import { randomUUID } from 'node:crypto';
import { EventBus, type Listener, type ShipEvent } from '../events.js';
import { jsonRenderer } from '../report/json.js';
import { ListrView } from '../report/listr.js';
import { plainRenderer } from '../report/plain.js';
import { stdout } from './stdout.js';

export type OutputMode = 'json' | 'tty' | 'plain';

export interface OutputChoice {
  json?: boolean;
  /** The live task list needs a plan to draw; commands without one print plain lines. */
  live?: boolean;
}

export interface Output {
  bus: EventBus;
  done: () => Promise<void>;
  mode: OutputMode;
}

/**
 * Picks the renderer: NDJSON with --json, a live task list on an interactive terminal, plain
 * lines when output is piped or CI is set, so every command works in CI and in scripts.
 */
export function createOutput(choice: OutputChoice): Output {
  const bus = new EventBus(randomUUID());
  if (choice.json) {
    bus.subscribe(jsonRenderer(stdout.write), 'the JSON output');
    return { bus, done: async () => undefined, mode: 'json' };
  }
  if ((choice.live ?? true) && process.stdout.isTTY && !process.env.CI) {
    const view = new ListrView(stdout.write);
    bus.subscribe(view.listener, 'the terminal view');
    return { bus, done: () => view.done(), mode: 'tty' };
  }
  bus.subscribe(plainRenderer(stdout.write), 'the output');
  return { bus, done: async () => undefined, mode: 'plain' };
}

/** With several apps in one run, each line (or JSON event) says which app it is about. */
export function appRenderer(app: string, mode: 'json' | 'plain'): Listener {
  if (mode === 'json') {
    const render = jsonRenderer(stdout.write);
    return (event) => render({ ...event, app } as ShipEvent);
  }
  return plainRenderer((text) => stdout.write(text.replace(/^(?=.)/gm, `[${app}] `)));
}
