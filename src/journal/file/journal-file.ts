/**
 * Appending to one run's journal so that each record is on stable storage before its caller goes
 * on (DESIGN principle 3), at a cost a wide batch can afford: the file is opened with O_DSYNC (one
 * system call a write instead of write + fdatasync), and records that arrive while a write is under
 * way are written together (group commit).
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

/** Each caller's promise resolves only once its record is on disk. */
export class JournalFile {
  private pending: Array<{ line: string; resolve: () => void; reject: (error: Error) => void }> = [];
  private flushing: Promise<void> | undefined;
  private broken: Error | undefined;

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

  append(record: JournalRecord): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    const line = `${serialize(record)}\n`;
    return new Promise((resolve, reject) => {
      this.pending.push({ line, resolve, reject });
      this.flushing ??= this.flush().finally(() => {
        this.flushing = undefined;
      });
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0);
      const data = Buffer.from(batch.length === 1 ? batch[0]!.line : batch.map((item) => item.line).join(''));
      try {
        for (let offset = 0; offset < data.length; ) offset += await writeFd(this.fd, data, offset);
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
    await this.flushing;
    await new Promise<void>((resolve, reject) => fsClose(this.fd, (error) => (error ? reject(error) : resolve())));
  }
}
