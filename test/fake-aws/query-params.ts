/** Readers for the flattened list encoding of the AWS query protocols (`Prefix.1`, `Prefix.1.Field`). */

/** `TargetGroupArns.member.1=a&TargetGroupArns.member.2=b` → ['a', 'b']. */
export function scalarList(params: URLSearchParams, prefix: string): string[] {
  const values: string[] = [];
  for (let index = 1; params.has(`${prefix}.${index}`); index++) values.push(params.get(`${prefix}.${index}`) ?? '');
  return values;
}

/** `Targets.member.1.Id=i-1&Targets.member.1.Port=80` → [{ Id: 'i-1', Port: '80' }]. */
export function structList(params: URLSearchParams, prefix: string): Array<Record<string, string>> {
  const byIndex = new Map<number, Record<string, string>>();
  for (const [key, value] of params) {
    if (!key.startsWith(`${prefix}.`)) continue;
    const match = /^(\d+)\.(.+)$/.exec(key.slice(prefix.length + 1));
    if (!match) continue;
    const index = Number(match[1]);
    const entry = byIndex.get(index) ?? {};
    entry[match[2]!] = value;
    byIndex.set(index, entry);
  }
  return [...byIndex.entries()].sort(([a], [b]) => a - b).map(([, entry]) => entry);
}

/** EC2 filters: `Filter.1.Name=tag:Role&Filter.1.Value.1=web` → [{ name: 'tag:Role', values: ['web'] }]. */
export function ec2Filters(params: URLSearchParams): Array<{ name: string; values: string[] }> {
  const filters: Array<{ name: string; values: string[] }> = [];
  for (let index = 1; params.has(`Filter.${index}.Name`); index++) {
    filters.push({ name: params.get(`Filter.${index}.Name`) ?? '', values: scalarList(params, `Filter.${index}.Value`) });
  }
  return filters;
}
