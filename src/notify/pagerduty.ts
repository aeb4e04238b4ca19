import { registerSecret } from '../util/redact.js';
import type { HttpRequest } from './http.js';
import { excerpt, headline, isAbsoluteUrl } from './message.js';
import type { Notifier, RunNotice } from './notifier.js';

export type PagerDutySeverity = 'critical' | 'error' | 'warning' | 'info';

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
