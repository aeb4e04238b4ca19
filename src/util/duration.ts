import ms from 'ms';

/** Parses '500ms', '30s', '2m', '1h' (or a number of milliseconds). Returns undefined when unparseable. */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (!/^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)\s*$/i.test(value)) return undefined;
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
