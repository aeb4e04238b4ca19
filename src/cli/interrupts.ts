import type { EventBus } from '../events.js';
import type { InstanceSignals } from '../rollout/instance.js';

const HARD_EXIT_GRACE_MS = 3_000;

/**
 * First Ctrl-C: finish or roll back the instances in flight, put them back, start nothing new.
 * Second Ctrl-C: stop at once and say exactly which instances are out and how to put them back.
 */
export function handleInterrupts(bus: EventBus, restoreCommand: (hosts: string[]) => string, write: (text: string) => void) {
  const graceful = new AbortController();
  const hard = new AbortController();
  const out = new Set<string>();
  bus.subscribe((event) => {
    if (event.type !== 'instance.state') return;
    if (event.to === 'in-service' || event.to === 'reloading') out.delete(event.host);
    else out.add(event.host);
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (!graceful.signal.aborted) {
      write(`\n${signal}: finishing the instances in flight and putting them back; press Ctrl-C again to stop at once\n`);
      graceful.abort(new Error(`interrupted by ${signal}`));
      return;
    }
    if (hard.signal.aborted) return;
    hard.abort(new Error(`stopped by a second ${signal}`));
    const hosts = [...out];
    write(
      hosts.length
        ? `\nstopping now. Out of the load balancer: ${hosts.join(', ')}\nput them back with: ${restoreCommand(hosts)}\n`
        : '\nstopping now. No instance is out of the load balancer.\n',
    );
    // Waits honour the abort signal; this only guards against a peer that never answers.
    setTimeout(() => process.exit(130), HARD_EXIT_GRACE_MS).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const signals: InstanceSignals = { graceful: graceful.signal, hard: hard.signal };
  return {
    signals,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
