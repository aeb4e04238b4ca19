import type { Finding, LintReport } from '../types.js';

/** Human-readable report: each finding with the offending line and a caret under the column. */
export function formatText(report: LintReport): string {
  const blocks = report.findings.map(formatFinding);
  const summary = `${plural(report.errorCount, 'error')}, ${plural(report.warningCount, 'warning')} in ${plural(report.files.length, 'file')} (${plural(report.statementCount, 'statement')} checked${report.suppressed.length ? `, ${report.suppressed.length} suppressed` : ''})`;
  return `${[...blocks, summary].join('\n\n')}\n`;
}

function formatFinding(finding: Finding): string {
  const gutter = String(finding.line);
  const pad = ' '.repeat(gutter.length);
  // Tabs keep their width in the caret line so the caret lands under the right character.
  const lead = finding.sourceLine.slice(0, finding.column - 1).replace(/[^\t]/g, ' ');
  const lines = [
    `${finding.file}:${finding.line}:${finding.column}: ${finding.severity} [${finding.ruleId}] (${finding.category})`,
    `  ${finding.message}`,
    `  ${gutter} | ${finding.sourceLine}`,
    `  ${pad} | ${lead}^`,
  ];
  if (finding.safeAlternative) {
    lines.push('  Safe alternative:', ...finding.safeAlternative.split('\n').map((step) => `    ${step}`));
  }
  return lines.join('\n');
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
