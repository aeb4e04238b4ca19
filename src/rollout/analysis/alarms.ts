/**
 * Judges a batch as CodeDeploy does: named CloudWatch alarms must not be in ALARM during the bake.
 * An alarm with INSUFFICIENT_DATA does not stop it (a 5xx-count alarm has no data while nothing
 * fails); one that does not exist does, since nothing would then be watching.
 */
import { AnalysisError, type AnalysisSource } from './source.js';
import type { Finding } from './verdict.js';

export interface AlarmState {
  name: string;
  /** OK, ALARM or INSUFFICIENT_DATA. */
  state: string;
  reason?: string;
}

/** The alarms found of those named; absent names do not exist (in that region and account). */
export type AlarmReader = (names: string[]) => Promise<AlarmState[]>;

export function alarmsSource(read: AlarmReader, names: string[]): AnalysisSource {
  const look = async (): Promise<Finding> => {
    let states: AlarmState[];
    try {
      states = await read(names);
    } catch (error) {
      throw new AnalysisError(`CloudWatch alarms could not be read: ${(error as Error).message}`, { cause: error });
    }
    const missing = names.filter((name) => !states.some((s) => s.name === name));
    if (missing.length > 0) throw new AnalysisError(`CloudWatch has no alarm ${missing.join(', ')}: check rollout.analysis.alarms (names, region, account)`);
    const firing = states.filter((s) => s.state === 'ALARM');
    if (firing.length > 0) {
      return { source: 'alarms', verdict: 'fail', detail: firing.map((s) => `alarm ${s.name} is ALARM${s.reason ? ` (${s.reason})` : ''}`).join('; ') };
    }
    return { source: 'alarms', verdict: 'pass', detail: `alarms ${states.map((s) => `${s.name} ${s.state}`).join(', ')}` };
  };
  return {
    name: 'alarms',
    async watch() {
      const finding = await look();
      return finding.verdict === 'fail' ? finding : undefined;
    },
    judge: look,
  };
}
