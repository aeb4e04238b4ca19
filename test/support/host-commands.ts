/** Shell text for a test host's `restart` variable, which tests wrap to slow, fail or gate a host's restart. */
import { quote } from '../../src/shell/sh.js';
import type { FleetHost } from '../fleet/fleet.js';

/** The host's ordinary restart: its app's restart.sh. */
export function restartOf(host: FleetHost): string {
  return `sh ${quote(`${host.appDir}/restart.sh`)} ${quote(host.appDir)}`;
}

/** Runs `then` only when the host's `current` is `version`: the deploy's restart, not its rollback's. */
export function onlyFor(host: FleetHost, version: string, then: string): string {
  return `case "$(readlink ${quote(`${host.appDir}/current`)})" in */${version}) ${then};; esac`;
}
