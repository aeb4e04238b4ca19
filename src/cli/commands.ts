/**
 * Every command's usage line and one-line description, in the order `ship --help` lists them.
 * They live here, apart from the commands' code, so the top-level help and every command other
 * than the one being run are described without loading any command's module (src/cli/main.ts
 * loads only the one that runs: a deploy does not load the lint rules, nor `--help` the SDKs).
 */
export const COMMAND_LINES = {
  deploy: { command: 'deploy', describe: 'roll a release across the fleet, one batch at a time, without dropping a request' },
  plan: { command: 'plan', describe: 'print the batches and steps a deploy would run; changes nothing' },
  check: {
    command: 'check',
    describe: 'run every pre-flight check (connectivity, host keys, load balancer, capacity, replicas, migrations, lock); changes nothing',
  },
  restore: { command: 'restore', describe: 'put instances back into the load balancer once they pass health checks (after an interrupted run)' },
  status: { command: 'status', describe: 'the current or last run, the lock holder, and every instance out of the load balancer (live), with disagreements' },
  resume: {
    command: 'resume',
    describe:
      'continue a run that did not roll all its hosts (Ctrl-C, SIGTERM, SIGKILL, a lost machine): reconcile the instances it left mid-way, then roll the rest with the same playbook, release and flags',
  },
  unlock: { command: 'unlock', describe: "break the app's deploy lock when its run is gone (its heartbeat stopped); recorded with who and why" },
  patch: { command: 'patch', describe: 'install OS security updates one batch at a time, rebooting where needed, and report what changed' },
  rollback: {
    command: 'rollback',
    describe: 'switch every host back to the previous release (or --to one), one batch at a time, through the same rolling procedure',
  },
  releases: { command: 'releases', describe: "list each host's releases and current one; flags hosts that disagree (exit 1 when any does or cannot be read)" },
  run: {
    command: 'run <playbook>',
    describe: "roll your own playbook (a TypeScript file, or a name from the config's playbooks) through the same rolling procedure",
  },
  'lint-migrations': { command: 'lint-migrations [paths..]', describe: 'check SQL migrations for changes that break running code or lock tables' },
  'iam-policy': { command: 'iam-policy', describe: 'print the least-privilege IAM policy for the configured target groups and EC2 inventory' },
  init: { command: 'init', describe: 'write a commented orchestrator.config.ts (or --config <file>) for your load balancer' },
} as const;

export type CommandName = keyof typeof COMMAND_LINES;

export function isCommandName(word: string): word is CommandName {
  return Object.hasOwn(COMMAND_LINES, word);
}

/**
 * The command `argv` runs, read the way yargs reads it, for the arguments where that is certain:
 * before the command word only the global `--json`, `--no-json`, `--help` and `--config <file>`
 * (`-c`, `--config=`). `none`: no command word (`ship --help`, `ship`). `unsure` for anything else
 * (another flag before the command, a word that is no command): then every command is loaded, as
 * yargs needs them all to decide.
 */
export function invokedCommand(argv: readonly string[]): { kind: 'command'; name: CommandName } | { kind: 'none' } | { kind: 'unsure' } {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--json' || arg === '--no-json' || arg === '--help' || arg.startsWith('--config=')) continue;
    if (arg === '--config' || arg === '-c') {
      const value = argv[i + 1];
      // yargs does not take a flag-like word as the value; leave such lines to yargs.
      if (value === undefined || value.startsWith('-')) return { kind: 'unsure' };
      i++;
      continue;
    }
    if (arg.startsWith('-')) return { kind: 'unsure' };
    return isCommandName(arg) ? { kind: 'command', name: arg } : { kind: 'unsure' };
  }
  return { kind: 'none' };
}
