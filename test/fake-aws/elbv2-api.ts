import { AwsFault } from './faults.js';
import { scalarList, structList } from './query-params.js';
import type { FakeAwsState, FakeTargetGroup, TargetHealthView } from './state.js';
import { element, optionalElement } from './xml.js';

/** The ELBv2 (awsQuery) actions ship uses; each returns the inner XML of `<ActionResult>`. */

function required(params: URLSearchParams, name: string): string {
  const value = params.get(name);
  if (!value) throw new AwsFault('ValidationError', `1 validation error detected: Value null at '${name}' failed to satisfy constraint: Member must not be null`);
  return value;
}

function targetsParam(params: URLSearchParams): Array<{ id: string; port?: number }> {
  return structList(params, 'Targets.member').map((entry) => {
    if (!entry.Id) throw new AwsFault('ValidationError', 'A target ID must be specified');
    return { id: entry.Id, port: entry.Port === undefined ? undefined : Number(entry.Port) };
  });
}

function renderTargetGroup(group: FakeTargetGroup, state: FakeAwsState): string {
  return element('member', [
    element('TargetGroupArn', group.arn),
    element('TargetGroupName', group.name),
    element('Protocol', 'HTTP'),
    element('Port', group.port),
    element('VpcId', 'vpc-0fake0000000000000'),
    element('HealthCheckProtocol', 'HTTP'),
    element('HealthCheckPort', group.healthCheckPort === undefined ? 'traffic-port' : String(group.healthCheckPort)),
    element('HealthCheckEnabled', true),
    element('HealthCheckPath', group.healthCheckPath),
    element('HealthCheckIntervalSeconds', Math.max(5, Math.round(state.checkIntervalMs / 1000))),
    element('HealthCheckTimeoutSeconds', Math.max(2, Math.round(state.checkTimeoutMs / 1000))),
    element('HealthyThresholdCount', state.healthyThreshold),
    element('UnhealthyThresholdCount', state.unhealthyThreshold),
    element('Matcher', [element('HttpCode', '200-399')]),
    element('LoadBalancerArns', []),
    element('TargetType', group.targetType),
    element('ProtocolVersion', 'HTTP1'),
    element('IpAddressType', 'ipv4'),
  ]);
}

function renderTargetHealth(view: TargetHealthView): string {
  return element('member', [
    element('Target', [element('Id', view.id), element('Port', view.port)]),
    element('HealthCheckPort', String(view.port)),
    element('TargetHealth', [element('State', view.state), optionalElement('Reason', view.reason), optionalElement('Description', view.description)]),
  ]);
}

function describeTargetGroups(params: URLSearchParams, state: FakeAwsState): string {
  const arns = scalarList(params, 'TargetGroupArns.member');
  const names = scalarList(params, 'Names.member');
  let groups = [...state.targetGroups.values()];
  if (arns.length) {
    if (arns.some((arn) => !state.targetGroups.has(arn))) throw new AwsFault('TargetGroupNotFound', 'One or more target groups not found');
    groups = arns.map((arn) => state.targetGroups.get(arn)!);
  } else if (names.length) {
    const missing = names.filter((name) => !groups.some((group) => group.name === name));
    if (missing.length) throw new AwsFault('TargetGroupNotFound', `Target groups '${missing.join("', '")}' not found`);
    groups = groups.filter((group) => names.includes(group.name));
  }
  return element(
    'TargetGroups',
    groups.map((group) => renderTargetGroup(group, state)),
  );
}

function describeTargetGroupAttributes(params: URLSearchParams, state: FakeAwsState): string {
  const group = state.group(required(params, 'TargetGroupArn'));
  const attributes: Record<string, string> = {
    'deregistration_delay.timeout_seconds': String(group.deregistrationDelaySeconds),
    'deregistration_delay.connection_termination.enabled': 'false',
    'stickiness.enabled': 'false',
    'load_balancing.algorithm.type': 'round_robin',
    'slow_start.duration_seconds': '0',
  };
  return element(
    'Attributes',
    Object.entries(attributes).map(([key, value]) => element('member', [element('Key', key), element('Value', value)])),
  );
}

function describeTargetHealth(params: URLSearchParams, state: FakeAwsState): string {
  const group = state.group(required(params, 'TargetGroupArn'));
  const targets = targetsParam(params);
  let views: TargetHealthView[];
  if (targets.length) {
    state.validateTargets(
      group,
      targets.map((target) => target.id),
      false,
    );
    views = targets.map((target) => state.targetHealth(group.arn, target.id, target.port));
  } else {
    views = state.registeredTargets(group.arn);
  }
  return element('TargetHealthDescriptions', views.map(renderTargetHealth));
}

export function handleElbv2(action: string, params: URLSearchParams, state: FakeAwsState): string {
  switch (action) {
    case 'DescribeTargetGroups':
      return describeTargetGroups(params, state);
    case 'DescribeTargetGroupAttributes':
      return describeTargetGroupAttributes(params, state);
    case 'DescribeTargetHealth':
      return describeTargetHealth(params, state);
    case 'RegisterTargets':
      state.register(required(params, 'TargetGroupArn'), targetsParam(params));
      return '';
    case 'DeregisterTargets':
      state.deregister(required(params, 'TargetGroupArn'), targetsParam(params));
      return '';
    default:
      throw new AwsFault('InvalidAction', `The action ${action} is not valid for this web service.`);
  }
}
