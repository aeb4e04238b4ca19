/**
 * The one CloudWatch call ship makes, DescribeAlarms, typed down to what canary analysis reads:
 * each named alarm's state. Through the SDK's client, so credentials, signing, adaptive retries and
 * the error classification are those of the ELBv2 and EC2 calls.
 */
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { awsClientConfig, describeEndpoint, type AwsClientOptions } from './clients.js';
import { callAws } from './errors.js';

export interface AlarmStateView {
  name: string;
  /** OK, ALARM or INSUFFICIENT_DATA. */
  state: string;
  reason?: string;
}

/** DescribeAlarms takes at most 100 names per call. */
const NAMES_PER_CALL = 100;

export class CloudWatchAlarms {
  private readonly client: CloudWatchClient;
  private readonly where: string;

  constructor(options: AwsClientOptions) {
    this.client = new CloudWatchClient(awsClientConfig(options));
    this.where = describeEndpoint(options);
  }

  /** The states of the named alarms that exist (metric and composite); a name not returned does not exist. */
  async states(names: readonly string[]): Promise<AlarmStateView[]> {
    const found: AlarmStateView[] = [];
    for (let start = 0; start < names.length; start += NAMES_PER_CALL) {
      const chunk = names.slice(start, start + NAMES_PER_CALL);
      let token: string | undefined;
      do {
        const output = await callAws({ service: 'CloudWatch', action: 'DescribeAlarms', where: this.where }, () =>
          this.client.send(new DescribeAlarmsCommand({ AlarmNames: chunk, AlarmTypes: ['MetricAlarm', 'CompositeAlarm'], ...(token ? { NextToken: token } : {}) })),
        );
        for (const alarm of [...(output.MetricAlarms ?? []), ...(output.CompositeAlarms ?? [])]) {
          found.push({ name: alarm.AlarmName ?? '', state: alarm.StateValue ?? 'UNKNOWN', ...(alarm.StateReason ? { reason: alarm.StateReason } : {}) });
        }
        token = output.NextToken;
      } while (token);
    }
    return found;
  }

  destroy(): void {
    this.client.destroy();
  }
}
