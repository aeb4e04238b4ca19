import { AwsFault } from './faults.js';
import type { FakeAwsState } from './state.js';

/**
 * CloudWatch's DescribeAlarms as the SDK's client speaks it now: the AWS JSON 1.0 protocol (the
 * `x-amz-target: GraniteServiceVersion20100801.<Action>` header, JSON in and out), query-compatible
 * (errors also carry `x-amzn-query-error: <Code>;<Sender|Receiver>`). Returns the JSON answer.
 */
export const CLOUDWATCH_TARGET_PREFIX = 'GraniteServiceVersion20100801.';

interface DescribeAlarmsInput {
  AlarmNames?: string[];
  AlarmTypes?: string[];
  StateValue?: string;
}

export function handleCloudWatch(action: string, body: string, state: FakeAwsState): unknown {
  if (action !== 'DescribeAlarms') throw new AwsFault('InvalidAction', `The action ${action} is not valid for this web service.`);
  let input: DescribeAlarmsInput;
  try {
    input = (body.trim() === '' ? {} : JSON.parse(body)) as DescribeAlarmsInput;
  } catch {
    throw new AwsFault('SerializationException', 'Malformed JSON body');
  }
  if ((input.AlarmNames?.length ?? 0) > 100) throw new AwsFault('ValidationError', 'AlarmNames: at most 100 names');
  const metric = !input.AlarmTypes || input.AlarmTypes.includes('MetricAlarm');
  const alarms = [...state.alarms.values()].filter(
    (alarm) => metric && (!input.AlarmNames || input.AlarmNames.includes(alarm.name)) && (!input.StateValue || input.StateValue === alarm.state),
  );
  return {
    MetricAlarms: alarms.map((alarm) => ({
      AlarmName: alarm.name,
      AlarmArn: `arn:aws:cloudwatch:${state.region}:${state.accountId}:alarm:${alarm.name}`,
      StateValue: alarm.state,
      StateReason: alarm.reason,
      StateUpdatedTimestamp: alarm.updatedAt / 1000,
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'HTTPCode_Target_5XX_Count',
    })),
    CompositeAlarms: [],
  };
}
