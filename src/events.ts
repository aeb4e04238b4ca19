import type { Coded } from './errors/coded.js';

/**
 * The core's only output. Renderers (listr2, plain lines, NDJSON), and later the journal and
 * notifiers, subscribe; the core never prints.
 */
export type InstanceState =
  | 'in-service'
  | 'draining'
  | 'out'
  | 'activating'
  | 'verifying'
  | 'registering'
  | 'rolling-back'
  | 'failed-out'
  | 'reloading';

export type Phase = 'stage' | 'activate' | 'verify' | 'rollback' | 'reload';

export type ShipEventBody =
  | {
      type: 'run.started';
      command: string;
      app: string;
      version?: string;
      hosts: string[];
      /** Where each host came from: the config's hosts or the EC2 inventory. */
      sources: Record<string, 'config' | 'ec2'>;
      batches: string[][];
      dryRun: boolean;
    }
  | {
      type: 'plan';
      playbook: string;
      batches: Array<{ hosts: string[]; canary: boolean }>;
      phases: Record<'stage' | 'activate' | 'verify' | 'rollback', string[]>;
      minHealthy: number;
      reloadInPlace: boolean;
    }
  | ({ type: 'preflight.check'; name: string; status: 'passed' | 'failed' | 'warning'; detail: string } & Coded)
  | { type: 'stage.started'; hosts: string[] }
  | { type: 'stage.finished'; durationMs: number }
  | { type: 'batch.started'; index: number; total: number; hosts: string[]; canary: boolean }
  | { type: 'batch.finished'; index: number; durationMs: number; failed: string[] }
  | { type: 'capacity.checked'; healthy: number; total: number; takingOut: number; minHealthy: number }
  | { type: 'capacity.waiting'; healthy: number; needed: number; detail: string }
  | { type: 'instance.state'; host: string; from: InstanceState; to: InstanceState }
  | { type: 'instance.drained'; host: string; durationMs: number; timedOut: boolean; detail: string }
  | ({ type: 'instance.finished'; host: string; outcome: HostSummary['outcome']; outOfRotationMs: number; durationMs: number; error?: string } & Coded)
  | { type: 'step.started'; host: string; phase: Phase; step: string; attempt: number }
  | ({ type: 'step.finished'; host: string; phase: Phase; step: string; durationMs: number; ok: boolean; skipped?: boolean; exitCode?: number; error?: string } & Coded)
  | { type: 'output'; host: string; stream: 'stdout' | 'stderr'; line: string }
  | { type: 'health.passed'; host: string; check: string; durationMs: number; attempts: number }
  | ({ type: 'health.failed'; host: string; check: string; detail: string } & Coded)
  | { type: 'lb.healthy'; host: string; durationMs: number }
  | ({ type: 'interrupt'; graceful: boolean; outOfRotation: string[]; restoreCommand?: string } & Coded)
  | ({ type: 'warning'; host?: string; message: string } & Coded)
  | { type: 'run.finished'; status: RunStatus; durationMs: number; summary: RunSummary };

/**
 * 'incomplete': the maintenance window (--window) ended before every batch had started.
 * 'checked': `ship check` passed every pre-flight check and changed nothing.
 */
export type RunStatus = 'succeeded' | 'failed' | 'refused' | 'interrupted' | 'planned' | 'incomplete' | 'checked';

export interface HostSummary {
  host: string;
  /** 'skipped': the playbook found nothing to do there; the host never left the load balancer. */
  outcome: 'deployed' | 'rolled-back' | 'failed-out' | 'put-back' | 'not-started' | 'reloaded' | 'skipped' | 'failed-in-place';
  outOfRotationMs: number;
  timeToHealthyMs: number;
  error?: string;
  /** What the playbook's steps captured on the host (e.g. packages upgraded), for reports. */
  facts?: Record<string, string>;
  /** With an error: its stable code (SHIP-E0xx) and the runbook section for it. */
  code?: string;
  runbook?: string;
}

export interface RunSummary {
  hosts: HostSummary[];
  /** Instances still out of the load balancer when the run ended: each needs a person. */
  outOfRotation: string[];
  error?: string;
  /** With an error: its stable code (SHIP-E0xx) and the runbook section for it. */
  code?: string;
  runbook?: string;
}

export type ShipEvent = ShipEventBody & { time: string; runId: string };

export type Listener = (event: ShipEvent) => void;

export class EventBus {
  private readonly listeners: Listener[] = [];

  constructor(readonly runId: string) {}

  subscribe(listener: Listener): () => void {
    this.listeners.push(listener);
    return () => {
      const index = this.listeners.indexOf(listener);
      if (index >= 0) this.listeners.splice(index, 1);
    };
  }

  emit(body: ShipEventBody): void {
    const event = { ...body, time: new Date().toISOString(), runId: this.runId } as ShipEvent;
    for (const listener of this.listeners) listener(event);
  }
}
