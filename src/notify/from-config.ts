import type { NotifyConfig } from './config.js';
import { NotifierHub, type Notifier } from './notifier.js';
import { NOTIFIERS } from './registry.js';
import type { NotifierAdapter } from './adapter.js';

/** The hub for the config's `notify` section, or undefined when nobody is to be told. */
export function notifierHubFor(config: NotifyConfig | undefined): NotifierHub | undefined {
  if (!config) return undefined;
  const notifiers: Notifier[] = [];
  for (const adapter of NOTIFIERS as ReadonlyArray<NotifierAdapter>) {
    const section = (config as Record<string, unknown>)[adapter.key];
    // The schema gave this key this adapter's schema, so a present section is its parsed config.
    if (section !== undefined) notifiers.push(adapter.create(section as never));
  }
  if (notifiers.length === 0) return undefined;
  return new NotifierHub(notifiers, {
    on: config.on,
    timeoutMs: config.timeout,
    retries: config.retries,
    ...(config.runbookUrl ? { runbookUrl: config.runbookUrl } : {}),
  });
}
