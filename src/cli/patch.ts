import { writeFile } from 'node:fs/promises';
import type { CommandModule } from 'yargs';
import { loadConfig } from '../config/load.js';
import { roll } from '../commands/deploy.js';
import { UsageError } from '../commands/errors.js';
import { formatPatchReport } from '../patch/format.js';
import { combineReports, PatchRunCollector } from '../patch/report.js';
import { parseDuration } from '../util/duration.js';
import { appsToRoll, commonRollOptions, exitCodeFor, rollApps, type AppRollArgs } from './app-rolls.js';
import { appOption } from './app-option.js';
import { rollOptions } from './deploy.js';

interface PatchArgs extends AppRollArgs {
  window?: string;
  report?: string;
}

function windowEnd(window: string | undefined): number | undefined {
  if (window === undefined) return undefined;
  const ms = parseDuration(window);
  if (ms === undefined || ms <= 0) throw new UsageError(`--window ${JSON.stringify(window)}: expected a duration like '45m' or '2h'`);
  return Date.now() + ms;
}

/**
 * `ship patch`: the security-patch playbook (or the config's `playbooks.patch`) through the
 * rolling procedure, for one app or every app; then the patch report, as text and as JSON.
 */
async function runPatch(args: PatchArgs): Promise<number> {
  const windowEndsAt = windowEnd(args.window);
  const common = commonRollOptions(args);
  const apps = appsToRoll(await loadConfig(args.config), args);
  const startedAt = new Date();
  const collectors: PatchRunCollector[] = [];
  const { rolls, mode } = await rollApps(
    args,
    apps,
    (loaded, context) =>
      roll({ loaded, playbook: 'patch', command: 'patch', ...common, ...context, ...(windowEndsAt !== undefined ? { windowEndsAt } : {}) }),
    (app, bus) => collectors.push(new PatchRunCollector(app, bus)),
  );
  const report = combineReports(
    collectors.map((collector) => collector.report(rolls.find((r) => r.app === collector.app)?.error?.message)),
    startedAt,
    new Date(),
  );
  if (args.report) await writeFile(args.report, JSON.stringify(report, null, 2) + '\n');
  if (mode !== 'json' && !common.dryRun) process.stdout.write(`\n${formatPatchReport(report)}\n`);
  return exitCodeFor(report.apps.map((a) => a.status), report.failedHosts.length);
}

export const patchCommand: CommandModule<{ config: string; json?: boolean }, PatchArgs> = {
  command: 'patch',
  describe: 'install OS security updates one batch at a time, rebooting where needed, and report what changed',
  builder: (yargs) =>
    appOption(rollOptions(yargs))
      .option('all', { type: 'boolean', describe: 'patch every app of the config in parallel (each one batch at a time), with one report' })
      .option('window', { type: 'string', describe: "maintenance window, e.g. '45m': no batch starts after it ends (exit 4 names what was left)" })
      .option('report', { type: 'string', describe: 'also write the patch report as JSON to this file' }),
  handler: async (args) => {
    process.exitCode = await runPatch(args);
  },
};
