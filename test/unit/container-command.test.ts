/**
 * `container.run.command`: the command the container runs instead of the image's default, after
 * the image on `run`, each word quoted; without it the line is as before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerSpec } from '../../src/commands/pipeline/targets.js';
import { validateConfig } from '../../src/config/load.js';
import type { ContainerSpec, StepContext } from '../../src/playbook/define.js';
import { replaceContainer } from '../../src/playbook/container.js';
import { configProblems, minimalConfig } from '../support/config-problems.js';
import { WORKER_CONTAINER } from '../support/container-spec.js';

const base: ContainerSpec = WORKER_CONTAINER;

function ctx(container: ContainerSpec): StepContext {
  return { app: 'shop', host: { name: 'worker1', address: '10.0.0.5', lbName: 'worker1' }, vars: {}, facts: {}, container };
}

function runLine(container: ContainerSpec): string {
  const line = replaceContainer(ctx(container), '1.4.2', 'registry.example.com/acme/shop:1.4.2')
    .text.split('\n')
    .find((l) => l.startsWith('"$E" run '));
  assert.ok(line, 'the run line');
  return line;
}

test("without run.command the container runs the image's own command: nothing follows the image", () => {
  assert.equal(
    runLine(base),
    '"$E" run --detach --name shop-worker --label ship.release=1.4.2 --label ship.app=shop --env-file "$HOME"/.ship/containers/shop-worker/env  registry.example.com/acme/shop:1.4.2',
  );
});

test('run.command follows the image, each word one quoted argument', () => {
  const line = runLine({
    ...base,
    run: { ...base.run, args: ['--restart', 'unless-stopped'], command: ['bundle', 'exec', 'sidekiq', '-q', 'default mailers', "$(touch /tmp/x)'"] },
  });
  assert.ok(line.endsWith(`--restart unless-stopped registry.example.com/acme/shop:1.4.2 bundle exec sidekiq -q 'default mailers' '$(touch /tmp/x)'\\'''`), line);
});

test('the config field reaches the playbook; an empty command is refused, naming the field', () => {
  const container = { image: 'registry.example.com/acme/shop', name: 'shop-worker', run: { command: ['bin/jobs', '--queue', 'default'] } };
  const loaded = validateConfig({ ...minimalConfig, container }, 'ship.config.ts').config;
  assert.deepEqual(containerSpec(loaded.container!).run.command, ['bin/jobs', '--queue', 'default']);
  assert.equal(containerSpec(validateConfig({ ...minimalConfig, container: { ...container, run: {} } }, 'f').config.container!).run.command, undefined);
  const [problem] = configProblems({ ...minimalConfig, container: { ...container, run: { command: [] } } });
  assert.match(problem!, /^container\.run\.command: the command and its arguments/);
});
