/**
 * `loadBalancer: { type: 'elbv2' }`: AWS target groups. Kept apart from ./elbv2.ts so the AWS SDK
 * (about a second to load) is imported only when a config uses it, not whenever the config
 * schema is built.
 */
import { z } from 'zod';
import { duration } from '../config/fields.js';
import { defineLoadBalancer } from './adapter.js';

export const elbv2Adapter = defineLoadBalancer({
  schema: z.strictObject({
    type: z.literal('elbv2'),
    region: z.string().min(1),
    endpoint: z.string().url().optional(),
    targetGroupArns: z.array(z.string().regex(/^arn:aws[a-z-]*:elasticloadbalancing:/, { message: 'expected a target group ARN' })).min(1),
    maxAttempts: z.number().int().min(1).max(20).default(6),
    pollInterval: duration.default(2_000),
    deregistrationMargin: duration.default(30_000),
  }),
  fields: {
    region: 'AWS region of the target groups.',
    endpoint: 'Elastic Load Balancing API endpoint override (a VPC endpoint or a test double).',
    targetGroupArns: 'Target groups the hosts are registered in; a host is drained from all of them.',
    maxAttempts: 'AWS SDK attempts per call (throttling and server errors are retried).',
    pollInterval: 'How often target health is read while waiting.',
    deregistrationMargin: "Extra time allowed beyond the target group's deregistration delay before draining counts as stuck.",
  },
  init: (app) => ({
    hosts: `  // The instances, rolled in this order. For ELBv2, lbName is the target id: the instance id
  // (or the IP address for an 'ip' target group).
  hosts: [
    { name: 'web1', address: '10.0.1.11', lbName: 'i-0123456789abcdef0' },
    { name: 'web2', address: '10.0.1.12', lbName: 'i-0123456789abcdef1' },
  ],
  // Or discover running instances instead of listing them (merged with hosts):
  // inventory: { ec2: { region: 'us-east-1', tags: { app: '${app}', env: 'production' } } },`,
    loadBalancer: `  // The target groups the hosts are registered in; a host is drained from all of them.
  // Credentials come from the standard AWS chain (environment, AWS_PROFILE, SSO, instance role);
  // \`ship iam-policy\` prints the permissions ship needs.
  loadBalancer: {
    type: 'elbv2',
    region: 'us-east-1',
    targetGroupArns: ['arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/${app}/0123456789abcdef'],
  },`,
  }),
  create: async (config, { hosts }) => {
    const { Elbv2LoadBalancer } = await import('./elbv2.js');
    return new Elbv2LoadBalancer({
      region: config.region,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      targetGroupArns: config.targetGroupArns,
      maxAttempts: config.maxAttempts,
      pollIntervalMs: config.pollInterval,
      deregistrationMarginMs: config.deregistrationMargin,
      // A target is known by its lbName: the instance id for instance targets (EC2-discovered hosts have it), the IP for ip targets.
      resolveTarget: (member) => {
        const host = hosts.find((h) => (h.lbName ?? h.name) === member);
        return { id: host?.lbName ?? member };
      },
    });
  },
});
