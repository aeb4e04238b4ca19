import type { CommandModule } from 'yargs';
import { COMMAND_LINES } from './commands.js';
import { parseTargetGroupArn } from '../aws/arn.js';
import { ConfigError } from '../config/errors.js';
import { loadConfig } from '../config/load.js';
import { selectRoles } from '../config/roles.js';
import type { ShipConfig } from '../config/schema.js';

/**
 * `ship iam-policy`: the least-privilege IAM policy for what this config makes ship do.
 * Register/deregister are granted on the configured target groups only. ELBv2 Describe* and
 * ec2:DescribeInstances have no resource-level permissions in IAM, so they need Resource "*";
 * they are narrowed to the configured regions with aws:RequestedRegion instead. CloudWatch
 * DescribeAlarms does take alarm ARNs, so canary analysis is granted exactly the alarms it names.
 */

export interface IamStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string[]>>;
}

export interface IamPolicyDocument {
  Version: '2012-10-17';
  Statement: IamStatement[];
}

export type IamPolicyConfig = Pick<ShipConfig, 'loadBalancer' | 'inventory'> & { rollout?: Pick<ShipConfig['rollout'], 'analysis'> };

function inRegions(regions: string[]): IamStatement['Condition'] {
  return { StringEquals: { 'aws:RequestedRegion': [...new Set(regions)].sort() } };
}

function callsAws(config: IamPolicyConfig): boolean {
  return config.loadBalancer.type === 'elbv2' || config.inventory?.ec2 !== undefined;
}

/** `file` only names the config in errors. */
export function iamPolicy(config: IamPolicyConfig, file = 'config'): IamPolicyDocument {
  const statements: IamStatement[] = [];
  const lb = config.loadBalancer;
  if (lb.type === 'elbv2') {
    const arns = [...new Set(lb.targetGroupArns)].sort();
    const regions = lb.targetGroupArns.map((arn, index) => {
      try {
        return parseTargetGroupArn(arn).region;
      } catch (error) {
        throw new ConfigError(file, [`loadBalancer.targetGroupArns[${index}]: ${(error as Error).message}`]);
      }
    });
    statements.push(
      {
        Sid: 'ShipReadTargetGroupHealth',
        Effect: 'Allow',
        Action: ['elasticloadbalancing:DescribeTargetGroupAttributes', 'elasticloadbalancing:DescribeTargetGroups', 'elasticloadbalancing:DescribeTargetHealth'],
        Resource: '*',
        Condition: inRegions(regions),
      },
      {
        Sid: 'ShipDrainAndRestoreTargets',
        Effect: 'Allow',
        Action: ['elasticloadbalancing:DeregisterTargets', 'elasticloadbalancing:RegisterTargets'],
        Resource: arns,
      },
    );
    // Canary analysis reads the named alarms only, in the load balancer's region and the target groups' account.
    const alarms = config.rollout?.analysis?.alarms;
    if (alarms?.length) {
      const { partition, accountId } = parseTargetGroupArn(lb.targetGroupArns[0]!);
      statements.push({
        Sid: 'ShipReadCanaryAlarms',
        Effect: 'Allow',
        Action: ['cloudwatch:DescribeAlarms'],
        Resource: [...new Set(alarms)].sort().map((name) => `arn:${partition}:cloudwatch:${lb.region}:${accountId}:alarm:${name}`),
      });
    }
  }
  const ec2 = config.inventory?.ec2;
  if (ec2) {
    statements.push({
      Sid: 'ShipDiscoverInstances',
      Effect: 'Allow',
      Action: ['ec2:DescribeInstances'],
      Resource: '*',
      Condition: inRegions([ec2.region]),
    });
  }
  if (!callsAws(config)) {
    throw new ConfigError(file, ['nothing in this config calls AWS (loadBalancer is not elbv2 and there is no inventory.ec2), so ship needs no IAM policy']);
  }
  return { Version: '2012-10-17', Statement: statements };
}

/**
 * One policy for an app and its roles (each role may have its own target groups or inventory):
 * each statement once, the resources and regions of its roles' versions together.
 */
export function iamPolicyOfRoles(configs: IamPolicyConfig[], file = 'config'): IamPolicyDocument {
  // A role without AWS (workers behind no load balancer) needs nothing; with none that calls AWS,
  // iamPolicy says so for the first.
  const callingAws = configs.filter(callsAws);
  if (callingAws.length === 0) return iamPolicy(configs[0]!, file);
  const policies = callingAws.map((config) => iamPolicy(config, file));
  const bySid = new Map<string, IamStatement>();
  for (const statement of policies.flatMap((policy) => policy.Statement)) {
    const seen = bySid.get(statement.Sid);
    bySid.set(statement.Sid, seen ? mergeStatements(seen, statement) : statement);
  }
  return { Version: '2012-10-17', Statement: [...bySid.values()] };
}

function mergeStatements(a: IamStatement, b: IamStatement): IamStatement {
  const resource = a.Resource === '*' || b.Resource === '*' ? '*' : [...new Set([...[a.Resource].flat(), ...[b.Resource].flat()])].sort();
  const regions = [a, b].flatMap((statement) => statement.Condition?.StringEquals?.['aws:RequestedRegion'] ?? []);
  return { ...a, Resource: resource, ...(regions.length > 0 ? { Condition: inRegions(regions) } : {}) };
}

export const iamPolicyCommand: CommandModule<{ config: string }, { config: string }> = {
  ...COMMAND_LINES['iam-policy'],
  handler: async (args) => {
    const loaded = await loadConfig(args.config);
    const configs = selectRoles(loaded).map((role) => role.loaded.config);
    process.stdout.write(`${JSON.stringify(iamPolicyOfRoles(configs, loaded.file), null, 2)}\n`);
  },
};
