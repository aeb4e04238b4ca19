import type { NotifyConfig } from '../config/schema.js';
import { NotifierHub, type Notifier } from './notifier.js';
import { PagerDutyNotifier } from './pagerduty.js';
import { SlackNotifier } from './slack.js';
import { WebhookNotifier } from './webhook.js';

/** The hub for the config's `notify` section, or undefined when nobody is to be told. */
export function notifierHubFor(config: NotifyConfig | undefined): NotifierHub | undefined {
  if (!config) return undefined;
  const notifiers: Notifier[] = [];
  if (config.slack) notifiers.push(new SlackNotifier(config.slack.webhookUrl));
  if (config.pagerduty) notifiers.push(new PagerDutyNotifier(config.pagerduty.routingKey, config.pagerduty.severity, config.pagerduty.url));
  if (config.webhook) {
    notifiers.push(
      new WebhookNotifier({
        url: config.webhook.url,
        ...(config.webhook.secret ? { secret: config.webhook.secret } : {}),
        ...(config.webhook.headers ? { headers: config.webhook.headers } : {}),
      }),
    );
  }
  if (notifiers.length === 0) return undefined;
  return new NotifierHub(notifiers, {
    on: config.on,
    timeoutMs: config.timeout,
    retries: config.retries,
    ...(config.runbookUrl ? { runbookUrl: config.runbookUrl } : {}),
  });
}
