/**
 * `npm run bench`: runs every benchmark in bench/ one after another, each in its own process (so
 * none pays for another's warm caches or leftover load), collects the JSON each prints on stdout,
 * and rewrites bench/RESULTS.md: one section per benchmark with its figures, target, pass or fail,
 * the machine, the date and the exact command. Progress from the benchmarks goes to stderr.
 *
 *   node --import tsx bench/run.ts [--only rollout,ssh-overhead]
 *   npm run bench -- --only ansible,simulation
 *
 * With --only, just those benchmarks run and the other sections of RESULTS.md are kept as they are.
 * A missed target is a result, not an error; the exit code is non-zero only when a benchmark failed
 * to produce figures.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = join(BENCH_DIR, '..');
const RESULTS = join(BENCH_DIR, 'RESULTS.md');

type Json = Record<string, unknown>;

interface Verdict {
  figure: string;
  value: string;
  target: string;
  met: boolean;
}

interface Benchmark {
  name: string;
  title: string;
  args: string[];
  /** The figures that have a target, for the section and the summary. */
  verdicts(result: Json): Verdict[];
  /** Further detail under the verdict table (markdown), if any. */
  detail?(result: Json): string;
}

// Benchmarks this runner knows how to present; any other bench/*.ts still runs and is shown as raw JSON.
const KNOWN: Benchmark[] = [
  {
    name: 'rollout',
    title: 'Rolling deploy: time out of rotation and total rollout time (8 hosts, HAProxy `inter 500ms rise 2 fall 2`, under load)',
    args: ['--runs', '5', '--hosts', '8'],
    verdicts(r) {
      const out = r.outOfRotation as Json;
      const rise = out.rise as Json;
      const load = r.load as Json;
      const sides = (['ship', 'rise', 'floor'] as const).map((side) => {
        const tally = load[side] as Json;
        return `${side === 'rise' ? "ship with confirm 'rise'" : side} ${tally.failed} of ${tally.sent}`;
      });
      return [
        {
          figure: `per-host time out of rotation, median of ${out.samples} (ship) and ${out.floorSamples} (floor) host samples`,
          value: `ship ${ms(out.shipMedianMs)}, floor ${ms(out.floorMedianMs)}: **${out.ratio}x** the floor`,
          target: String(out.target),
          met: out.met === true,
        },
        {
          figure: `the same, against the target of issue 17 (with confirm 'rise', as ship did before: ${ms(rise.medianMs)})`,
          value: `**${ms(out.shipMedianMs)}**`,
          target: String(out.absoluteTarget),
          met: out.absoluteMet === true,
        },
        {
          figure: `failed requests under ${load.rps} requests/s through HAProxy (keep-alive and fresh connections), all runs`,
          value: sides.join(', '),
          target: String(load.target),
          met: load.met === true,
        },
      ];
    },
    detail(r) {
      const out = r.outOfRotation as Json;
      const ship = out.shipSplitMedianMs as Json;
      const rise = (out.rise as Json).splitMedianMs as Json;
      const floor = out.floorSplitMedianMs as Json;
      const rollout = r.rollout as Json;
      const settings = r.settings as Json;
      const row = (label: string, key: string) => `| ${label} | ${ms(ship[key])} | ${ms(rise[key])} | ${ms(floor[key])} |`;
      const spread = out.lbHealthySpreadMs as Record<string, Json>;
      const range = (side: string) => `${ms(spread[side]!.min)} to ${ms(spread[side]!.max)} (90th percentile ${ms(spread[side]!.p90)})`;
      return [
        `${r.hosts}-host rollout, ship's own duration (pre-flight, stage, every batch), median of ${r.runs}: **${ms(rollout.durationMedianMs)}**; ` +
          `with confirm 'rise' ${ms(rollout.riseDurationMedianMs)}. Wall time of the whole command (node start, module and config loading included): ` +
          `${ms(rollout.wallMedianMs)} (start-up to first event ${ms(rollout.startupMedianMs)}).`,
        '',
        "Where a host's time out of rotation goes (each phase's median taken on its own, so they need not add up exactly to the median total):",
        '',
        "| phase | ship (confirm 'one-check', the default) | ship, confirm 'rise' | floor (one check) |",
        '| --- | --- | --- | --- |',
        row('drain: start drain, sessions at 0, maintenance', 'drain'),
        `| activate: switch \`current\`, restart.sh (ship: two SSH commands, ${ms(ship.switchStep)} + ${ms(ship.restartStep)}) | ${ms(ship.activate)} | ${ms(rise.activate)} | ${ms(floor.activate)} |`,
        row('health: /healthz answers 200', 'health'),
        row("LB healthy: put back, HAProxy's check confirms it, UP", 'lbHealthy'),
        row('**total**', 'total'),
        '',
        "With confirm 'one-check' a host waits for HAProxy's next scheduled check after it leaves maintenance, anywhere between 0 and `inter` (500 ms); " +
          "with confirm 'rise' for that check and one more, `inter` later (`fastinter` is not set). LB healthy per host, lowest to highest: " +
          `ship ${range('ship')}; confirm 'rise' ${range('rise')}; floor ${range('floor')}. ` +
          'HAProxy spreads the first checks of all its checked servers evenly over `inter` when it starts, in configuration order (here 500 ms / 8 = 62.5 ms apart) ' +
          'and each next check comes `inter` after the last one ends, so the phases stay spread. Rolling the hosts in backend order, a host is taken out ' +
          "just as the previous one is confirmed, right after that one's check, so its own check goes by 62.5 ms later while it restarts, and it " +
          'waits for the next: out of rotation for up to about `inter` + 62.5 ms, however short its own work (once over 62.5 ms). ' +
          'The figures here are that lock-step case; where the phases fall at random, a host waits `inter` / 2 on average.',
        '',
        `Rollouts (ship's duration): ${list(rollout.durationsMs)}; wall: ${list(rollout.wallsMs)}; confirm 'rise': ${list(rollout.riseDurationsMs)}.`,
        '',
        `What ship's summary said about the load balancer's wait, in ${rollout.notesGiven} of ${r.runs} runs` +
          `${Number(rollout.notesGiven) < Number(r.runs) ? ' (in the others the median wait was under half the time out of rotation)' : ''}: ` +
          `${rollout.note ? `"${rollout.note}"` : 'nothing'}.`,
        '',
        `Settings: ${r.ship}; health \`${JSON.stringify((settings.health as Json).http ?? settings.health)}\`; ` +
          `HAProxy \`${settings.haproxyCheck}\`; loadBalancer.pollInterval ${ms(settings.loadBalancerPollIntervalMs)}, confirm '${settings.loadBalancerConfirm}'; ` +
          `rollout ${JSON.stringify(settings.rollout)}; ${settings.loadRps} requests/s through HAProxy during every rollout and floor round. ` +
          'The floor does the same operations directly: runtime API over the local unix socket, ' +
          `\`current\` switched and restart.sh run locally (no SSH), /healthz and HAProxy polled every ${ms(settings.floorPollMs)}, ` +
          'and the same one-check confirmation as ship: no check running, `drain; health down`, one passing check, `health up; ready`.',
      ].join('\n');
    },
  },
  {
    name: 'ansible',
    title: 'Rolling deploy against Ansible: the same release over the same 8 hosts, one at a time, HAProxy `inter 500ms rise 2 fall 2`, under load',
    args: ['--runs', '5', '--hosts', '8'],
    verdicts(r) {
      const ship = r.ship as Json;
      const stock = r.ansibleStock as Json;
      const ansible = r.ansible as Json;
      const sides = (['ship', 'ansibleStock', 'ansible', 'ansibleStaged'] as const).map((side) => `${side} ${list((r[side] as Json).failedRequests)}`);
      return [
        {
          figure: `${r.hosts}-host rolling deploy, wall time of the whole command, median of ${r.runs} runs each, sides alternating`,
          value: `ship ${ms(ship.medianMs)}, Ansible's stock rolling update (community.general.haproxy) ${ms(stock.medianMs)}: **${r.stockRatio}x**`,
          target: String(r.stockTarget),
          met: r.stockMet === true,
        },
        {
          figure: 'the same, against Ansible driving the runtime API as ship does (socat)',
          value: `ship ${ms(ship.medianMs)}, Ansible (serial: 1) ${ms(ansible.medianMs)}: **${r.ratio}x**`,
          target: String(r.target),
          met: r.met === true,
        },
        {
          figure: `requests that failed under ${r.rps} requests/s through HAProxy, every run of every side`,
          value: sides.join('; '),
          target: 'zero failed requests',
          met: r.failedRequestsMet === true,
        },
      ];
    },
    detail(r) {
      const ship = r.ship as Json;
      const stock = r.ansibleStock as Json;
      const ansible = r.ansible as Json;
      const staged = r.ansibleStaged as Json;
      const tools = r.tools as Json;
      const row = (label: string, side: Json) =>
        `| ${label}: \`${side.command}\` | ${ms(side.medianMs)} | ${ms(side.perHostMs)} | ${list(side.runsMs)} | ${list(side.failedRequests)} of ${list(side.requestsSent)} | ${list(side.sshConnectionsPerHost)} |`;
      return [
        '| side | median wall time | per host (median / hosts) | runs (ms) | failed requests of sent, per run | SSH connections per host per run |',
        '| --- | --- | --- | --- | --- | --- |',
        row('ship', ship),
        row(`Ansible stock (ship is **${r.stockRatio}x** of it)`, stock),
        row(`Ansible, runtime API by socat (ship is **${r.ratio}x** of it)`, ansible),
        row(`Ansible staged first (ship is **${staged.shipRatio}x** of it)`, staged),
        '',
        `HAProxy: \`${r.haproxyCheck}\` on every server (what users run, issue 17; this section used \`inter 100ms fall 2 rise 1\` and no load before). Load: ${r.load}. ` +
          `Tools: ${tools.ansible}; ${tools.communityGeneral} (Debian's \`ansible\` package); ${tools.ansibleConfig}. Order of the sides in each run: ${(r.order as string[][]).map((o) => o.join(' > ')).join('; ')}. ` +
          `1-minute load average when each run started: ${list(r.load1AtEachRun)}.`,
        '',
        'What each side does (fairness):',
        '',
        '- Same fleet (real sshd and app per host on loopback, one HAProxy), same release tarball, same host-side commands ' +
          '(upload the tgz, unpack into `releases/<v>`, prune, `ln -sfn` + `mv -T` of `current`, `sh restart.sh`), /healthz asked from the controller by every side. ' +
          'After every run the benchmark checks that each host serves the new version and HAProxy has every server UP.',
        `- ship (${ship.command}, the fleet's config): node start and config loading, pre-flight (SSH to all hosts at once with host keys verified, ` +
          'load balancer membership, capacity, the deploy lock), then **stage on every host in parallel while they serve** (remember current, upload, unpack, prune), then a canary and one host at ' +
          "a time: drain (sessions at 0), maintenance, switch + restart (two SSH commands on the connection opened in pre-flight), /healthz (one pass needed, probed every 20 ms, as in the fleet's config), " +
          "back with one HAProxy check that started after the restart confirming it (loadBalancer.confirm 'one-check', the default), runtime API polled every 10 ms; " +
          'every state change is fsynced to the journal first. Its wall time includes all of that, and closing the connections.',
        "- Ansible stock (`bench/ansible/rolling-deploy-stock.yml`, `serial: 1`): Ansible's stock rolling update behind HAProxy. Per host: `community.general.haproxy` " +
          '`state: disabled, drain: true, wait: true` (drain, wait for DRAIN with no session, then `disable server` and wait for MAINT), remember current, upload, unpack, prune, switch, restart, ' +
          "/healthz (`uri`, retried at once), then `community.general.haproxy` `state: enabled, wait: true` (`enable server`, wait for UP). The module's waits poll every `wait_interval` whole seconds: " +
          "set to 1 (the default is 5). Leaving maintenance with `enable server`, HAProxy 2.6 calls the server UP before any new check, so the enable's wait ends on its first look: the stock update " +
          'never waits for HAProxy to check the restarted app (ship does, which costs it up to one `inter`, 500 ms, per host).',
        '- Ansible (`bench/ansible/rolling-deploy.yml`, `serial: 1`, the target of issue 7): the same tasks, with HAProxy driven by the runtime API commands ship used to send, ' +
          'through socat: `set server app/<host> state drain`, `scur` 0 in `show stat`, `state maint`; back with `state drain; health down; state ready`, then `status` UP ' +
          "(HAProxy's own `rise` 2 checks), polled every 10 ms inside one shell task. Upload and unpack happen while the host is out of rotation. Best realistic settings for every Ansible side: " +
          '`pipelining`, `ControlPersist` (one SSH connection per host, opened when its turn comes; every run starts cold), `gather_facts: false`, no interpreter discovery. ' +
          'Ansible keeps no journal, takes no lock, runs no pre-flight and has no rollback.',
        '- Ansible staged first (`bench/ansible/rolling-deploy-staged.yml`): the socat tasks, with remember/upload/unpack/prune moved into a first play on all hosts at once (`forks 16`, like ' +
          "ship's `stageConcurrency`), so only drain, switch, restart, health and put back are serial: what an Ansible user who follows ship's design would write.",
      ].join('\n');
    },
  },
  {
    name: 'simulation',
    title: "Simulated rollout of 1,000 and 10,000 instances: the orchestrator's CPU time per instance and peak memory",
    args: ['--runs', '5', '--instances', '1000'],
    verdicts(r) {
      const targets = r.targets as Json;
      // The configuration without the journal is a reference for the detail, not a result with a target.
      return (r.configurations as Json[])
        .filter((c) => c.journal !== false)
        .flatMap((c): Verdict[] => [
          {
            figure: `${String(c.label).includes('instances') ? '' : `${c.instances ?? r.instances} instances, `}${c.label} (${c.batches} batches): CPU time per instance (user + system), median of ${r.runs} fresh processes`,
            value: `${ms(c.cpuPerInstanceMs)}`,
            target: String(targets.cpuPerInstance),
            met: c.cpuMet === true,
          },
          {
            figure: `the same: peak RSS of the process (getrusage maxrss), median of ${r.runs}`,
            value: `${c.peakRssMb} MB (highest ${c.maxPeakRssMb} MB; ${c.startRssMb} MB with the modules loaded, before the run)`,
            target: String(c.memoryTarget ?? targets.peakMemory),
            met: c.memoryMet === true,
          },
        ]);
    },
    detail(r) {
      const rows = (r.configurations as Json[]).map(
        (c) =>
          `| ${c.label} | ${ms(c.cpuPerInstanceMs)} | ${c.cpuUserMs} + ${c.cpuSystemMs} ms | ${ms(c.wallMs)} | ${c.events} events, ${c.eventBytes} bytes | ${c.journalTransitions} transitions, ${c.journalBytes} bytes | ` +
          `${(c.runs as Json[]).map((run) => `${run.cpuPerInstanceMs} ms / ${run.peakRssMb} MB`).join(', ')} |`,
      );
      return [
        '| configuration | CPU per instance (median) | CPU user + system (median) | wall (median) | NDJSON to /dev/null | journal (fsynced) | runs: CPU per instance / peak RSS |',
        '| --- | --- | --- | --- | --- | --- | --- |',
        ...rows,
        '',
        `Each simulation runs in its own process: ${r.process}. The CPU time is \`process.cpuUsage()\` from before the targets are built to after the journal's outcome and \`run.finished\`. ` +
          'Real: `runRollout` (plan, canary, capacity check before every batch, the per-instance state machine), the built-in deploy-release playbook (steps and shell text built per host), ' +
          `the EventBus with the \`--json\` renderer writing each event to /dev/null, and the file journal: ${r.journal}, every transition written before it is acted on ` +
          '(the benchmark reads the journal back and checks every transition and the outcome are there). Simulated: hosts and load balancer (`test/support/memory.ts`: every command and upload ' +
          'succeeds at once, the load balancer answers from memory and neither keeps a log of what it was told) and health checks that pass on the first probe. Not included: node start and module loading, config loading, SSH, the deploy ' +
          "lock's heartbeat. The reference row is batch size 1 without journal transitions (run header and outcome still written): the difference to batch size 1 is what writing 6,000 " +
          "transitions costs. Of an instance's six transitions, three are durable before ship acts ('draining', 'activating', 'registering'); the other three ('out', 'verifying', 'in-service') " +
          'follow an action already journalled and go to disk in the same O_DSYNC write as the next durable one (or when the event loop turns, whichever is first): three writes an instance at ' +
          'batch size 1; with 10% batches the transitions of a batch are group-committed too. Every batch also asks the load balancer for every member for the capacity check (the in-memory one is counted too).',
      ].join('\n');
    },
  },
  {
    name: 'ssh-overhead',
    title: 'SSH transport: per-command overhead against OpenSSH with a ControlMaster',
    args: [],
    verdicts(r) {
      const target = 1.2;
      return [
        {
          figure: `per command (\`true\`), median of ${r.runs} runs of ${r.commands} sequential commands`,
          value: `ship ${ms(r.shipMsPerCommand)}, ControlMaster ${ms(r.controlMasterMsPerCommand)}: **${r.ratio}x**`,
          target: `ship <= ${target} x ControlMaster`,
          met: Number(r.ratio) <= target,
        },
      ];
    },
    detail(r) {
      return `Runs, ms per command: ship ${list(r.shipRunsMs)}; ControlMaster ${list(r.controlMasterRunsMs)}.`;
    },
  },
  {
    name: 'lint-throughput',
    title: 'Migration lint throughput against squawk',
    args: [],
    verdicts(r) {
      return (['json', 'text'] as const)
        .filter((format) => typeof r[format] === 'object' && r[format] !== null)
        .map((format) => {
          const race = r[format] as Json;
          const ship = race.ship as Json;
          const squawk = race.squawk as Json;
          return {
            figure: `${r.statements} statements, ${format} output, median wall time of ${r.runs} fresh processes`,
            value: `ship ${ms(ship.medianMs)}, squawk ${ms(squawk.medianMs)}: **${race.ratio}x**`,
            target: String(r.target),
            met: race.met === true,
          };
        });
    },
  },
  {
    name: 'lint-corpus',
    title: "Migration lint on real projects' migration folders, against squawk",
    // The before: main when issue 15's measuring began.
    args: ['--runs', '15', '--before', '0511f4a31dfb8bba888960fa0122faee1f61e61e'],
    verdicts(r) {
      return ((r.corpora as Json[] | undefined) ?? []).map((c) => {
        const ship = c.ship as Json;
        const squawk = c.squawk as Json;
        return {
          figure: `${c.name}: \`ship lint-migrations ${c.dir}\` (${c.files} files, ${c.statements} statements), median wall time of ${r.runs} fresh processes`,
          value: `ship ${ms(ship.medianMs)}, squawk ${ms(squawk.medianMs)}: **${c.ratio}x**`,
          target: String(r.target),
          met: c.met === true,
        };
      });
    },
    detail(r) {
      return lintCorpusDetail(r);
    },
  },
  {
    name: 'aws-calls',
    title: 'AWS API calls per instance rolled through ELBv2 (the AWS test path, 8 hosts)',
    args: ['--hosts', '8', '--runs', '3'],
    verdicts(r) {
      return (r.configurations as Json[]).map((c) => ({
        figure: `${c.label}${Number(c.groups) > 1 ? '' : ', one target group'}: ELBv2 calls per instance rolled, median of ${r.runs} deploys`,
        value: `${c.perInstanceMedian} (runs: ${list(c.perInstanceRuns)})`,
        target: String(r.target),
        met: c.met === true,
      }));
    },
    detail(r) {
      const settings = r.settings as Json;
      const rows = (r.configurations as Json[]).map((c) => {
        const run = c.medianRun as Json;
        const actions = Object.entries(run.byAction as Record<string, number>)
          .map(([action, n]) => `${action} ${n}`)
          .join(', ');
        return `| ${c.label} | ${c.perInstanceMedian} | ${run.rolling} | ${run.perRun} | ${actions} |`;
      });
      return [
        '| configuration | per instance | rolling calls (median run) | once per run | by action (median run) |',
        '| --- | --- | --- | --- | --- |',
        ...rows,
        '',
        `Settings: ${settings.ship}; target group ${settings.targetGroup}. Counted: ${settings.counted}. Batches of 25% of 8 hosts are a canary of one, then two at a time.`,
      ].join('\n');
    },
  },
  {
    name: 'scale',
    title: 'Scale on real hosts: 32 and 64 hosts, 25% batches, under load, against Ansible serial: "25%"',
    args: ['--runs', '3', '--sizes', '32,64'],
    verdicts(r) {
      const targets = r.targets as Json;
      return (r.sizes as Json[]).flatMap((size): Verdict[] => {
        const ship = size.ship as Json;
        const ansible = size.ansible as Json;
        const met = size.met as Json;
        return [
          {
            figure: `${size.hosts} hosts, 25% batches, wall time of the whole command, median of ${r.runs} runs each, sides alternating`,
            value: `ship ${ms(ship.medianMs)}, Ansible ${ms(ansible.medianMs)}: **${size.ratio}x**`,
            target: String(targets.ratio),
            met: met.ratio === true,
          },
          {
            figure: `the same: requests that failed under ${r.rps} requests/s, ship's runs`,
            value: list(ship.failedRequests),
            target: String(targets.failedRequests),
            met: met.failedRequests === true,
          },
          {
            figure: "the same: ship's peak RSS, every run",
            value: `${list(ship.peakRssMb)} MB (CPU ${list(ship.cpuMs)} ms)`,
            target: String(targets.peakRss),
            met: met.peakRss === true,
          },
        ];
      });
    },
    detail(r) {
      const lines: string[] = [];
      for (const size of r.sizes as Json[]) {
        const ship = size.ship as Json;
        const ansible = size.ansible as Json;
        const staged = size.ansibleStaged as Json;
        lines.push(
          `**${size.hosts} hosts** (${size.batches} batches). Runs (ms): ship ${list(ship.runsMs)} (its own duration ${list(ship.durationMs)}, start-up to first event ${list(ship.startupMs)}` +
            `${Array.isArray(ship.warnings) ? `, Node warnings printed ${list((ship.warnings as string[][]).map((w) => w.length))}` : ''}); ` +
            `Ansible ${list(ansible.runsMs)} (failed requests ${list(ansible.failedRequests)}); Ansible staged first ${list(staged.runsMs)} (failed requests ${list(staged.failedRequests)}; ship is **${staged.shipRatio}x** of it). ` +
            `1-minute load average at each run: ${list(size.load1)}.`,
          '',
          "Where ship's time goes (median run). Before the first batch: " +
            (ship.medianRunPhases
              ? `start-up to first event ${ms((ship.medianRunPhases as Json).startupMs)}, pre-flight (lock, SSH to every host, load balancer) ${ms((ship.medianRunPhases as Json).preflightMs)}, ` +
                `stage on every host while they serve ${ms((ship.medianRunPhases as Json).stageMs)}, then the batches ${ms((ship.medianRunPhases as Json).batchesMs)}.`
              : 'not recorded.'),
          '',
          "| batch | hosts | capacity check before it | batch duration | drain (median) | activate: switch + restart (median) | /healthz (median) | HAProxy confirms, one check (median) | slowest host: drain / activate / healthz / HAProxy / ship's bookkeeping between them = out of rotation |",
          '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
          ...(ship.medianRunBatches as Json[]).map((b) => {
            const slow = b.slowest as Json | undefined;
            const slowest = slow
              ? `${slow.host}: ${ms(slow.drainMs)} / ${ms(slow.activateMs)} / ${ms(slow.healthMs)} / ${ms(slow.lbHealthyMs)} / ${ms(slow.otherMs)} = ${ms(slow.totalMs)}`
              : ms(b.slowestOutOfRotationMs);
            return `| ${b.index} | ${b.hosts} | ${ms(b.beforeMs)} | ${ms(b.durationMs)} | ${ms(b.drainMs)} | ${ms(b.activateMs)} | ${ms(b.healthMs)} | ${ms(b.lbHealthyMs)} | ${slowest} |`;
          }),
          '',
        );
      }
      lines.push(
        `Settings: HAProxy \`${r.haproxyCheck}\` (every server); ship: ${r.ship}; Ansible: ${r.ansible}; Ansible staged: ${r.ansibleStaged}; load: ${r.load}. ` +
          'Same fleet, release, host-side commands and runtime API commands as bench/ansible.ts (see its section for what each side does); Ansible with forks 16, pipelining and ControlPersist.',
      );
      return lines.join('\n');
    },
  },
  {
    name: 'startup',
    title: "Start-up: `ship --help`, and a deploy's first event",
    args: ['--runs', '11'],
    verdicts(r) {
      const first = r.deployFirstEvent as Json;
      const help = r.help as Json;
      const targets = r.targets as Json;
      return [
        {
          figure: `\`ship deploy --json\` on a 2-host HAProxy fleet, spawn to the first event on stdout, median of ${r.runs}`,
          value: `${ms(first.medianMs)} (\`node -e 0\`: ${ms((r.nodeAlone as Json).medianMs)})`,
          target: String(targets.firstEvent),
          met: first.met === true,
        },
        { figure: `\`ship --help\`, spawn to exit, median of ${r.runs}`, value: ms(help.medianMs), target: String(targets.help), met: help.met === true },
      ];
    },
    detail(r) {
      return [
        `Runs (ms): first event ${list((r.deployFirstEvent as Json).runsMs)}; --help ${list((r.help as Json).runsMs)}; the whole deploy (2 hosts) ${list((r.deployWall as Json).runsMs)}. ` +
          `First event with jiti's transpile cache cold (a config never run before): ${ms(r.deployFirstEventColdCacheMs)}. 1-minute load average around the runs: ${list(r.load1)}.`,
        '',
        `Settings: ${r.ship}; ${r.config}; ${r.fleet}; ${r.environment ?? 'with the environment as it was'}.` +
          (r.withWorkplaceCaBundle
            ? ` With this workplace's NODE_EXTRA_CA_CERTS set, which node parses at every start: first event ${ms((r.withWorkplaceCaBundle as Json).firstEventMedianMs)}, --help ${ms((r.withWorkplaceCaBundle as Json).helpMedianMs)}, \`node -e 0\` ${ms((r.withWorkplaceCaBundle as Json).nodeAloneMedianMs)}.`
            : ''),
      ].join('\n');
    },
  },
];

