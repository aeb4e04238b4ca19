import type { Coded } from './errors/coded.js';
import { redactDeep } from './util/redact.js';

/**
 * The core's only output. Renderers (listr2, plain lines, NDJSON), and later the journal and
 * notifiers, subscribe; the core never prints. Every event is scrubbed of registered secrets
 * (src/util/redact.ts) before a subscriber sees it.
 */
export type InstanceState = 'in-service' | 'draining' | 'out' | 'activating' | 'verifying' | 'registering' | 'rolling-back' | 'failed-out' | 'reloading';

/** `beforeRollout` and `afterRollout` run once per run, not per instance (their events name where they ran). */
export type Phase = 'stage' | 'activate' | 'verify' | 'rollback' | 'reload' | 'beforeRollout' | 'afterRollout';

/** Expand migrations run before the rollout (the old code must live with them), contract ones after it. */
export type MigrationPhase = 'expand' | 'contract';

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
      /** An app with roles: the hosts of each role, in the order the roles are rolled. */
      roles?: Record<string, string[]>;
    }
  | {
      type: 'plan';
      /** The role this plan is of: an app with roles has one plan per role, in rollout order. */
      role?: string;
      playbook: string;
      batches: Array<{ hosts: string[]; canary: boolean }>;
      phases: Record<'beforeRollout' | 'stage' | 'activate' | 'verify' | 'rollback' | 'afterRollout', string[]>;
      minHealthy: number;
      reloadInPlace: boolean;
      /** After each batch: how long it bakes, what judges it, and what a failure does. */
      bake?: { durationMs: number; analysis: string[]; onFailure: 'stop' | 'rollback' };
      /** The image and container a container deploy rolls (`<image>:<version>`). */
      container?: { image: string; name: string; engine: string; keep: number; registry?: string };
      /** The names of the secrets written to every host (never their values), with where each comes from. */
      secrets?: string[];
    }
  | { type: 'migrations.planned'; run: 'ship' | 'command'; expand: string[]; contract: string[]; detail?: string }
  | { type: 'migration.started'; file: string; version: string; phase: MigrationPhase }
  | { type: 'migration.retrying'; file: string; attempt: number; waitMs: number; detail: string }
  | { type: 'migration.applied'; file: string; version: string; phase: MigrationPhase; durationMs: number }
  | ({ type: 'migration.failed'; file: string; version: string; phase: MigrationPhase; error: string } & Coded)
  | { type: 'replicas.waiting'; detail: string }
  | { type: 'replicas.ready'; durationMs: number; detail: string }
  | ({ type: 'preflight.check'; name: string; status: 'passed' | 'failed' | 'warning'; detail: string } & Coded)
  | { type: 'stage.started'; hosts: string[]; role?: string }
  | { type: 'stage.finished'; durationMs: number; role?: string }
  /** `index` and `total` count the batches of one role (of the app, without roles). */
  | { type: 'batch.started'; index: number; total: number; hosts: string[]; canary: boolean; role?: string }
  | { type: 'batch.finished'; index: number; durationMs: number; failed: string[]; role?: string }
  | { type: 'analysis.started'; index: number; hosts: string[]; canary: boolean; bakeMs: number; sources: string[] }
  | { type: 'analysis.extended'; index: number; hosts: string[]; detail: string; untilMs: number }
  | ({
      type: 'analysis.verdict';
      index: number;
      hosts: string[];
      canary: boolean;
      verdict: AnalysisVerdictName;
      /** The verdict in one line, with the numbers that decided it. */
      line: string;
      durationMs: number;
      requests?: number;
      errors?: number;
      rate?: number;
      fleetRequests?: number;
      fleetErrors?: number;
      fleetRate?: number;
      findings: Array<{ source: string; verdict: string; detail: string }>;
    } & Coded)
  | { type: 'rollback.started'; reason: string; batches: string[][] }
  | { type: 'rollback.finished'; durationMs: number; complete: boolean; hosts: Array<{ host: string; outcome: HostSummary['outcome']; release?: string }> }
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
  | { type: 'lb.healthy'; host: string; durationMs: number; detail?: string }
  | ({ type: 'interrupt'; graceful: boolean; outOfRotation: string[]; restoreCommand?: string } & Coded)
  | ({ type: 'warning'; host?: string; message: string } & Coded)
  | { type: 'run.finished'; status: RunStatus; durationMs: number; summary: RunSummary };

/** 'inconclusive': not enough requests to judge; 'unreadable': a source of the analysis failed. Only 'pass' lets the run go on. */
export type AnalysisVerdictName = 'pass' | 'fail' | 'inconclusive' | 'unreadable';

