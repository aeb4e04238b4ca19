import { z } from 'zod';
import { secret } from '../config/fields.js';
import { registerSecret } from '../util/redact.js';
import { defineNotifier } from './adapter.js';
import type { HttpRequest } from './http.js';
import { excerpt, headline, isAbsoluteUrl } from './message.js';
import type { Notifier, RunNotice } from './notifier.js';

const ICONS = { start: ':rocket:', success: ':white_check_mark:', failure: ':rotating_light:', abort: ':warning:' } as const;
/** Slack's limit for a section's text is 3000 characters. */
const SECTION_LIMIT = 2900;

/** Slack's mrkdwn treats &, < and > as markup. */
function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The message body: `text` for notifications and old clients, `blocks` for the channel. */
export function slackMessage(notice: RunNotice): { text: string; blocks: unknown[] } {
  const title = `${ICONS[notice.trigger]} ${headline(notice)}`;
  const lines: string[] = [];
  if (notice.code) {
    const label = `${notice.code.code} ${notice.code.title}`;
    lines.push(
      isAbsoluteUrl(notice.code.runbook)
        ? `*Runbook:* <${notice.code.runbook}|${escapeMrkdwn(label)}>`
        : `*Runbook:* ${escapeMrkdwn(label)} (${escapeMrkdwn(notice.code.runbook)})`,
    );
  }
  if (notice.analysis) lines.push(`*Canary analysis:* ${escapeMrkdwn(notice.analysis.line)}`);
  if (notice.outOfRotation.length > 0) lines.push(`*Still out of the load balancer:* ${escapeMrkdwn(notice.outOfRotation.join(', '))}`);
  if (notice.restoreCommand && notice.outOfRotation.length > 0) lines.push(`*Put them back:* \`${escapeMrkdwn(notice.restoreCommand)}\``);
  if (notice.error) lines.push(`\`\`\`${escapeMrkdwn(excerpt(notice.error, 1500))}\`\`\``);
  const body = excerpt([`*${escapeMrkdwn(headline(notice))}*`, ...lines].join('\n'), SECTION_LIMIT);
  return {
    text: title,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `${ICONS[notice.trigger]} ${body}` } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: escapeMrkdwn(`run ${notice.runId} · ${notice.hosts.length} host(s) · ${notice.time}`) }] },
    ],
  };
}

/** A Slack incoming webhook. Its URL is the credential: registered as a secret, never shown. */
export class SlackNotifier implements Notifier {
  readonly name = 'slack';

  constructor(private readonly webhookUrl: string) {
    registerSecret(webhookUrl);
  }

  request(notice: RunNotice): HttpRequest {
    return {
      url: this.webhookUrl,
      headers: { 'content-type': 'application/json', 'user-agent': 'ship' },
      body: JSON.stringify(slackMessage(notice)),
    };
  }
}

export const slackAdapter = defineNotifier({
  key: 'slack',
  schema: z.strictObject({ webhookUrl: secret() }),
  description: 'A Slack incoming webhook.',
  fields: { webhookUrl: "The incoming webhook URL (it is the credential), usually `env('SLACK_WEBHOOK_URL')`." },
  initExample: 'slack: { webhookUrl: process.env.SLACK_WEBHOOK_URL },',
  create: (config) => new SlackNotifier(config.webhookUrl),
});
