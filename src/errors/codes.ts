/**
 * Stable error codes: every failure a user can meet has one, and docs/runbook.md has a section
 * for each (what it means, what ship already did, what to do next). Codes are never renumbered
 * or reused; a retired code keeps its runbook section. test/unit/error-codes.test.ts fails when
 * the catalogue and the runbook disagree.
 *
 * The catalogue imports nobody: each error class carries its own entry (`shipCode`, see
 * CodedError), and classification reads what the error carries. So classifying an error never
 * loads the AWS SDK or the PostgreSQL driver, no module has to import every error class, and an
 * error from another copy of a module classifies the same.
 */
export interface ErrorCodeInfo {
  readonly code: string;
  readonly title: string;
}

const catalogue = {
  configInvalid: { code: 'SHIP-E001', title: 'Invalid config' },
  usage: { code: 'SHIP-E002', title: 'Invalid flags or arguments' },
  playbookInvalid: { code: 'SHIP-E003', title: 'Playbook cannot be loaded' },
  playbookVarsMissing: { code: 'SHIP-E004', title: 'Playbook variables missing' },
  capacityPlanRefused: { code: 'SHIP-E005', title: 'A batch would breach the capacity floor' },
  hostUnreachable: { code: 'SHIP-E006', title: 'Host unreachable' },
  hostKeyRejected: { code: 'SHIP-E007', title: 'Host key unknown or changed' },
  sshAuthFailed: { code: 'SHIP-E008', title: 'SSH authentication failed' },
  loadBalancerUnusable: { code: 'SHIP-E009', title: 'Load balancer unreachable or refused a command' },
  databaseCheckFailed: { code: 'SHIP-E010', title: 'Database pre-flight failed' },
  migrationRefused: { code: 'SHIP-E011', title: 'A pending migration would break the running code' },
  lockHeld: { code: 'SHIP-E012', title: 'Another run holds the deploy lock' },
  stageFailed: { code: 'SHIP-E013', title: 'Staging failed before any instance left' },
  stepFailed: { code: 'SHIP-E014', title: 'A step failed on an instance' },
  healthCheckTimeout: { code: 'SHIP-E015', title: 'Health check did not pass in time' },
  lbHealthTimeout: { code: 'SHIP-E016', title: 'Load balancer did not report the instance healthy' },
  drainTimeout: { code: 'SHIP-E017', title: 'Drain deadline passed' },
  capacityFloor: { code: 'SHIP-E018', title: 'Capacity floor stopped the rollout' },
  rollbackFailed: { code: 'SHIP-E019', title: 'Rollback failed and the instance is left out' },
  reloadFailed: { code: 'SHIP-E020', title: 'In-place reload failed' },
  commandTimeout: { code: 'SHIP-E021', title: 'Command timed out on a host' },
  connectionLost: { code: 'SHIP-E022', title: 'SSH connection lost or upload failed' },
  awsCredentials: { code: 'SHIP-E023', title: 'AWS credentials missing, expired or rejected' },
  awsPermissions: { code: 'SHIP-E024', title: 'AWS permissions missing' },
  awsUnavailable: { code: 'SHIP-E025', title: 'AWS API throttled, failing or unreachable' },
  awsRejected: { code: 'SHIP-E026', title: 'AWS resource not found or request rejected' },
  inventoryFailed: { code: 'SHIP-E027', title: 'EC2 inventory failed' },
  lintFindings: { code: 'SHIP-E028', title: 'Migration lint found errors' },
  migrationInputUnreadable: { code: 'SHIP-E029', title: 'Migration files or git base unreadable' },
  interrupted: { code: 'SHIP-E030', title: 'Run interrupted' },
  windowEnded: { code: 'SHIP-E031', title: 'Maintenance window ended' },
  notificationFailed: { code: 'SHIP-E032', title: 'Notification not delivered' },
  preflightFailed: { code: 'SHIP-E033', title: 'Pre-flight check failed' },
  waitTimeout: { code: 'SHIP-E034', title: 'A wait ran out of time' },
  lockAlive: { code: 'SHIP-E035', title: 'The deploy lock is alive and was not broken' },
  stateStoreUnusable: { code: 'SHIP-E036', title: 'State store unreachable or unusable' },
  migrationFailed: { code: 'SHIP-E040', title: 'A migration failed on the primary' },
  migrationLockTimeout: { code: 'SHIP-E041', title: 'A migration could not take its locks' },
  migrationCommandFailed: { code: 'SHIP-E042', title: 'The migration command failed' },
  versionTableUnusable: { code: 'SHIP-E043', title: 'The version table cannot record migrations' },
  replicaWaitTimeout: { code: 'SHIP-E045', title: 'Replicas did not show the new schema version in time' },
  migrationPhaseInvalid: { code: 'SHIP-E046', title: "A migration's phase marker is invalid" },
  runOnceStepFailed: { code: 'SHIP-E047', title: 'A run-once playbook step failed' },
  analysisFailed: { code: 'SHIP-E055', title: 'Canary analysis failed' },
  analysisInconclusive: { code: 'SHIP-E056', title: 'Not enough requests to judge a batch' },
  analysisUnavailable: { code: 'SHIP-E057', title: 'Canary analysis could not be read' },
  fleetRollbackIncomplete: { code: 'SHIP-E058', title: 'Fleet rollback did not finish' },
  secretUnavailable: { code: 'SHIP-E065', title: 'A secret could not be resolved' },
  registryLoginFailed: { code: 'SHIP-E066', title: 'Container registry login failed' },
  imagePullFailed: { code: 'SHIP-E067', title: 'Container image could not be pulled or loaded' },
  containerStartFailed: { code: 'SHIP-E068', title: 'The new container did not start' },
  containerImageMissing: { code: 'SHIP-E069', title: 'The image to go back to is not on the host' },
  unexpected: { code: 'SHIP-E099', title: 'Unexpected error' },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCodeName = keyof typeof catalogue;
export type ErrorCode = (typeof catalogue)[ErrorCodeName];

export const ERROR_CODES: { readonly [K in ErrorCodeName]: (typeof catalogue)[K] } = catalogue;

/** Every code, in catalogue order. */
export const ALL_ERROR_CODES: readonly ErrorCode[] = Object.values(catalogue);

/**
 * The anchor GitHub (and most Markdown renderers) give the runbook heading `## <code> <title>`:
 * lower case, punctuation dropped, spaces to hyphens.
 */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

export function runbookAnchor(code: ErrorCodeInfo): string {
  return headingAnchor(`${code.code} ${code.title}`);
}

export const RUNBOOK_PATH = 'docs/runbook.md';
/** Absolute URL of docs/runbook.md (a Git host's page), for links that must open outside the repository. */
export const RUNBOOK_URL_ENV = 'SHIP_RUNBOOK_URL';

/** A link to the code's runbook section: relative to the repository unless a base URL is given or set in SHIP_RUNBOOK_URL. */
export function runbookLink(code: ErrorCodeInfo, base: string | undefined = process.env[RUNBOOK_URL_ENV]): string {
  return `${base || RUNBOOK_PATH}#${runbookAnchor(code)}`;
}

/** One line for terminals and notifications: `SHIP-E015 Health check did not pass in time: docs/runbook.md#...`. */
export function describeCode(code: ErrorCodeInfo, base?: string): string {
  return `${code.code} ${code.title}: ${runbookLink(code, base)}`;
}

/**
 * Causes a person must fix before anything else (a key, a credential): when a wrapper such as a
 * load balancer error carries one, it names the failure. Most specific first.
 */
const ROOT_CAUSES: readonly ErrorCode[] = [catalogue.hostKeyRejected, catalogue.sshAuthFailed, catalogue.awsCredentials, catalogue.awsPermissions];

/**
 * An error that knows its catalogue entry. Error classes define `shipCode` as a getter, so it
 * stays out of printed errors and JSON; it may depend on the error's fields (a transport error's
 * kind, a deadline's step).
 */
export interface CodedError extends Error {
  readonly shipCode: ErrorCode;
  /** A refusal is only as specific as what caused it: a code found among its causes replaces its own. */
  readonly shipCodeYieldsToCause?: boolean;
}

/** The entry an error carries, looked up by its code so an entry from another copy of this module counts too. */
function carriedCode(error: unknown): ErrorCode | undefined {
  if (!(error instanceof Error)) return undefined;
  const { shipCode } = error as Partial<CodedError>;
  return typeof shipCode?.code === 'string' ? findCode(shipCode.code) : undefined;
}

function mostSpecific(codes: ErrorCode[]): ErrorCode | undefined {
  return ROOT_CAUSES.find((root) => codes.includes(root)) ?? codes.find((code) => code !== catalogue.unexpected);
}

/** What caused this error, when the thrower kept it: `cause`, or every error of an AggregateError. */
function causes(error: Error): unknown[] {
  const found: unknown[] = [];
  if (error instanceof AggregateError) found.push(...error.errors);
  if (error.cause !== undefined) found.push(error.cause);
  return found;
}

/**
 * The code for an error a command met. Causes the thrower attached (`cause`, AggregateError)
 * refine it: a connectivity refusal caused by a changed host key is SHIP-E007, not SHIP-E006.
 */
export function classifyError(error: unknown): ErrorCode {
  return classifyWithin(error, new Set());
}

function classifyWithin(error: unknown, seen: Set<unknown>): ErrorCode {
  if (seen.has(error)) return catalogue.unexpected;
  seen.add(error);
  const own = carriedCode(error);
  if (!(error instanceof Error)) return own ?? catalogue.unexpected;
  const fromCauses = mostSpecific(causes(error).map((cause) => classifyWithin(cause, seen)));
  if (fromCauses === undefined) return own ?? catalogue.unexpected;
  // A refusal or a plain wrapper is only as specific as what caused it; any other error keeps its
  // own code unless the cause is something a person must fix first (a key, a credential).
  if (own === undefined || (error as Partial<CodedError>).shipCodeYieldsToCause === true) return fromCauses;
  return ROOT_CAUSES.includes(fromCauses) ? fromCauses : own;
}

export function findCode(code: string): ErrorCode | undefined {
  return ALL_ERROR_CODES.find((entry) => entry.code === code);
}
