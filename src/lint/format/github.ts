import type { LintReport } from '../types.js';

/**
 * GitHub Actions workflow commands (`::error file=...,line=...,col=...,title=...::message`),
 * which the runner turns into annotations on the pull request's changed lines.
 */
export function formatGithub(report: LintReport): string {
  const lines = report.findings.map((finding) => {
    const properties = [
      `file=${escapeProperty(finding.file)}`,
      `line=${finding.line}`,
      `col=${finding.column}`,
      `title=${escapeProperty(`${finding.ruleId} (${finding.category})`)}`,
    ].join(',');
    const body = finding.safeAlternative ? `${finding.message}\nSafe alternative:\n${finding.safeAlternative}` : finding.message;
    return `::${finding.severity === 'error' ? 'error' : 'warning'} ${properties}::${escapeData(body)}`;
  });
  lines.push(`ship lint-migrations: ${report.errorCount} error(s), ${report.warningCount} warning(s), ${report.suppressed.length} suppressed`);
  return `${lines.join('\n')}\n`;
}

function escapeData(value: string): string {
  return value.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function escapeProperty(value: string): string {
  return escapeData(value).replace(/:/g, '%3A').replace(/,/g, '%2C');
}
