/**
 * Connection budget: will the primary accept every connection the fleet may open during the
 * rollout? While an instance restarts, its new processes start before the old ones stop, so for a
 * moment a batch holds two pools per process.
 */
import type pg from 'pg';

export interface ConnectionCapacity {
  maxConnections: number;
  /** superuser_reserved_connections plus reserved_connections (PostgreSQL 16+): not for the app. */
  reservedConnections: number;
  /** Client connections held now by anyone but the app's role (all of them when no appRole is known). */
  otherClients: number;
  /** The role whose connections are the fleet's own, already counted in the demand; null when unknown. */
  appRole: string | null;
}

export interface FleetDemand {
  instances: number;
  /** Connection pool size of one app process. */
  poolSize: number;
  processesPerInstance?: number;
  /** Instances restarted at the same time. */
  batchSize: number;
}

export interface ConnectionBudget {
  fits: boolean;
  /** Connections the app may have: max_connections − reserved − other clients. */
  available: number;
  /** Every instance's processes with full pools. */
  steady: number;
  /** Extra pools of the new processes running beside the old ones in one batch. */
  restartOverlap: number;
  /** steady + restartOverlap: the most the fleet may hold at once. */
  peak: number;
  /** The arithmetic in words, for the pre-flight report or the refusal. */
  message: string;
}

/**
 * Reads the primary's limits and who else is connected. Connections of `appRole` are left out of
 * `otherClients` because the fleet's demand already counts them; without it they are counted twice,
 * which can only make the check stricter.
 */
export async function readConnectionCapacity(client: pg.Client, options: { appRole?: string } = {}): Promise<ConnectionCapacity> {
  const { rows } = await client.query<{ max_connections: string; superuser_reserved: string; reserved: string | null; others: string }>(
    `select current_setting('max_connections') as max_connections,
            current_setting('superuser_reserved_connections') as superuser_reserved,
            current_setting('reserved_connections', true) as reserved,
            (select count(*) from pg_stat_activity
              where ($1::text is null or usename is distinct from $1::text)
                and (backend_type = 'client backend'
                     -- Without pg_read_all_stats, backend_type of other roles' sessions is hidden; a
                     -- session with a database and a role is then counted as a client (it may be a
                     -- parallel or logical-replication worker: counting it only makes the check stricter).
                     or (backend_type is null and datid is not null and usesysid is not null)))::text as others`,
    [options.appRole ?? null],
  );
  const row = rows[0]!;
  return {
    maxConnections: Number(row.max_connections),
    reservedConnections: Number(row.superuser_reserved) + Number(row.reserved ?? 0),
    otherClients: Number(row.others),
    appRole: options.appRole ?? null,
  };
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new Error(`connection budget: ${name} must be a whole number ≥ 0, got ${value}`);
  return value;
}

export function planConnectionBudget(capacity: ConnectionCapacity, demand: FleetDemand, primaryName: string): ConnectionBudget {
  const instances = positiveInteger('instances', demand.instances);
  const poolSize = positiveInteger('poolSize', demand.poolSize);
  const processes = positiveInteger('processesPerInstance', demand.processesPerInstance ?? 1);
  const batchSize = Math.min(positiveInteger('batchSize', demand.batchSize), instances);

  const available = capacity.maxConnections - capacity.reservedConnections - capacity.otherClients;
  const steady = instances * processes * poolSize;
  const restartOverlap = batchSize * processes * poolSize;
  const peak = steady + restartOverlap;
  const fits = peak <= available;

  const others =
    capacity.appRole === null
      ? `${capacity.otherClients} client connections open now (all counted: set the app's role to leave the fleet's own out)`
      : `${capacity.otherClients} open now by roles other than ${capacity.appRole}`;
  const need =
    `the fleet may hold ${peak} connections during the rollout ` +
    `(${instances} instances × ${processes} processes × pool ${poolSize} = ${steady}, ` +
    `+ ${restartOverlap} while a batch of ${batchSize} runs new and old processes side by side)`;
  const have = `${primaryName} accepts ${available} ` + `(max_connections ${capacity.maxConnections} − ${capacity.reservedConnections} reserved − ${others})`;
  const message = fits
    ? `connection budget fits: ${need}; ${have}`
    : `connection budget exceeded by ${peak - available}: ${need}, but ${have}. Lower database.poolSize or rollout.batchSize, or raise max_connections on the primary.`;
  return { fits, available, steady, restartOverlap, peak, message };
}
