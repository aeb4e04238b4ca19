import { formatDuration } from '../util/duration.js';
import type { RunNotice } from './notifier.js';

const STATUS_WORDS: Record<string, string> = {
  succeeded: 'succeeded',
  failed: 'FAILED',
  refused: 'REFUSED before any change',
  interrupted: 'INTERRUPTED',
  incomplete: 'INCOMPLETE: the maintenance window ended',
};

/** `ship deploy storefront 1.4.2: FAILED after 3m2s (SHIP-E015)`: one line, the first thing a phone shows. */
export function headline(notice: RunNotice): string {
  const what = `ship ${notice.command} ${notice.app}${notice.version ? ` ${notice.version}` : ''}`;
  if (notice.trigger === 'start') return `${what}: started on ${notice.hosts.length} host(s)`;
  const status = STATUS_WORDS[notice.status ?? ''] ?? notice.status ?? notice.trigger;
  const took = notice.durationMs !== undefined ? ` after ${formatDuration(notice.durationMs)}` : '';
  return `${what}: ${status}${took}${notice.code ? ` (${notice.code.code})` : ''}`;
}

/** The first lines of an error: enough to act on, short enough for a notification. */
export function excerpt(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars - 1)}…`;
}

export function isAbsoluteUrl(link: string): boolean {
  return /^https?:\/\//i.test(link);
}
