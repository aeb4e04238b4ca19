import type { Listr, ListrTaskWrapper, ListrRendererFactory } from 'listr2';
import type { ShipEvent } from '../events.js';
import { formatDuration } from '../util/duration.js';
import { redact } from '../util/redact.js';
import { plainLine } from './plain.js';
import { formatSummary } from './summary.js';

type Task = ListrTaskWrapper<unknown, ListrRendererFactory, ListrRendererFactory>;
type PlanEvent = Extract<ShipEvent, { type: 'plan' }>;

interface Pending {
  task?: Task;
  resolve: () => void;
  reject: (error: Error) => void;
  settled: boolean;
}

/**
 * A live task list for a terminal, driven by the core's events: listr2 wants to run the tasks
 * itself, so each task here only waits for the events that end it.
 */
export class ListrView {
  private readonly pending = new Map<string, Pending>();
  private running: Promise<unknown> | undefined;
  private summary: string | undefined;

  constructor(private readonly write: (text: string) => void) {}

  private wait(id: string): (ctx: unknown, task: Task) => Promise<void> {
    return (_ctx, task) =>
      new Promise<void>((resolve, reject) => {
        const entry = this.pending.get(id);
        if (!entry) return resolve();
        entry.task = task;
        entry.resolve = resolve;
        entry.reject = reject;
        if (entry.settled) resolve();
      });
  }

  private expect(id: string): void {
    this.pending.set(id, { resolve: () => undefined, reject: () => undefined, settled: false });
  }

  private settle(id: string, error?: string, title?: string): void {
    const entry = this.pending.get(id);
    if (!entry || entry.settled) return;
    entry.settled = true;
    if (entry.task && title) entry.task.title = redact(title);
    if (error) entry.reject(new Error(redact(error)));
    else entry.resolve();
  }

  private update(id: string, update: { title?: string; output?: string }): void {
    const task = this.pending.get(id)?.task;
    if (!task) return;
    if (update.title) task.title = redact(update.title);
    if (update.output) task.output = redact(update.output);
  }

  /** One plan per role of an app with roles, all emitted before anything else happens. */
  private readonly plans: PlanEvent[] = [];

  /** Draws the task list once every plan is in: pre-flight, then each role's stage and batches. */
  private start(): void {
    this.expect('preflight');
    const tasks: Array<{ title: string; task: (ctx: unknown, task: Task) => Promise<void> | Listr<unknown> }> = [{ title: 'pre-flight', task: this.wait('preflight') }];
    for (const plan of this.plans) {
      const role = plan.role === undefined ? '' : `${plan.role}: `;
      if (plan.phases.stage.length) {
        this.expect(`stage:${plan.role ?? ''}`);
        tasks.push({ title: `${role}stage: ${plan.phases.stage.join(' → ')}`, task: this.wait(`stage:${plan.role ?? ''}`) });
      }
      for (const [i, batch] of plan.batches.entries()) {
        for (const host of batch.hosts) this.expect(`host:${host}`);
        tasks.push({
          title: `${role}batch ${i + 1}${batch.canary ? ' (canary)' : ''}: ${batch.hosts.join(', ')}${plan.bake ? `, then bake ${formatDuration(plan.bake.durationMs)}` : ''}`,
          task: (_ctx: unknown, task: Task) =>
            task.newListr(
              batch.hosts.map((host) => ({ title: host, task: this.wait(`host:${host}`) })),
              { concurrent: true, exitOnError: false },
            ),
        });
      }
    }
    this.plans.length = 0;
    // listr2 is loaded only for a terminal; tasks registered meanwhile are settled when it runs them.
    this.running = import('listr2')
      .then(({ Listr }) => new Listr(tasks, { concurrent: false, exitOnError: false, rendererOptions: { collapseSubtasks: false } }).run())
      .catch(() => undefined);
  }

  readonly listener = (event: ShipEvent): void => {
    if (event.type === 'plan') {
      this.plans.push(event);
      return;
    }
    if (this.plans.length > 0) this.start();
    switch (event.type) {
      case 'preflight.check':
        if (event.status === 'failed') this.settle('preflight', `${event.name}: ${event.detail}`);
        else this.update('preflight', { output: `${event.name}: ${event.detail}` });
        break;
      // The schema stages run between the pre-flight and the stage: shown as the pre-flight's last output lines.
      case 'migration.started':
      case 'migration.retrying':
      case 'migration.applied':
      case 'replicas.waiting':
      case 'replicas.ready': {
        const line = plainLine(event);
        if (line) this.update('preflight', { output: line.slice(13).trim() });
        break;
      }
      case 'stage.started':
        this.settle('preflight');
        break;
      case 'stage.finished':
        this.settle(`stage:${event.role ?? ''}`, undefined, `${event.role === undefined ? '' : `${event.role}: `}staged in ${formatDuration(event.durationMs)}`);
        break;
      case 'batch.started':
        this.settle('preflight');
        this.settle(`stage:${event.role ?? ''}`);
        break;
      case 'instance.state':
        this.update(`host:${event.host}`, { title: `${event.host}: ${event.to}` });
        break;
      case 'output':
        this.update(`host:${event.host}`, { output: event.line });
        break;
      case 'instance.finished':
        this.settle(
          `host:${event.host}`,
          event.outcome === 'deployed' ? undefined : (event.error ?? event.outcome),
          `${event.host}: ${event.outcome}, out of rotation ${formatDuration(event.outOfRotationMs)}`,
        );
        break;
      case 'analysis.verdict':
        for (const host of event.hosts) this.update(`host:${host}`, { output: event.line });
        break;
      case 'run.finished':
        this.summary = formatSummary(event.status, event.durationMs, event.summary);
        for (const id of this.pending.keys()) this.settle(id);
        break;
      default:
        break;
    }
  };

  /** Waits for the task list to finish drawing, then prints the summary below it. */
  async done(): Promise<void> {
    if (this.plans.length > 0) this.start();
    await this.running;
    if (this.summary) this.write(`${redact(this.summary)}\n`);
  }
}
