/**
 * The seam between a batch's bake and what judges it. Each source is one file: HAProxy's counters
 * (./counters.ts), the load balancer's own health view (./lb-health.ts), CloudWatch alarms
 * (./alarms.ts), a command of the team's (./command.ts). A source that cannot be read throws: the
 * bake then fails closed (SHIP-E057), it never passes a batch it could not look at.
 */
import { ERROR_CODES, type CodedError } from '../../errors/codes.js';
import type { Finding } from './verdict.js';

/** The batch being baked, and the servers it is compared with. */
export interface BakeScope {
  /** The batch's number in the run. */
  index: number;
  canary: boolean;
  /** Host names, for messages and the command's environment. */
  hosts: string[];
  /** Their load-balancer names. */
  members: string[];
  /** Load-balancer names of the servers this run has not changed: the baseline the batch is compared with. */
  untouched: string[];
}

export interface AnalysisSource {
  readonly name: string;
  /** At the start of the bake (a first counter reading). */
  begin?(): Promise<void>;
  /** On every tick of the bake: a 'fail' finding ends the bake at once. Cheap, read often. */
  watch?(): Promise<Finding | undefined>;
  /** At the end of the bake, and again on each tick of an extension while it said 'short'. */
  judge(): Promise<Finding>;
}

/** The sources that judge one batch; made anew for each bake. */
export type AnalysisSources = (scope: BakeScope) => AnalysisSource[];

/** A source of the analysis could not be read or run: the batch cannot be judged. */
export class AnalysisError extends Error implements CodedError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AnalysisError';
  }

  get shipCode() {
    return ERROR_CODES.analysisUnavailable;
  }
}
