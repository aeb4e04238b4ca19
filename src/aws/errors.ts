/**
 * Turns AWS SDK failures into errors a person can act on. Retries already happened inside the
 * SDK (adaptive mode), so what reaches here is final. Credential failures never repeat what the
 * server or provider said beyond the error code: nothing derived from a key may reach a log.
 */

import { ERROR_CODES, type CodedError, type ErrorCode } from '../errors/codes.js';

export type AwsService = 'EC2' | 'ELBv2' | 'CloudWatch';

export type AwsFailureKind = 'credentials' | 'permissions' | 'throttled' | 'unavailable' | 'network' | 'not-found' | 'api';

const AWS_CODES: Record<AwsFailureKind, ErrorCode> = {
  credentials: ERROR_CODES.awsCredentials,
  permissions: ERROR_CODES.awsPermissions,
  throttled: ERROR_CODES.awsUnavailable,
  unavailable: ERROR_CODES.awsUnavailable,
  network: ERROR_CODES.awsUnavailable,
  'not-found': ERROR_CODES.awsRejected,
  api: ERROR_CODES.awsRejected,
};

/** `code` is the AWS error code (`AccessDenied`); `shipCode` is ship's catalogue entry. */
export class AwsError extends Error implements CodedError {
  constructor(
    readonly service: AwsService,
    readonly action: string,
    readonly kind: AwsFailureKind,
    readonly code: string,
    message: string,
    readonly attempts?: number,
  ) {
    super(message);
    this.name = 'AwsError';
  }

  get shipCode(): ErrorCode {
    return AWS_CODES[this.kind] ?? ERROR_CODES.awsRejected;
  }
}

export interface AwsCallContext {
  service: AwsService;
  action: string;
  /** The endpoint override, or the region, for messages about reachability. */
  where: string;
}

const EXPIRED_CODES = new Set(['ExpiredToken', 'ExpiredTokenException', 'TokenRefreshRequired']);
const REJECTED_CODES = new Set([
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'AuthFailure',
  'SignatureDoesNotMatch',
  'InvalidAccessKeyId',
  'MissingAuthenticationToken',
  'IncompleteSignature',
  'InvalidSignatureException',
]);
const CLOCK_CODES = new Set(['RequestExpired', 'RequestInTheFuture', 'RequestTimeTooSkewed']);
const PERMISSION_CODES = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation']);
const THROTTLING_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'EC2ThrottledException',
  'SlowDown',
]);
const NOT_FOUND_CODES = new Set(['TargetGroupNotFound', 'TargetGroupNotFoundException', 'LoadBalancerNotFound', 'LoadBalancerNotFoundException']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

interface SdkErrorShape {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

/** Anything that looks like a key, token or signature is cut out of provider messages before they are shown. */
function redactSecrets(text: string): string {
  return text.replace(/[A-Za-z0-9/+=]{32,}/g, '[redacted]').replace(/\b(AKIA|ASIA)[A-Z0-9]{12,}\b/g, '[redacted]');
}

function attemptsText(attempts: number | undefined): string {
  return attempts && attempts > 1 ? ` after ${attempts} attempts` : '';
}

export function toAwsError(context: AwsCallContext, error: unknown): AwsError {
  if (error instanceof AwsError) return error;
  const sdk = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as SdkErrorShape;
  const code = sdk.Code ?? sdk.code ?? sdk.name ?? 'Error';
  const status = sdk.$metadata?.httpStatusCode;
  const attempts = sdk.$metadata?.attempts;
  const call = `${context.service} ${context.action}`;
  const serverMessage = sdk.message ? `: ${sdk.message}` : '';
  const make = (kind: AwsFailureKind, message: string) => new AwsError(context.service, context.action, kind, code, message, attempts);

  if (sdk.name === 'CredentialsProviderError' || code === 'CredentialsProviderError') {
    return make(
      'credentials',
      `${call}: no usable AWS credentials (${redactSecrets(sdk.message ?? 'no provider succeeded')}). ` +
        'ship uses the standard chain: environment variables, AWS_PROFILE / shared config (including SSO), ' +
        'container or instance roles. Log in (for example `aws sso login`) or set a profile, then run again.',
    );
  }
  if (EXPIRED_CODES.has(code)) {
    return make(
      'credentials',
      `${call}: the AWS credentials have expired (${code}). Refresh them (for example \`aws sso login\` or a new ` +
        'session from your credential broker) and run again; nothing was changed by this call.',
    );
  }
  if (REJECTED_CODES.has(code)) {
    return make(
      'credentials',
      `${call}: AWS rejected the credentials (${code}). Check which identity the standard chain picks up ` +
        '(AWS_PROFILE, AWS_ACCESS_KEY_ID, instance role) and that it belongs to the right account.',
    );
  }
  if (CLOCK_CODES.has(code)) {
    return make('credentials', `${call}: AWS refused the request signature as out of date (${code}); check this machine's clock.`);
  }
  if (PERMISSION_CODES.has(code)) {
    return make('permissions', `${call}: the AWS identity is not allowed to do this (${code}). \`ship iam-policy\` prints the policy ship needs.`);
  }
  if (THROTTLING_CODES.has(code) || status === 429) {
    return make(
      'throttled',
      `${call}: AWS kept throttling the request${attemptsText(attempts)} (${code}${serverMessage}). Stopped rather than guess; run again later or raise maxAttempts.`,
    );
  }
  if (status !== undefined && status >= 500) {
    return make(
      'unavailable',
      `${call}: AWS kept answering with server errors${attemptsText(attempts)} (${status} ${code}${serverMessage}). ` +
        'Stopped rather than guess; run again later or raise maxAttempts.',
    );
  }
  if (NETWORK_CODES.has(code) || code === 'TimeoutError') {
    return make('network', `${call}: cannot reach the API at ${context.where}${attemptsText(attempts)} (${code}); check the region, the endpoint override and the network.`);
  }
  if (NOT_FOUND_CODES.has(code)) return make('not-found', `${call}: ${code}${serverMessage}`);
  return make('api', `${call} failed: ${code}${serverMessage}`);
}

export async function callAws<T>(context: AwsCallContext, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    throw toAwsError(context, error);
  }
}