/** The lint-corpus section's tables: the corpora, the findings per rule beside squawk's, the hand review. */
function lintCorpusDetail(r: Json): string {
  const corpora = (r.corpora as Json[] | undefined) ?? [];
  const equivalents = (r.squawkEquivalents as Record<string, string[]> | undefined) ?? {};
  const lines = [
    '| project | commit | folder (layout) | files | statements | SQL bytes | ship runs (ms) | squawk runs (ms) | 1-min load before, after |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...corpora.map((c) => {
      const ship = c.ship as Json;
      const squawk = c.squawk as Json;
      return `| [${c.repo}](https://github.com/${c.repo}) | \`${String(c.commit).slice(0, 12)}\` | \`${c.dir}\` (${c.layout}) | ${c.files} | ${c.statements} | ${c.bytes} | ${list(ship.runsMs)} | ${list(squawk.runsMs)} | ${list(c.load)} |`;
    }),
    '',
    `Commands: ${r.ship}; ${r.squawk}; ${r.environment}. Sides alternate, each going first in turn. Skipped: ${(r.skipped as string[] | undefined)?.join('; ') || 'none'}.`,
    '',
    'Before and after, and where the time goes (medians, ms). `node -e 0`: node alone. `--help`: ship started with its lint modules loaded, linting nothing. ' +
      "The phases are measured inside fresh processes (bench/lib/lint-phases.mjs, on the tsc output, so module loading there is not the bundle's): " +
      "the parser's WebAssembly compiled and instantiated (from the first import; it overlaps the imports), finding and reading the files, the lint the first time (cold) " +
      "and again in the same process (warm), and parsing alone cold and warm: cold minus warm is mostly V8 compiling the parser's WebAssembly functions and the rules' JavaScript on first call.",
    '',
    '| project | ship before | ship now | squawk | `node -e 0` | ship `--help` | parser ready | select | lint cold (parse cold) | lint warm (parse warm) | JSON out |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...corpora.map((c) => {
      const before = c.before as Json | undefined;
      const p = (c.phases as Record<string, number> | undefined) ?? {};
      return (
        `| ${c.name} | ${before ? `${before.medianMs} (${before.ratio}x, \`${String(before.commit).slice(0, 7)}\`)` : '-'} | ${(c.ship as Json).medianMs} (${c.ratio}x) | ${(c.squawk as Json).medianMs} | ` +
        `${(c.nodeStart as Json | undefined)?.medianMs ?? '-'} | ${(c.shipStart as Json | undefined)?.medianMs ?? '-'} | ${p.parserReady ?? '-'} | ${p.select ?? '-'} | ${p.lint ?? '-'} (${p.parseCold ?? '-'}) | ${p.lintWarm ?? '-'} (${p.parseWarm ?? '-'}) | ${p.format ?? '-'} |`
      );
    }),
    '',
    ...(((r.startupWork as string[] | undefined) ?? []).length > 0
      ? [
          "Start-up work for the 1.5x target, measured apart from this run (A/B medians of alternating fresh processes; bench/lint-corpus.ts's header has the detail):",
          '',
          ...(r.startupWork as string[]).map((line) => `- ${line}`),
          '',
        ]
      : []),
    "Findings per rule. squawk's rule on the same line flags the same hazard (roughly: each tool words its rules its own way); ship's hygiene rules are off by default, squawk's prefer-* rules are on.",
    '',
  ];
  for (const c of corpora) {
    const ship = (c.ship as Json).byRule as Record<string, number>;
    const squawk = { ...((c.squawk as Json).byRule as Record<string, number>) };
    lines.push(
      `**${c.name}**: ship ${(c.ship as Json).findings} findings (${(c.ship as Json).errors} errors, ${(c.ship as Json).warnings} warnings), squawk ${(c.squawk as Json).findings}.`,
      '',
    );
    lines.push('| ship rule | ship | squawk rule | squawk |', '| --- | --- | --- | --- |');
    for (const [rule, count] of Object.entries(ship)) {
      const matches = (equivalents[rule] ?? []).filter((name) => name in squawk);
      lines.push(`| ${rule} | ${count} | ${matches.join(', ') || '-'} | ${matches.map((name) => squawk[name]).join(', ') || '-'} |`);
      for (const name of matches) delete squawk[name];
    }
    for (const [name, count] of Object.entries(squawk)) {
      const shipRule = Object.entries(equivalents).find(([, names]) => names.includes(name))?.[0];
      lines.push(`| ${shipRule ? `${shipRule} (none found)` : '-'} | ${shipRule ? 0 : '-'} | ${name} | ${count} |`);
    }
    lines.push('');
  }
  const review = r.review as Json | undefined;
  const entries = (review?.entries as Json[] | undefined) ?? [];
  if (entries.length > 0) {
    const falseOnes = entries.filter((e) => e.verdict === 'false').length;
    lines.push(
      `Hand review (bench/lint-corpus-review.json): ${entries.length} findings sampled across every rule that fired and the three projects, each read against the SQL, the earlier migrations and PostgreSQL's documentation. ` +
        `"true": the statement does what the finding says (the lock, the scan or rewrite, the break for running code), whatever the table's size; "false": it does not. ` +
        `At sampling: ${falseOnes} false of ${entries.length} (${((100 * falseOnes) / entries.length).toFixed(1)}%). Now: ${review?.reported} of them still reported, ${review?.falsePositives} of those false: **${(100 * Number(review?.rate)).toFixed(1)}% false positives**.`,
      '',
      '| # | project | file:line | rule | verdict | why | reported now |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...entries.map(
        (e, i) => `| ${i + 1} | ${e.corpus} | \`${e.file}:${e.line}\` | ${e.ruleId} | ${e.verdict} | ${String(e.why).replaceAll('|', '\\|')} | ${e.reported ? 'yes' : 'no'} |`,
      ),
    );
  }
  return lines.join('\n');
}

