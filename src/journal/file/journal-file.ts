/**
 * Appending to one run's journal so that each record is on stable storage before its caller goes
 * on (DESIGN principle 3), at a cost a wide batch can afford: the file is opened with O_DSYNC (one
 * system call a write instead of write + fdatasync), and records that arrive while a write is under
 * way are written together (group commit).
 *
 * A write starts when the turn of the event loop that appended its records ends, so everything
 * appended in one turn shares one write: a batch's instances leaving together, and an instance's
 * record written behind ('out', which nobody waits for) with the next one, that its caller waits for
 * ('activating'). Order in the file is always the order of append.
 */
import { close as fsClose, constants, ftruncate as fsFtruncate, open as fsOpen, write as fsWrite } from 'node:fs';
import { errorText, FILE_MODE, isErrno, isLinkError, linkRefused, openStateFile, serialize, StateFileError } from './durable-files.js';
import { repairTornTail, type JournalRecord } from './journal-format.js';

/** fs.write on a raw descriptor: a FileHandle costs about twice the CPU per call, and a rollout makes thousands. */
function writeFd(fd: number, data: Buffer, offset: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fsWrite(fd, data, offset, data.length - offset, null, (error, written) => (error ? reject(error) : resolve(written)));
  });
}

/**
 * The lines of a group commit in one buffer, copied straight in: joined as one string first, a
 * wide batch's records made a string of hundreds of KB, which V8 frees only in a full collection.
 */
function concatLines(batch: ReadonlyArray<{ line: string }>): Buffer {
  let size = 0;
  for (const item of batch) size += Buffer.byteLength(item.line);
  const data = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const item of batch) offset += data.write(item.line, offset);
  return data;
}

/** Each caller's promise resolves only once its record is on disk. */
export class JournalFile {
  private pending: Array<{ line: string; resolve: () => void; reject: (error: Error) => void }> = [];
  private flushing: Promise<void> | undefined;
  /** The write due when this turn of the event loop ends. */
  private due: NodeJS.Immediate | undefined;
  private broken: Error | undefined;
  /** Writes made (each one system call, on disk when it returns): what group commit saves. */
  writes = 0;

  private constructor(
    readonly file: string,
    private readonly fd: number,
    /** Bytes known to be whole records: after a failed write the file is cut back to it. */
    private size: number,
  ) {}

  /** Creates the journal of a new run; a run id is used once, so an existing file is refused. */
  static async create(file: string, runId: string): Promise<JournalFile> {
    try {
      await (await openStateFile(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, FILE_MODE)).close();
    } catch (error) {
      if (error instanceof StateFileError) throw error;
      if (isErrno(error, 'EEXIST')) throw new StateFileError(file, `run ${runId} already has a journal; a run id is used once`);
      throw new StateFileError(file, `cannot create the journal: ${errorText(error)}`);
    }
    return JournalFile.open(file, 0);
  }

  /** Opens an existing run's journal (a resumed run), first repairing a tail torn by the crash that interrupted it. */
  static async reopen(file: string): Promise<JournalFile> {
    return JournalFile.open(file, await repairTornTail(file));
  }

  /** Opens a journal whose `size` bytes are whole records. */
  private static async open(file: string, size: number): Promise<JournalFile> {
    // O_NOFOLLOW: a journal replaced by a link since it was checked is refused, not written through.
    const fd = await new Promise<number>((resolve, reject) => {
      fsOpen(file, constants.O_WRONLY | constants.O_APPEND | constants.O_DSYNC | constants.O_NOFOLLOW, (error, opened) => {
        if (!error) resolve(opened);
        else reject(isLinkError(error) ? linkRefused(file) : error);
      });
    });
    return new JournalFile(file, fd, size);
  }

  /** Resolves once the record is on disk, written with whatever else was appended in this turn of the event loop. */
  append(record: JournalRecord): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    const line = `${serialize(record)}\n`;
    return new Promise((resolve, reject) => {
      this.pending.push({ line, resolve, reject });
      this.writeSoon();
    });
  }

  private writeNow(): void {
    if (this.due) {
      clearImmediate(this.due);
      this.due = undefined;
    }
    this.flushing ??= this.flush().finally(() => {
      this.flushing = undefined;
      // A record appended as the last write ended, after its loop looked, is not left waiting for the next one.
      if (this.pending.length > 0) this.writeNow();
    });
  }

  private writeSoon(): void {
    // A write under way takes what is pending when it ends.
    if (this.flushing || this.due) return;
    this.due = setImmediate(() => {
      this.due = undefined;
      this.writeNow();
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0);
      const data = batch.length === 1 ? Buffer.from(batch[0]!.line) : concatLines(batch);
      try {
        for (let offset = 0; offset < data.length; this.writes++) offset += await writeFd(this.fd, data, offset);
        this.size += data.length;
        for (const item of batch) item.resolve();
      } catch (error) {
        const failure = new StateFileError(
          this.file,
          `could not write to the journal (${errorText(error)}); the run must stop: free disk space or fix permissions, then \`ship resume\``,
        );
        // Cut back a partial write, so later records do not land after half a line.
        await new Promise<void>((resolve) => {
          fsFtruncate(this.fd, this.size, (truncateError) => {
            if (truncateError) this.broken = failure;
            resolve();
          });
        });
        for (const item of [...batch, ...(this.broken ? this.pending.splice(0) : [])]) item.reject(failure);
      }
    }
  }

  async close(): Promise<void> {
    if (this.due) this.writeNow();
    await this.flushing;
    await new Promise<void>((resolve, reject) => fsClose(this.fd, (error) => (error ? reject(error) : resolve())));
  }
}
