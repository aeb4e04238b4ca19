import type { LintReport } from '../types.js';
import { formatGithub } from './github.js';
import { formatJson } from './json.js';
import { formatText } from './text.js';

export const OUTPUT_FORMATS = ['text', 'github', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function formatReport(report: LintReport, format: OutputFormat): string {
  switch (format) {
    case 'text':
      return formatText(report);
    case 'github':
      return formatGithub(report);
    case 'json':
      return formatJson(report);
  }
}
