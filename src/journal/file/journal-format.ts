/**
 * What a run's journal file holds and how it is read back: a run header, then transitions, stage
 * records, notes and outcomes, one record a line. Reading checks every record and names the file and line of any
 * damage; a record torn by a crash at the very end is the one damage that is expected, so it is
 * reported as a warning when read and repaired before a resumed run appends to the file.
 */
import { constants } from 'node:fs';
import type { JournalEntry, RunOutcome, RunRecord, StageRecord, Transition } from '../state-store.js';
import { errorText, openStateFile, serialize, StateFileError, writeAll } from './durable-files.js';
import { hasStrings, splitLines, type Line } from './json-lines.js';

/** A journal entry with what the reader had to put up with (a record torn by a crash). */
export interface StoredJournalEntry extends JournalEntry {
  warnings?: string[];
}

export type JournalRecord =
  | { type: 'run'; run: RunRecord }
  | { type: 'transition'; transition: Transition }
  | { type: 'stage'; stage: StageRecord }
  | { type: 'outcome'; outcome: RunOutcome }
  | { type: 'note'; warning: string };

function isRecordOfType(value: unknown): value is { type: string } & Record<string, unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

/** Why a parsed line is not a journal record, or undefined when it is one. */
function invalidRecord(record: unknown): string | undefined {
  if (!isRecordOfType(record)) return 'not a journal record (no type)';
  switch (record.type) {
    case 'run':
      return hasStrings(record.run, ['runId', 'app', 'command', 'startedAt']) ? undefined : 'a run header without runId, app, command or startedAt';
    case 'transition':
      return hasStrings(record.transition, ['runId', 'host', 'from', 'to', 'at']) ? undefined : 'a transition without runId, host, from, to or at';
    case 'stage':
      return hasStrings(record.stage, ['runId', 'stage', 'name', 'status', 'at']) ? undefined : 'a stage record without runId, stage, name, status or at';
    case 'outcome':
      return hasStrings(record.outcome, ['status', 'finishedAt']) ? undefined : 'an outcome without status or finishedAt';
    case 'note':
      return typeof record.warning === 'string' ? undefined : 'a note without its warning';
    default:
      return undefined;
  }
}

/** The tail parsed as a record when it happens to be whole (only its newline was lost), else undefined. */
function wholeTail(tail: Line): JournalRecord | undefined {
  try {
    const record: unknown = JSON.parse(tail.text);
    return invalidRecord(record) === undefined ? (record as JournalRecord) : undefined;
  } catch {
    return undefined;
  }
}

/** Folds a journal file into its entry. Garbage in a complete line is an error naming the file and line. */
export function parseJournal(file: string, content: Buffer): StoredJournalEntry {
  const { lines, tail } = splitLines(content);
  const warnings: string[] = [];
  const records: Array<{ number: number; record: JournalRecord }> = [];
  for (const line of lines) {
    let record: unknown;
    try {
      record = JSON.parse(line.text);
    } catch (error) {
      throw new StateFileError(
        file,
        `line ${line.number} is not JSON (${errorText(error)}): the journal is damaged; move the file aside to go on, and check the fleet with \`ship status\``,
      );
    }
    const problem = invalidRecord(record);
    if (problem) throw new StateFileError(file, `line ${line.number} is ${problem}: the journal is damaged; move the file aside to go on`);
    records.push({ number: line.number, record: record as JournalRecord });
  }
  if (tail) {
    const record = wholeTail(tail);
    if (record) {
      records.push({ number: tail.number, record });
      warnings.push(`${file}: line ${tail.number} lacks its end of line (a write was interrupted); the record itself is whole and was kept`);
    } else {
      warnings.push(`${file}: line ${tail.number} was cut short by an interrupted write (${tail.text.length} bytes) and was ignored`);
    }
  }
  const header = records[0];
  if (header?.record.type !== 'run') {
    throw new StateFileError(
      file,
      `line 1 is not a run header${records.length === 0 ? ' (the file is empty or was cut short while the run was starting)' : ''}: not a usable ship journal; move it aside`,
    );
  }
  const run = header.record.run;
  const transitions: Transition[] = [];
  const stages: StageRecord[] = [];
  let outcome: RunOutcome | undefined;
  for (const { number, record } of records.slice(1)) {
    switch (record.type) {
      case 'transition':
        if (record.transition.runId !== run.runId) {
          throw new StateFileError(file, `line ${number} is a transition of run ${record.transition.runId} in the journal of run ${run.runId}: the journal is damaged`);
        }
        transitions.push(record.transition);
        // A run resumed after it ended is running again: its old outcome no longer holds.
        outcome = undefined;
        break;
      case 'stage':
        if (record.stage.runId !== run.runId) {
          throw new StateFileError(file, `line ${number} is a stage record of run ${record.stage.runId} in the journal of run ${run.runId}: the journal is damaged`);
        }
        stages.push(record.stage);
        outcome = undefined;
        break;
      case 'outcome':
        outcome = record.outcome;
        break;
      case 'note':
        warnings.push(`${file}: ${record.warning}`);
        break;
      case 'run':
        throw new StateFileError(file, `line ${number} is a second run header: the journal is damaged`);
      default:
        warnings.push(`${file}: line ${number} has a record type this ship does not know (${String((record as { type: unknown }).type)}), ignored; written by a newer ship?`);
    }
  }
  const entry: StoredJournalEntry = { run, transitions, stages };
  if (outcome) entry.outcome = outcome;
  if (warnings.length) entry.warnings = warnings;
  return entry;
}

/**
 * Makes an interrupted run's journal end on a whole record before more are appended: a whole last
 * record gets its lost newline, a torn one is cut off and a note says what was dropped. Returns
 * the file's size, all of it whole records.
 */
export async function repairTornTail(file: string): Promise<number> {
  const handle = await openStateFile(file, constants.O_RDWR | constants.O_APPEND).catch((error: unknown) => {
    throw error instanceof StateFileError ? error : new StateFileError(file, `cannot reopen the journal: ${errorText(error)}`);
  });
  try {
    const content = await handle.readFile();
    const { tail, completeBytes } = splitLines(content);
    let size = content.length;
    if (tail) {
      if (wholeTail(tail)) {
        await writeAll(handle, Buffer.from('\n'));
        size += 1;
      } else {
        await handle.truncate(completeBytes);
        size = completeBytes;
        const note: JournalRecord = {
          type: 'note',
          warning: `dropped ${tail.text.length} bytes of a record cut short by an interrupted write (line ${tail.number}) before the run went on`,
        };
        const line = Buffer.from(`${serialize(note)}\n`);
        await writeAll(handle, line);
        size += line.length;
      }
      await handle.datasync();
    }
    return size;
  } catch (error) {
    throw new StateFileError(file, `cannot reopen the journal: ${errorText(error)}`);
  } finally {
    await handle.close();
  }
}
