import { z } from 'zod';
import { secret } from '../config/fields.js';
import { registerSecret } from '../util/redact.js';
import { defineNotifier } from './adapter.js';
import type { HttpRequest } from './http.js';
import { excerpt, headline, isAbsoluteUrl } from './message.js';
import type { Notifier, RunNotice } from './notifier.js';

const SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;
export type PagerDutySeverity = (typeof SEVERITIES)[number];

export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';
/** The Events API's limit for payload.summary. */
const SUMMARY_LIMIT = 1024;

/**
 * One open incident per app: every failing run of the app triggers (or adds to) the same alert,
 * and the next run of the app that succeeds resolves it, without ship having to remember the
 * failing run. The failing run's id is in the alert's custom details.
 */
export function pagerDutyDedupKey(app: string): string {
  return `ship/${app}`;
}

/** PagerDuty Events API v2: trigger on failure (and on an abort that left instances out), resolve on success. */
export class PagerDutyNotifier implements Notifier {
  readonly name = 'pagerduty';

  constructor(
    private readonly routingKey: string,
    private readonly severity: PagerDutySeverity = 'error',
    private readonly url: string = PAGERDUTY_EVENTS_URL,
  ) {
    registerSecret(routingKey);
  }

  request(notice: RunNotice): HttpRequest | undefined {
    const body = this.event(notice);
    if (!body) return undefined;
    return { url: this.url, headers: { 'content-type': 'application/json', 'user-agent': 'ship' }, body: JSON.stringify(body) };
  }

  event(notice: RunNotice): Record<string, unknown> | undefined {
    const base = { routing_key: this.routingKey, dedup_key: pagerDutyDedupKey(notice.app) };
    if (notice.trigger === 'success') return { ...base, event_action: 'resolve' };
    // An abort that put every instance back leaves nothing for a person to do at 3 am.
    const needsPerson = notice.trigger === 'failure' || (notice.trigger === 'abort' && notice.outOfRotation.length > 0);
    if (!needsPerson) return undefined;
    return {
      ...base,
      event_action: 'trigger',
      client: 'ship',
      ...(notice.code && isAbsoluteUrl(notice.code.runbook) ? { links: [{ href: notice.code.runbook, text: `Runbook: ${notice.code.code} ${notice.code.title}` }] } : {}),
      payload: {
        summary: excerpt(headline(notice) + (notice.outOfRotation.length ? `; out of the load balancer: ${notice.outOfRotation.join(', ')}` : ''), SUMMARY_LIMIT),
        severity: this.severity,
        source: notice.app,
        component: notice.app,
        group: notice.command,
        ...(notice.code ? { class: notice.code.code } : {}),
        timestamp: notice.time,
        custom_details: {
          run_id: notice.runId,
          command: notice.command,
          ...(notice.version ? { version: notice.version } : {}),
          status: notice.status,
          ...(notice.code ? { code: notice.code.code, title: notice.code.title, runbook: notice.code.runbook } : {}),
          ...(notice.error ? { error: excerpt(notice.error, 4000) } : {}),
          out_of_rotation: notice.outOfRotation,
          ...(notice.restoreCommand && notice.outOfRotation.length ? { restore_command: notice.restoreCommand } : {}),
          failed_hosts: notice.failedHosts,
        },
      },
    };
  }
}

export const pagerdutyAdapter = defineNotifier({
  key: 'pagerduty',
  schema: z.strictObject({
    routingKey: secret(),
    severity: z.enum(SEVERITIES).default('error'),
    url: z.string().url().default(PAGERDUTY_EVENTS_URL),
  }),
  description:
    "PagerDuty Events API v2: triggers on failure (and on an abort that left instances out), resolves on the app's next success. The dedup key is `ship/<app>`: one incident per app.",
  fields: {
    routingKey: "The integration's routing key, usually `env('PAGERDUTY_ROUTING_KEY')`.",
    severity: 'Severity of triggered alerts.',
    url: 'Events API endpoint; the EU service region uses `https://events.eu.pagerduty.com/v2/enqueue`.',
  },
  initExample: 'pagerduty: { routingKey: process.env.PAGERDUTY_ROUTING_KEY }, // triggers on failure, resolves on the next success',
  create: (config) => new PagerDutyNotifier(config.routingKey, config.severity, config.url),
});
