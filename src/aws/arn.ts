/** Target group ARNs: `arn:<partition>:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>`. */

export interface TargetGroupArn {
  arn: string;
  partition: string;
  region: string;
  accountId: string;
  name: string;
}

const TARGET_GROUP_ARN = /^arn:([a-z-]+):elasticloadbalancing:([a-z0-9-]+):(\d{12}):targetgroup\/([A-Za-z0-9-]{1,32})\/([0-9a-f]+)$/;

/** Throws naming the ARN and the expected shape, so a typo is caught before any call to AWS. */
export function parseTargetGroupArn(arn: string): TargetGroupArn {
  const match = TARGET_GROUP_ARN.exec(arn);
  if (!match) {
    throw new Error(`'${arn}' is not a target group ARN (expected arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>)`);
  }
  return { arn, partition: match[1]!, region: match[2]!, accountId: match[3]!, name: match[4]! };
}