function ms(value: unknown): string {
  return typeof value === 'number' && Number.isFinite(value) ? `${value} ms` : String(value);
}

function list(values: unknown): string {
  return Array.isArray(values) ? values.join(', ') : String(values);
}

function argument(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? undefined : process.argv[at + 1];
}

async function discover(): Promise<Benchmark[]> {
  const files = (await readdir(BENCH_DIR)).filter((file) => file.endsWith('.ts') && file !== 'run.ts').sort();
  const names = files.map((file) => file.slice(0, -'.ts'.length));
  const known = KNOWN.filter((b) => names.includes(b.name));
  const unknown = names.filter((name) => !KNOWN.some((b) => b.name === name)).map((name): Benchmark => ({ name, title: name, args: [], verdicts: () => [] }));
  return [...known, ...unknown];
}

interface Outcome {
  benchmark: Benchmark;
  command: string;
  started: Date;
  loadBefore: number[];
  loadAfter: number[];
  durationS: number;
  result?: Json;
  error?: string;
}

function runOne(benchmark: Benchmark): Promise<Outcome> {
  const args = ['--import', 'tsx', join('bench', `${benchmark.name}.ts`), ...benchmark.args];
  const command = `node ${args.join(' ')}`;
  const started = new Date();
  const loadBefore = loadavg();
  const clock = performance.now();
  process.stderr.write(`bench: ${command}\n`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const done = (error?: string, result?: Json) =>
      resolve({
        benchmark,
        command,
        started,
        loadBefore,
        loadAfter: loadavg(),
        durationS: (performance.now() - clock) / 1000,
        ...(result ? { result } : {}),
        ...(error ? { error } : {}),
      });
    child.on('error', (error) => done(`could not start: ${error.message}`));
    child.on('close', (code, signal) => {
      if (code !== 0) return done(`exited ${code ?? signal}; stdout: ${stdout.slice(-1000) || '(empty)'}`);
      // A benchmark prints one JSON object; anything before it is not part of the result.
      const at = stdout.indexOf('{');
      try {
        done(undefined, JSON.parse(stdout.slice(at)) as Json);
      } catch (error) {
        done(`printed no JSON object (${(error as Error).message}): ${stdout.slice(0, 1000) || '(empty)'}`);
      }
    });
  });
}

