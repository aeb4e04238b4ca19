import type { CommandModule } from 'yargs';
import { COMMAND_LINES } from './commands.js';
import { agreement, formatReleases, listReleases } from '../commands/releases.js';
import { redact, redactDeep } from '../util/redact.js';
import { appOption, loadApp } from './app-option.js';
import { parseHosts, parseRoles, parseVars } from './roll-flags.js';
import { EXIT } from './exit-codes.js';

interface ReleasesArgs {
  config: string;
  json?: boolean;
  app?: string;
  hosts?: string;
  roles?: string;
  var?: string[];
  'accept-new-host-keys'?: boolean;
}

export const releasesCommand: CommandModule<{ config: string; json?: boolean }, ReleasesArgs> = {
  ...COMMAND_LINES.releases,
  builder: (yargs) =>
    appOption(yargs)
      .option('hosts', { type: 'string', describe: 'only these hosts (comma-separated names)' })
      .option('roles', { type: 'string', describe: 'an app with roles: only these roles (comma-separated)' })
      .option('var', { type: 'string', array: true, describe: 'key=value, overrides config variables (e.g. appDir)' })
      .option('accept-new-host-keys', { type: 'boolean', describe: 'trust and record keys of hosts not yet in known_hosts' }),
  handler: async (args) => {
    const loaded = await loadApp(args);
    const hosts = await listReleases(loaded, {
      ...(args.hosts !== undefined ? { hosts: parseHosts(args.hosts)! } : {}),
      ...(args.roles !== undefined ? { roles: parseRoles(args.roles)! } : {}),
      vars: parseVars(args.var),
      ...(args['accept-new-host-keys'] ? { transport: { acceptNewHostKeys: true } } : {}),
    });
    const verdict = agreement(hosts);
    if (args.json) process.stdout.write(`${JSON.stringify(redactDeep({ app: loaded.config.app, hosts, ...verdict }))}\n`);
    else process.stdout.write(`${redact(formatReleases(hosts))}\n`);
    process.exitCode = verdict.disagreeing.length > 0 || verdict.unreadable.length > 0 ? EXIT.rolloutFailed : EXIT.ok;
  },
};
