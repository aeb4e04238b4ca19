import {
  DeregisterTargetsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  RegisterTargetsCommand,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { AwsError, callAws } from './errors.js';

/** The few ELBv2 calls ship makes, typed down to what it reads, with failures turned into AwsError. */

export interface TargetGroupInfo {
  arn: string;
  name: string;
  targetType: string;
  port?: number;
  /** From the `deregistration_delay.timeout_seconds` attribute. */
  deregistrationDelayMs: number;
  /** `HealthCheckIntervalSeconds` and `HealthyThresholdCount`: how long a registered target waits to be called healthy. */
  healthCheckIntervalSeconds?: number;
  healthyThresholdCount?: number;
}

export interface TargetRef {
  id: string;
  port?: number;
}

export interface TargetHealthEntry {
  id: string;
  port?: number;
  /** initial | healthy | unhealthy | unused | draining | unavailable ... */
  state: string;
  reason?: string;
  description?: string;
}

/** AWS's default when the attribute is missing. */
const DEFAULT_DEREGISTRATION_DELAY_SECONDS = 300;
/** DescribeTargetGroups accepts at most this many ARNs per call. */
const ARNS_PER_CALL = 20;

export class Elbv2Api {
  constructor(
    private readonly client: ElasticLoadBalancingV2Client,
    private readonly where: string,
    private readonly region: string,
  ) {}

  private call<T>(action: string, send: () => Promise<T>): Promise<T> {
    return callAws({ service: 'ELBv2', action, where: this.where }, send);
  }

  /** Every ARN must exist; otherwise throws naming exactly the ones that do not. */
  async describeTargetGroups(arns: readonly string[]): Promise<TargetGroupInfo[]> {
    const found = [];
    for (let start = 0; start < arns.length; start += ARNS_PER_CALL) {
      const chunk = arns.slice(start, start + ARNS_PER_CALL);
      try {
        const output = await this.call('DescribeTargetGroups', () => this.client.send(new DescribeTargetGroupsCommand({ TargetGroupArns: chunk })));
        found.push(...(output.TargetGroups ?? []));
      } catch (error) {
        if (error instanceof AwsError && error.kind === 'not-found') throw await this.missingGroupsError(chunk, error);
        throw error;
      }
    }
    return Promise.all(
      found.map(async (group) => {
        const arn = group.TargetGroupArn ?? '';
        return {
          arn,
          name: group.TargetGroupName ?? arn,
          targetType: group.TargetType ?? 'instance',
          port: group.Port,
          deregistrationDelayMs: (await this.deregistrationDelaySeconds(arn)) * 1000,
          ...(group.HealthCheckIntervalSeconds === undefined ? {} : { healthCheckIntervalSeconds: group.HealthCheckIntervalSeconds }),
          ...(group.HealthyThresholdCount === undefined ? {} : { healthyThresholdCount: group.HealthyThresholdCount }),
        };
      }),
    );
  }

  async targetHealth(arn: string): Promise<TargetHealthEntry[]> {
    const output = await this.call('DescribeTargetHealth', () => this.client.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn })));
    return (output.TargetHealthDescriptions ?? []).map((description) => ({
      id: description.Target?.Id ?? '',
      port: description.Target?.Port,
      state: description.TargetHealth?.State ?? 'unknown',
      reason: description.TargetHealth?.Reason,
      description: description.TargetHealth?.Description,
    }));
  }

  async register(arn: string, targets: TargetRef[]): Promise<void> {
    await this.call('RegisterTargets', () => this.client.send(new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: targets.map(toSdkTarget) })));
  }

  async deregister(arn: string, targets: TargetRef[]): Promise<void> {
    await this.call('DeregisterTargets', () => this.client.send(new DeregisterTargetsCommand({ TargetGroupArn: arn, Targets: targets.map(toSdkTarget) })));
  }

  destroy(): void {
    this.client.destroy();
  }

  private async deregistrationDelaySeconds(arn: string): Promise<number> {
    const output = await this.call('DescribeTargetGroupAttributes', () => this.client.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: arn })));
    const value = output.Attributes?.find((attribute) => attribute.Key === 'deregistration_delay.timeout_seconds')?.Value;
    const seconds = value === undefined ? DEFAULT_DEREGISTRATION_DELAY_SECONDS : Number(value);
    return Number.isFinite(seconds) && seconds >= 0 ? seconds : DEFAULT_DEREGISTRATION_DELAY_SECONDS;
  }

  /** AWS only says "one or more" are missing; ask one by one so the error can name them. */
  private async missingGroupsError(arns: string[], original: AwsError): Promise<AwsError> {
    const missing: string[] = [];
    for (const arn of arns) {
      try {
        await this.call('DescribeTargetGroups', () => this.client.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [arn] })));
      } catch (error) {
        if (error instanceof AwsError && error.kind === 'not-found') missing.push(arn);
        else throw error;
      }
    }
    const names = missing.length ? missing : arns;
    return new AwsError(
      'ELBv2',
      'DescribeTargetGroups',
      'not-found',
      original.code,
      `target group${names.length > 1 ? 's' : ''} not found in ${this.region}: ${names.join(', ')}. ` +
        'Check loadBalancer.targetGroupArns (a deleted or re-created group gets a new ARN) and the account the credentials belong to.',
    );
  }
}

function toSdkTarget(target: TargetRef): { Id: string; Port?: number } {
  return target.port === undefined ? { Id: target.id } : { Id: target.id, Port: target.port };
}