function machine(): string {
  const cpu = cpus();
  return `${cpu.length} CPUs (${cpu[0]?.model.trim() ?? 'unknown model'}), Node ${process.version}`;
}

function section(outcome: Outcome): string {
  const { benchmark } = outcome;
  const load = (values: number[]) => values.map((v) => v.toFixed(2)).join(' ');
  const lines = [
    `<!-- bench:${benchmark.name} -->`,
    `## ${benchmark.title}`,
    '',
    `- Command: \`${outcome.command}\` (from the repository root; \`npm run bench\` runs it)`,
    `- Date: ${outcome.started.toISOString().replace(/\.\d+Z$/, 'Z')}, ${Math.round(outcome.durationS)} s`,
    `- Machine: ${machine()}; load average (1, 5, 15 min) ${load(outcome.loadBefore)} before, ${load(outcome.loadAfter)} after`,
    '',
  ];
  if (!outcome.result) {
    lines.push(`**No figures: the benchmark failed.** ${outcome.error ?? ''}`, '');
  } else {
    const verdicts = benchmark.verdicts(outcome.result);
    if (verdicts.length > 0) {
      lines.push('| figure | result | target | |', '| --- | --- | --- | --- |');
      for (const v of verdicts) lines.push(`| ${v.figure} | ${v.value} | ${v.target} | ${v.met ? 'pass' : '**FAIL**'} |`);
      lines.push('');
    }
    const detail = benchmark.detail?.(outcome.result);
    if (detail) lines.push(detail, '');
    lines.push('<details><summary>JSON printed by the benchmark</summary>', '', '```json', JSON.stringify(outcome.result, null, 2), '```', '', '</details>', '');
  }
  lines.push(`<!-- /bench:${benchmark.name} -->`);
  return lines.join('\n');
}

