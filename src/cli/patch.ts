import { writeFile } from 'node:fs/promises';
import type { CommandModule } from 'yargs';
import { COMMAND_LINES } from './commands.js';
import { loadConfig } from '../config/load.js';
import { rollingRun } from '../commands/pipeline/rolling-run.js';
import { UsageError } from '../commands/errors.js';
import { formatPatchReport } from '../patch/format.js';
import { combineReports, PatchRunCollector } from '../patch/report.js';
import { readDuration } from '../util/duration.js';
import { redactDeep } from '../util/redact.js';
import { appOption } from './app-option.js';
import { worstExitCode, EXIT } from './exit-codes.js';
import { runPipeline } from './pipeline.js';
import { appsToRoll, parseRollFlags, rollOptions, type RollArgs } from './roll-flags.js';
import { stdout } from './stdout.js';

interface PatchArgs extends RollArgs {
  window?: string;
  report?: string;
}

function windowEnd(window: string | undefined): number | undefined {
  if (window === undefined) return undefined;
  const reading = readDuration(window, "'45m' or '2h'");
  if (!reading.ok) throw new UsageError(`--window: ${reading.problem}`);
  if (reading.ms <= 0) throw new UsageError(`--window ${JSON.stringify(window)}: a window of no time starts no batch; give a duration like '45m' or '2h'`);
  return Date.now() + reading.ms;
}

/**
 * `ship patch`: the security-patch playbook (or the config's `playbooks.patch`) through the
 * pipeline, for one app or every app; then the patch report, as text and as JSON.
 */
async function runPatch(args: PatchArgs): Promise<number> {
  const windowEndsAt = windowEnd(args.window);
  const flags = parseRollFlags(args);
  const apps = appsToRoll(await loadConfig(args.config), args);
  const startedAt = new Date();
  const collectors: PatchRunCollector[] = [];
  const { runs, mode, exitCode } = await runPipeline({
    args,
    apps,
    command: 'patch',
    run: (loaded, context) =>
      rollingRun({ loaded, work: { kind: 'playbook', playbook: 'patch' }, command: 'patch', ...flags, ...context, ...(windowEndsAt !== undefined ? { windowEndsAt } : {}) }),
    observe: (app, bus) => collectors.push(new PatchRunCollector(app, bus)),
  });
  // Scrubbed as data before it is written or printed: an app's error message is not an event, so the bus did not scrub it.
  const report = redactDeep(
    combineReports(
      collectors.map((collector) => collector.report(runs.find((r) => r.app === collector.app)?.error?.message)),
      startedAt,
      new Date(),
    ),
  );
  if (args.report) await writeFile(args.report, `${JSON.stringify(report, null, 2)}\n`);
  if (mode !== 'json' && !flags.dryRun) stdout.write(`\n${formatPatchReport(report)}\n`);
  // A host that failed to patch fails the run even where its app's run carried on (maxFailures).
  return worstExitCode([exitCode, report.failedHosts.length > 0 ? EXIT.rolloutFailed : EXIT.ok]);
}

export const patchCommand: CommandModule<{ config: string; json?: boolean }, PatchArgs> = {
  ...COMMAND_LINES.patch,
  builder: (yargs) =>
    appOption(rollOptions(yargs))
      .option('all', { type: 'boolean', describe: 'patch every app of the config in parallel (each one batch at a time), with one report' })
      .option('window', { type: 'string', describe: "maintenance window, e.g. '45m': no batch starts after it ends (exit 4 names what was left)" })
      .option('report', { type: 'string', describe: 'also write the patch report as JSON to this file' }),
  handler: async (args) => {
    process.exitCode = await runPatch(args);
  },
};
