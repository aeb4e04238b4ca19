/**
 * The event bus keeps subscribers from hurting the run: one that throws never reaches the code
 * that emitted the event, the others still get every event, and the failure is said once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus, type ShipEvent } from '../../src/events.js';

const step = { type: 'step.finished', host: 'web1', phase: 'activate', step: 'restart', durationMs: 5, ok: true } as const;

test('a subscriber that throws does not reach the emitter, and the others still get every event', () => {
  const bus = new EventBus('run-1');
  const seen: ShipEvent[] = [];
  bus.subscribe(() => {
    throw new Error('EPIPE: the renderer lost its terminal');
  }, 'the output');
  bus.subscribe((event) => seen.push(event), 'the journal mirror');
  assert.doesNotThrow(() => bus.emit(step));
  assert.doesNotThrow(() => bus.emit(step));
  assert.deepEqual(
    seen.map((e) => e.type),
    ['step.finished', 'warning', 'step.finished'],
  );
  const warning = seen[1]!;
  assert.ok(warning.type === 'warning');
  assert.equal(warning.message, 'the output failed on a step.finished event and missed it: EPIPE: the renderer lost its terminal');
  assert.equal(warning.runId, 'run-1');
});

test('every failure reaches the failure handler; the warning goes out once per subscriber', () => {
  const bus = new EventBus('run-2');
  const failures: string[] = [];
  bus.onSubscriberFailure((error, name, event) => failures.push(`${name}/${event.type}/${(error as Error).message}`));
  let calls = 0;
  bus.subscribe(() => {
    calls += 1;
    throw new Error(`broken ${calls}`);
  }, 'a notifier');
  const warnings: string[] = [];
  bus.subscribe((event) => {
    if (event.type === 'warning') warnings.push(event.message);
  });
  bus.emit(step);
  bus.emit(step);
  bus.emit(step);
  assert.equal(calls, 3, 'a subscriber that failed once still gets later events');
  assert.deepEqual(failures, ['a notifier/step.finished/broken 1', 'a notifier/step.finished/broken 2', 'a notifier/step.finished/broken 3']);
  assert.equal(warnings.length, 1);
});

test('a failure handler or a subscriber that throws on the warning itself cannot hurt the emitter either', () => {
  const bus = new EventBus('run-3');
  bus.onSubscriberFailure(() => {
    throw new Error('the handler is broken too');
  });
  bus.subscribe(() => {
    throw new Error('first');
  });
  bus.subscribe((event) => {
    if (event.type === 'warning') throw new Error('cannot even print a warning');
  });
  assert.doesNotThrow(() => bus.emit(step));
});

test('unsubscribing stops delivery', () => {
  const bus = new EventBus('run-4');
  const seen: string[] = [];
  const unsubscribe = bus.subscribe((event) => seen.push(event.type));
  bus.emit(step);
  unsubscribe();
  bus.emit(step);
  assert.deepEqual(seen, ['step.finished']);
});
