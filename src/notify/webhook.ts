import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { secret } from '../config/fields.js';
import { registerSecret } from '../util/redact.js';
import { defineNotifier } from './adapter.js';
import type { HttpRequest } from './http.js';
import type { Notifier, RunNotice } from './notifier.js';

export const SIGNATURE_HEADER = 'x-ship-signature';
export const TIMESTAMP_HEADER = 'x-ship-timestamp';

/**
 * `sha256=<hex>` of HMAC-SHA256 over `<timestamp>.<raw body>`: binding the timestamp lets a
 * receiver refuse replays (an old timestamp) without trusting an unsigned header.
 */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export interface WebhookOptions {
  url: string;
  secret?: string;
  headers?: Record<string, string>;
  /** Seconds since the epoch; replaceable for tests. */
  now?: () => number;
}

/** A generic JSON webhook: the body is the RunNotice (docs/events.md), signed when a secret is set. */
export class WebhookNotifier implements Notifier {
  readonly name = 'webhook';

  constructor(private readonly options: WebhookOptions) {
    registerSecret(options.url);
    registerSecret(options.secret);
    for (const value of Object.values(options.headers ?? {})) registerSecret(value);
  }

  request(notice: RunNotice): HttpRequest {
    const body = JSON.stringify(notice);
    const timestamp = String(Math.floor(this.options.now?.() ?? Date.now() / 1000));
    const headers: Record<string, string> = {
      ...this.options.headers,
      'content-type': 'application/json',
      'user-agent': 'ship',
      'x-ship-event': notice.trigger,
      'x-ship-delivery': notice.deliveryId,
      [TIMESTAMP_HEADER]: timestamp,
    };
    if (this.options.secret) headers[SIGNATURE_HEADER] = webhookSignature(this.options.secret, timestamp, body);
    return { url: this.options.url, headers, body };
  }
}

export const webhookAdapter = defineNotifier({
  key: 'webhook',
  schema: z.strictObject({
    url: secret(),
    secret: secret().optional(),
    headers: z.record(z.string().min(1), secret()).optional(),
  }),
  description: 'A generic webhook: a JSON POST per notice (schema in docs/events.md).',
  fields: {
    url: 'Where to POST.',
    secret: 'Signs each body: header `x-ship-signature: sha256=<hex>`, HMAC-SHA256 over `<x-ship-timestamp>.<raw body>`.',
    headers: 'Extra headers (for example `authorization`); their values are secrets.',
  },
  initExample: 'webhook: { url: process.env.WEBHOOK_URL, secret: process.env.WEBHOOK_SECRET }, // signed JSON POSTs',
  create: (config) =>
    new WebhookNotifier({
      url: config.url,
      ...(config.secret ? { secret: config.secret } : {}),
      ...(config.headers ? { headers: config.headers } : {}),
    }),
});
