import ms from 'ms';

/**
 * The longest wait ship accepts: Node keeps timer delays as signed 32-bit milliseconds, and a
 * longer one (setTimeout, AbortSignal.timeout) fires at once instead, so a '25d' timeout would
 * fail every step immediately. About 24.8 days.
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;
const MAX_DURATION_TEXT = `${MAX_DURATION_MS}ms (about 24.8 days; Node's timers cannot wait longer)`;

export type DurationReading = { ok: true; ms: number } | { ok: false; problem: string };

/**
 * Reads '500ms', '30s', '2m', '1h', '1d' (or a number of milliseconds), between 0 and
 * MAX_DURATION_MS. A refusal says what was wrong, for the caller to prefix with the field or flag.
 */
export function readDuration(value: unknown, example = "'500ms', '30s' or '2m'"): DurationReading {
  const parsed = parseUnbounded(value);
  if (parsed === undefined) return { ok: false, problem: `expected a duration like ${example}, got ${JSON.stringify(value)}` };
  if (parsed > MAX_DURATION_MS) return { ok: false, problem: `${JSON.stringify(value)} is too long: at most ${MAX_DURATION_TEXT}` };
  return { ok: true, ms: parsed };
}

function parseUnbounded(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string' || !/^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)\s*$/i.test(value)) return undefined;
  const parsed = ms(value.trim() as ms.StringValue);
  return typeof parsed === 'number' && Number.isFinite(parsed) ? parsed : undefined;
}

export function formatDuration(milliseconds: number): string {
  if (milliseconds < 1000) return `${Math.round(milliseconds)}ms`;
  if (milliseconds < 60_000) return `${(milliseconds / 1000).toFixed(2)}s`;
  const minutes = Math.floor(milliseconds / 60_000);
  return `${minutes}m${Math.round((milliseconds % 60_000) / 1000)}s`;
}

/** '25%' of a total, or an absolute count; percentages round up so a floor is never undercut. */
export function resolveCount(value: string | number, total: number): number {
  if (typeof value === 'number') return value;
  const match = /^(\d+(?:\.\d+)?)%$/.exec(value.trim());
  if (!match) throw new Error(`not a count or percentage: ${value}`);
  return Math.ceil((Number(match[1]) / 100) * total);
}