/** The verdict of one batch's bake, as summaries and notifications carry it. */
export interface AnalysisVerdict {
  /** The batch's number in the run (1 is the canary when there is one). */
  batch: number;
  hosts: string[];
  canary: boolean;
  verdict: AnalysisVerdictName;
  /** The verdict in one line, with the numbers that decided it. */
  line: string;
  requests?: number;
  errors?: number;
  rate?: number;
  fleetRequests?: number;
  fleetErrors?: number;
  fleetRate?: number;
}

/**
 * The load balancer's settings made the hosts wait: the medians it was judged on, and one line
 * naming the settings read and the one to change.
 */
export interface LoadBalancerWaitNote {
  /** Median per host of the time from being put back to the load balancer agreeing it is healthy. */
  medianWaitMs: number;
  /** Median per host of the time out of rotation. */
  medianOutOfRotationMs: number;
  line: string;
}

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
  /** Of the time out of rotation, how long it waited for the load balancer: its drain, and its own health checks once put back. */
  lbWaitMs?: number;
  error?: string;
  /** What the playbook's steps captured on the host (e.g. packages upgraded), for reports. */
  facts?: Record<string, string>;
  /** The release the host ends the run on, where ship knows it: the version deployed, or the one a rollback went back to. */
  release?: string;
  /** With an error: its stable code (SHIP-E0xx) and the runbook section for it. */
  code?: string;
  runbook?: string;
}

export interface RunSummary {
  hosts: HostSummary[];
  /** Migrations this run applied, and those it left pending (contract ones when the rollout did not finish). */
  migrations?: { applied: string[]; pending: string[] };
  /** Instances still out of the load balancer when the run ended: each needs a person. */
  outOfRotation: string[];
  /** The last bake's verdict: the one that stopped the run, or the last batch's pass. */
  analysis?: AnalysisVerdict;
  /** Said once per run when waiting for the load balancer's own checks was most of the hosts' time out of rotation. */
  loadBalancerWait?: LoadBalancerWaitNote;
  error?: string;
  /** With an error: its stable code (SHIP-E0xx) and the runbook section for it. */
  code?: string;
  runbook?: string;
}

export type ShipEvent = ShipEventBody & { time: string; runId: string };

export type Listener = (event: ShipEvent) => void;

/** Told when a subscriber throws: the run goes on regardless, this only decides what to say. */
export type ListenerFailure = (error: unknown, subscriber: string, event: ShipEvent) => void;

interface Subscription {
  listener: Listener;
  name: string;
  failed: boolean;
}

/**
 * Delivers each event to every subscriber, each one isolated from the others and from the
 * engine: a renderer, notifier or report that throws never fails the step that emitted the event
 * (a step's outcome must not depend on how it was printed). The first failure of each subscriber
 * is reported to the other subscribers as a warning; later ones are dropped, so a renderer that
 * breaks for good does not drown the output in warnings.
 */
export class EventBus {
  private readonly subscriptions: Subscription[] = [];
  private onFailure: ListenerFailure | undefined;

  constructor(readonly runId: string) {}

  subscribe(listener: Listener, name = 'a subscriber'): () => void {
    const subscription: Subscription = { listener, name, failed: false };
    this.subscriptions.push(subscription);
    return () => {
      const index = this.subscriptions.indexOf(subscription);
      if (index >= 0) this.subscriptions.splice(index, 1);
    };
  }

  /** Also told of every subscriber failure (the pipeline, to stop a run whose output is lost). */
  onSubscriberFailure(handler: ListenerFailure): void {
    this.onFailure = handler;
  }

  emit(body: ShipEventBody): void {
    // Scrubbed once, as data, before any subscriber sees it: renderers, the journal, notifiers
    // and reports never hold a secret, whatever they do with the event.
    const event = redactDeep({ ...body, time: new Date().toISOString(), runId: this.runId } as ShipEvent);
    const failures: Array<[Subscription, unknown]> = [];
    for (const subscription of [...this.subscriptions]) {
      try {
        subscription.listener(event);
      } catch (error) {
        failures.push([subscription, error]);
      }
    }
    // Said after the event reached everyone, so the warning follows what it is about.
    for (const [subscription, error] of failures) this.failed(subscription, error, event);
  }

  private failed(subscription: Subscription, error: unknown, event: ShipEvent): void {
    try {
      this.onFailure?.(error, subscription.name, event);
    } catch {
      // The failure handler is a subscriber too: it cannot hurt the run either.
    }
    if (subscription.failed) return;
    subscription.failed = true;
    const message = `${subscription.name} failed on a ${event.type} event and missed it: ${error instanceof Error ? error.message : String(error)}`;
    const warning = redactDeep({ type: 'warning', message, time: new Date().toISOString(), runId: this.runId } as ShipEvent);
    for (const other of this.subscriptions) {
      if (other === subscription || other.failed) continue;
      try {
        other.listener(warning);
      } catch {
        other.failed = true;
      }
    }
  }
}
