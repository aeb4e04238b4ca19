/**
 * Settings for the SDK clients as ship uses them: the region (and optional endpoint override) from the config,
 * adaptive retries so throttling slows us down instead of failing the rollout, and credentials
 * left to the SDK's default provider chain (environment, profiles, SSO, container and instance
 * roles), so ship never reads, stores or prints a key itself.
 */

export interface AwsClientOptions {
  region: string;
  /** For VPC endpoints, proxies and tests; the region is still used for signing. */
  endpoint?: string;
  /** Attempts per call, first try included. */
  maxAttempts?: number;
}

export const DEFAULT_MAX_ATTEMPTS = 5;

const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/**
 * The SDK clients themselves are built where they are used, so a config that never calls AWS
 * (or only EC2) never loads the other SDK: loading one costs about half a second.
 */
export function awsClientConfig(options: AwsClientOptions) {
  if (!REGION.test(options.region)) {
    throw new Error(`AWS region '${options.region}' is not a region name like us-east-1; set the region in the config`);
  }
  if (options.endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(options.endpoint);
    } catch {
      throw new Error(`AWS endpoint '${options.endpoint}' is not a URL; give it as https://host[:port]`);
    }
    if (url.username || url.password) throw new Error('the AWS endpoint URL must not carry credentials; use the standard credential chain');
  }
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new Error(`AWS maxAttempts must be a whole number of at least 1 (got ${options.maxAttempts})`);
  }
  return {
    region: options.region,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    retryMode: 'adaptive',
    maxAttempts,
  };
}

/** Where calls go, for error messages about reachability. */
export function describeEndpoint(options: AwsClientOptions): string {
  return options.endpoint ?? `the ${options.region} regional endpoint`;
}
