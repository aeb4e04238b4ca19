import { defineRule } from '../src/lint/define-rule.js';
import { formatTable } from '../src/lint/ast.js';
import { blockedWhileQueued, LOCKING_NODE_TYPES, locksTakenBy, type RelationLock } from '../src/lint/locks.js';
import type { RuleContext } from '../src/lint/types.js';

/** A relation created earlier in the file is not used by the running code: no one queues behind a lock on it. */
function isNew(lock: RelationLock, context: RuleContext): boolean {
  if (!lock.relation) return false;
  return lock.kind === 'index' ? context.isNewIndex(lock.relation.name) : context.isNewTable(lock.relation);
}

function describe(lock: RelationLock): string {
  const name = lock.relation ? formatTable(lock.relation) : undefined;
  switch (lock.kind) {
    case 'indexes':
      return `${lock.mode} on the indexes of ${name ?? 'every table'}`;
    case 'index':
      // Every query planned on the index's table opens the index: locking it is locking the table.
      return `${lock.mode} on index ${name ?? '(unnamed)'}`;
    default:
      return `${lock.mode} on ${name ?? 'tables the statement does not name'}`;
  }
}

export default defineRule({
  id: 'require-lock-timeout',
  category: 'lock',
  severity: 'error',
  message:
    'This statement waits for a lock that blocks writes (or reads and writes) with no lock_timeout: while it waits behind a long query, every query that needs the table queues behind it.',
  safeAlternative: [
    "1. SET lock_timeout = '2s';  (or SET LOCAL inside the transaction) before the statement.",
    '2. Let the runner retry the migration when it times out, at a quieter moment.',
    '3. Keep each locking statement short: no data backfill in the same transaction.',
  ].join('\n'),
  nodeTypes: LOCKING_NODE_TYPES,
  check(statement, context) {
    if (context.lockTimeoutSet) return [];
    let blocked: 'reads and writes' | 'writes' | undefined;
    const waits: string[] = [];
    for (const lock of locksTakenBy(statement, context.settings.pgVersion)) {
      const blocks = lock.nowait ? undefined : blockedWhileQueued(lock);
      if (!blocks || isNew(lock, context)) continue;
      if (blocked !== 'reads and writes') blocked = blocks;
      const described = describe(lock);
      if (!waits.includes(described)) waits.push(described);
    }
    if (!blocked) return [];
    return [
      {
        message: `No lock_timeout is set before this statement, which waits for ${waits.join(', ')}; queued behind a long query, it blocks every ${blocked === 'writes' ? 'write' : 'read and write'} there until it gets the lock.`,
      },
    ];
  },
});
