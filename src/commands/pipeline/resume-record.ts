/**
 * What a run writes into its journal record so `ship resume` can continue it with the same
 * playbook, release and flags: one type, one writer (the rolling run) and one reader (resume),
 * so the two cannot drift. The reader checks the shape, since the record may come from an older
 * ship or a hand-edited journal.
 */
import { z } from 'zod';
import type { JournalEntry } from '../../journal/state-store.js';
import { UsageError } from '../errors.js';

const varValue = z.union([z.string(), z.number(), z.boolean()]);

const resumeRecordSchema = z.object({
  /** 'deploy', 'patch', 'rollback', a name under the config's playbooks, or an absolute playbook file. */
  playbook: z.string().min(1),
  /** The command that started the run: deploy, patch, rollback, run, restore. */
  command: z.string().min(1),
  version: z.string().optional(),
  /** Absolute, so resume works from another directory. */
  artifact: z.string().optional(),
  batchSize: z.union([z.number(), z.string()]).optional(),
  /** The hosts this run was asked to roll, when not every host of the app. */
  hosts: z.array(z.string()).optional(),
  /** The roles this run was asked to roll (`--roles`), when not every role of the app. */
  roles: z.array(z.string()).optional(),
  vars: z.record(z.string(), varValue).default({}),
  database: z.object({ trace: z.boolean().optional(), allowUnsafe: z.object({ reason: z.string() }).optional() }).optional(),
  /** A restore run: the interrupted run whose instances it put back (resume continues that run). */
  continues: z.string().optional(),
});

export type ResumeRecord = z.infer<typeof resumeRecordSchema>;

export function readResumeRecord(entry: JournalEntry): ResumeRecord {
  const parsed = resumeRecordSchema.safeParse(entry.run.resume);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => issue.path.join('.') || '(record)').join(', ');
    throw new UsageError(
      `run ${entry.run.runId} (${entry.run.command}) cannot be resumed: its journal record lacks what resume needs (${fields}); ` +
        'put its instances back with `ship restore` and start a new run',
    );
  }
  return parsed.data;
}
