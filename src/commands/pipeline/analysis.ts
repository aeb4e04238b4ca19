/**
 * The analysis a run's bakes are judged by, built from the config: HAProxy's counters where the
 * load balancer keeps them, CloudWatch alarms (in the ELBv2 load balancer's region), the team's
 * command run on this machine in the config's folder. Clients are made on first use, so `ship
 * plan` never loads the CloudWatch SDK.
 */
import type { LoadedConfig } from '../../config/load.js';
import type { LoadBalancer } from '../../lb/load-balancer.js';
import type { PreflightCheck } from '../../preflight/preflight.js';
import { alarmsSource, type AlarmReader } from '../../rollout/analysis/alarms.js';
import { commandSource, type CommandRunner } from '../../rollout/analysis/command.js';
import { countersSource } from '../../rollout/analysis/counters.js';
import { analysisSettings, describeAnalysis, type AnalysisSettings } from '../../rollout/analysis/settings.js';
import type { AnalysisSource, AnalysisSources } from '../../rollout/analysis/source.js';
import { sh, unsafeRaw } from '../../shell/sh.js';
import { LocalTransport } from '../../transport/local.js';

export interface AnalysisPlan {
  /** What judges each bake, for `ship plan` and the plan event. */
  readonly lines: string[];
  readonly settings?: AnalysisSettings;
  /** The sources of one bake, reading the load balancer the run opened. */
  sources(lb: LoadBalancer): AnalysisSources;
  /** Pre-flight: every signal can be read before anything changes (HAProxy's counters, each alarm exists). */
  check(lb: LoadBalancer): PreflightCheck;
  close(): Promise<void>;
}

/** Shell text on this machine, in `cwd`, with the batch's variables exported; its output's end for the verdict. */
function localRunner(cwd: string): CommandRunner {
  return async (command, env, timeoutMs) => {
    const transport = new LocalTransport({ host: 'this machine', cwd });
    try {
      const exports = Object.entries(env).map(([name, value]) => sh`${unsafeRaw(name)}=${value}`);
      const result = await transport.exec(sh`export ${exports}; ${unsafeRaw(command)}`, { timeoutMs });
      return { code: result.code, output: `${result.stdout}\n${result.stderr}` };
    } finally {
      await transport.close();
    }
  };
}

export function analysisPlan(loaded: LoadedConfig, version: string | undefined): AnalysisPlan {
  const { config } = loaded;
  const lbConfig = config.loadBalancer;
  const settings = analysisSettings(config.rollout.analysis, lbConfig.type);
  let alarms: Promise<{ read: AlarmReader; destroy(): void }> | undefined;
  const alarmReader = (): Promise<{ read: AlarmReader; destroy(): void }> => {
    if (lbConfig.type !== 'elbv2') throw new Error('CloudWatch alarms need an elbv2 load balancer (refused at config load)');
    alarms ??= import('../../aws/cloudwatch-api.js').then(({ CloudWatchAlarms }) => {
      const client = new CloudWatchAlarms({ region: lbConfig.region, ...(lbConfig.endpoint ? { endpoint: lbConfig.endpoint } : {}), maxAttempts: lbConfig.maxAttempts });
      return { read: (names) => client.states(names), destroy: () => client.destroy() };
    });
    return alarms;
  };
  const readAlarms: AlarmReader = async (names) => (await alarmReader()).read(names);
  const env = { SHIP_APP: config.app, ...(version ? { SHIP_VERSION: version } : {}) };
  return {
    lines: describeAnalysis(config.rollout.bake, settings),
    ...(settings ? { settings } : {}),
    sources: (lb) => (scope) => {
      const sources: AnalysisSource[] = [];
      if (settings?.counters && lb.counters) sources.push(countersSource((names) => lb.counters!(names), scope, settings.counters));
      if (settings?.alarms) sources.push(alarmsSource(readAlarms, settings.alarms));
      if (settings?.command) sources.push(commandSource(localRunner(loaded.dir), scope, { ...settings.command, env }));
      return sources;
    },
    check: (lb) => ({
      name: 'canary analysis',
      async run() {
        if (!settings) return 'none configured';
        const said: string[] = [];
        if (settings.counters) {
          if (!lb.counters) throw new Error(`the ${lb.kind} load balancer keeps no per-server counters to judge a bake by`);
          await lb.counters([]);
          said.push(`${lb.kind} counters readable`);
        }
        if (settings.alarms) {
          const source = alarmsSource(readAlarms, settings.alarms);
          const finding = await source.judge();
          // Already firing before anything changed: the first bake could only fail.
          if (finding.verdict === 'fail') throw new Error(`${finding.detail}, before anything changed`);
          said.push(finding.detail);
        }
        if (settings.command) said.push(`command ${settings.command.run} (run at the end of each bake)`);
        return said.join('; ');
      },
    }),
    async close() {
      if (alarms) (await alarms.catch(() => undefined))?.destroy();
    },
  };
}
