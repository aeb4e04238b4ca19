import type { LintRule, NodeTypeName } from './types.js';

/** Identity function that lets a rule file infer its statement type from `nodeTypes`. */
export function defineRule<K extends NodeTypeName>(rule: LintRule<K>): LintRule<K> {
  return rule;
}
