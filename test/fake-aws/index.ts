import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLOUDWATCH_TARGET_PREFIX, handleCloudWatch } from './cloudwatch-api.js';
import { handleEc2 } from './ec2-api.js';
import { handleElbv2 } from './elbv2-api.js';
import { AwsFault, faultFor, type PresetFault } from './faults.js';
import { FakeAwsState, type FakeStateOptions } from './state.js';
import { element, escapeXml } from './xml.js';

/**
 * A local stand-in for the EC2 and ELBv2 APIs, for tests: it speaks their query protocols
 * (form-encoded POST, XML answers, AWS error XML) so the real SDK clients, with their
 * serialisation, signing and retries, run unchanged against `endpoint`. CloudWatch's
 * DescribeAlarms too, in the JSON 1.0 protocol its client uses (./cloudwatch-api.ts).
 */

export type { FakeInstanceSpec, FakeTargetGroupSpec, TargetHealthView, TransitionRecord } from './state.js';
export { FakeAwsState } from './state.js';

export interface FakeAwsOptions extends FakeStateOptions {
  /** Instances per DescribeInstances page at most, so tests see NextToken pagination. */
  ec2PageSize?: number;
}

export interface Injection {
  /** The action to fail ('DeregisterTargets', 'DescribeInstances', ...); absent: any action. */
  action?: string;
  /** How many matching calls fail. */
  times: number;
  /** Matching calls let through before the failures start (to fail a later page, or a poll mid-wait). */
  after?: number;
  error: PresetFault | { code: string; status: number; message: string };
}

export interface FakeAws {
  endpoint: string;
  state: FakeAwsState;
  /** The next `times` calls of `action` (after `after` successes) fail with `error`; rules queue in order. */
  inject(injection: Injection): void;
  stop(): Promise<void>;
}

/** Static credentials the SDK can sign with; the fake checks a signature is present, not its value. */
export const FAKE_CREDENTIALS = {
  accessKeyId: 'AKIAFAKEACCESSKEY000',
  secretAccessKey: 'fake/secret+key/NEVER-IN-OUTPUT/000000000',
} as const;

/** Environment for a process whose SDK should find FAKE_CREDENTIALS through the default provider chain. */
export function fakeCredentialsEnv(): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
    // Nothing from the machine's own AWS setup may leak in, and nothing may be asked of a real metadata service.
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/nonexistent/ship-fake-aws/config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/ship-fake-aws/credentials',
  };
}

const SERVICES: Record<string, 'ec2' | 'elbv2'> = { '2016-11-15': 'ec2', '2015-12-01': 'elbv2' };
const ELBV2_NAMESPACE = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';
const EC2_NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/';

function successBody(service: 'ec2' | 'elbv2', action: string, inner: string, requestId: string): string {
  if (service === 'ec2') {
    return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_NAMESPACE}">${element('requestId', requestId)}${inner}</${action}Response>`;
  }
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${ELBV2_NAMESPACE}">` +
    `<${action}Result>${inner}</${action}Result>` +
    element('ResponseMetadata', [element('RequestId', requestId)]) +
    `</${action}Response>`
  );
}

function errorBody(service: 'ec2' | 'elbv2' | undefined, fault: AwsFault, requestId: string): string {
  if (service === 'ec2') {
    return `<?xml version="1.0" encoding="UTF-8"?>\n<Response>${element('Errors', [element('Error', [element('Code', fault.code), element('Message', fault.message)])])}${element('RequestID', requestId)}</Response>`;
  }
  const type = fault.status >= 500 ? 'Receiver' : 'Sender';
  return `<ErrorResponse xmlns="${ELBV2_NAMESPACE}">${element('Error', [element('Type', type), element('Code', fault.code), element('Message', fault.message)])}${element('RequestId', requestId)}</ErrorResponse>`;
}

function readBody(request: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

export async function startFakeAws(options: FakeAwsOptions = {}): Promise<FakeAws> {
  const state = new FakeAwsState(options);
  const pageSize = options.ec2PageSize ?? 1000;
  const injections: Array<{ action?: string; error: Injection['error']; passes: number; remaining: number }> = [];

  /** Only the first unfinished rule for the action is consulted, so queued rules apply one after another. */
  function takeInjection(action: string): AwsFault | undefined {
    const rule = injections.find((candidate) => candidate.remaining > 0 && (candidate.action ?? action) === action);
    if (!rule) return undefined;
    if (rule.passes > 0) {
      rule.passes--;
      return undefined;
    }
    rule.remaining--;
    return faultFor(rule.error);
  }

  /** A JSON 1.0 request (CloudWatch): the action is in the target header, errors are JSON with the query error code beside. */
  async function answerJson(request: http.IncomingMessage, response: http.ServerResponse, target: string): Promise<void> {
    const requestId = randomUUID();
    const body = await readBody(request);
    const action = target.slice(CLOUDWATCH_TARGET_PREFIX.length);
    let status = 200;
    let answerBody: string;
    const headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': requestId };
    try {
      if (!String(request.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')) {
        throw new AwsFault('MissingAuthenticationToken', 'Request is missing Authentication Token', 403);
      }
      const injected = takeInjection(action);
      if (injected) throw injected;
      answerBody = JSON.stringify(handleCloudWatch(action, body, state));
    } catch (error) {
      const fault = error instanceof AwsFault ? error : new AwsFault('InternalFailure', String(error), 500);
      status = fault.status;
      answerBody = JSON.stringify({ __type: fault.code, message: fault.message });
      headers['x-amzn-query-error'] = `${fault.code};${fault.status >= 500 ? 'Receiver' : 'Sender'}`;
    }
    state.calls.push({ service: 'cloudwatch', action, params: { body }, status, at: Date.now() });
    response.writeHead(status, headers);
    response.end(answerBody);
  }

  async function answer(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const target = String(request.headers['x-amz-target'] ?? '');
    if (target.startsWith(CLOUDWATCH_TARGET_PREFIX)) return answerJson(request, response, target);
    const requestId = randomUUID();
    const params = new URLSearchParams(await readBody(request));
    const action = params.get('Action') ?? '';
    const service = SERVICES[params.get('Version') ?? ''];
    let status = 200;
    let body: string;
    try {
      if (request.method !== 'POST' || !service) throw new AwsFault('InvalidAction', `Unsupported request: ${request.method} Version=${escapeXml(params.get('Version') ?? '')}`);
      if (!String(request.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')) {
        throw new AwsFault('MissingAuthenticationToken', 'Request is missing Authentication Token', 403);
      }
      const injected = takeInjection(action);
      if (injected) throw injected;
      const inner = service === 'ec2' ? handleEc2(action, params, state, pageSize) : handleElbv2(action, params, state);
      body = successBody(service, action, inner, requestId);
    } catch (error) {
      const fault = error instanceof AwsFault ? error : new AwsFault('InternalFailure', String(error), 500);
      status = fault.status;
      body = errorBody(service, fault, requestId);
    }
    state.calls.push({ service: service ?? 'elbv2', action, params: Object.fromEntries(params), status, at: Date.now() });
    response.writeHead(status, { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': requestId });
    response.end(body);
  }

  const server = http.createServer((request, response) => {
    answer(request, response).catch((error: unknown) => {
      response.writeHead(500);
      response.end(String(error));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  state.startHealthChecks();
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    state,
    inject(injection) {
      injections.push({ action: injection.action, error: injection.error, passes: injection.after ?? 0, remaining: injection.times });
    },
    async stop() {
      state.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