/** The sections of an existing RESULTS.md, by benchmark name, to keep those that did not run now. */
async function previousSections(): Promise<Map<string, string>> {
  const text = existsSync(RESULTS) ? await readFile(RESULTS, 'utf8') : '';
  const sections = new Map<string, string>();
  for (const match of text.matchAll(/<!-- bench:([\w-]+) -->[\s\S]*?<!-- \/bench:\1 -->/g)) sections.set(match[1]!, match[0]);
  return sections;
}

const HEADER = `# Benchmark results

Written by \`bench/run.ts\` (\`npm run bench\`) from the JSON each benchmark prints; not edited by hand.
Each section says when, where and with which command its figures were made. Timings depend on what
else the machine runs, so each section also records the load average around its run. Benchmarks are
never timed tests: nothing in test/ asserts a timing.
`;

async function main(): Promise<number> {
  const all = await discover();
  const only = argument('only')
    ?.split(',')
    .map((name) => name.trim());
  const unknown = only?.filter((name) => !all.some((b) => b.name === name)) ?? [];
  if (unknown.length > 0) throw new Error(`--only: no benchmark ${unknown.join(', ')} in bench/ (there are ${all.map((b) => b.name).join(', ')})`);
  const selected = only ? all.filter((b) => only.includes(b.name)) : all;

  const outcomes: Outcome[] = [];
  for (const benchmark of selected) outcomes.push(await runOne(benchmark));

  const previous = await previousSections();
  const sections = all.flatMap((benchmark) => {
    const outcome = outcomes.find((o) => o.benchmark === benchmark);
    // A benchmark that could not run here (its inputs are fetched, and this machine is offline) leaves its figures as they were.
    if (outcome && typeof outcome.result?.skipped !== 'string') return [section(outcome)];
    const kept = previous.get(benchmark.name);
    return kept ? [kept] : [];
  });
  await writeFile(RESULTS, `${HEADER}\n${sections.join('\n\n')}\n`);

  for (const outcome of outcomes) {
    if (!outcome.result) {
      console.log(`${outcome.benchmark.name}: FAILED: ${outcome.error}`);
      continue;
    }
    if (typeof outcome.result.skipped === 'string') {
      console.log(`${outcome.benchmark.name}: skipped (RESULTS.md keeps its earlier figures): ${outcome.result.skipped}`);
      continue;
    }
    const verdicts = outcome.benchmark.verdicts(outcome.result);
    if (verdicts.length === 0) console.log(`${outcome.benchmark.name}: done (no target)`);
    for (const v of verdicts) console.log(`${outcome.benchmark.name}: ${v.met ? 'pass' : 'FAIL'}  ${v.value.replaceAll('**', '')}  (target ${v.target})`);
  }
  console.log(`bench: wrote ${RESULTS}`);
  return outcomes.some((o) => !o.result) ? 1 : 0;
}

process.exitCode = await main();
