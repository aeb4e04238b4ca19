/**
 * Every notifier type ship knows, one line each. The `notify` config section, its documentation,
 * `ship init`'s example and the notifier hub are all composed from this list.
 */
import { pagerdutyAdapter } from './pagerduty.js';
import { slackAdapter } from './slack.js';
import { webhookAdapter } from './webhook.js';

export const NOTIFIERS = [slackAdapter, pagerdutyAdapter, webhookAdapter] as const;
