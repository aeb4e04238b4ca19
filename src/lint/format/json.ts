import type { LintReport } from '../types.js';

/** The whole report as one JSON document, for tools and dashboards. */
export function formatJson(report: LintReport): string {
  return `${JSON.stringify(report)}\n`;
}
