/**
 * The file-system primitives the file state store builds on, so that what it writes survives a
 * crash and stays private: owner-only modes, writing a file whole before it gets its real name,
 * syncing the folder so a new name is durable too, and secrets scrubbed from every record. Also
 * the error that names the state file at fault.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, parse, sep } from 'node:path';
import { ERROR_CODES, type CodedError } from '../../errors/codes.js';
import { redactDeep } from '../../util/redact.js';

export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

/** A state folder, journal or lock file that cannot be used; names the path (and the line) and why. */
export class StateFileError extends Error implements CodedError {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'StateFileError';
  }

  get shipCode() {
    return ERROR_CODES.stateStoreUnusable;
  }
}

/** Every string scrubbed of known secrets, whatever the caller forgot: the journal outlives the run. */
export function serialize(value: unknown): string {
  return JSON.stringify(redactDeep(value));
}

export function isErrno(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Whether something is at `path` itself: a symbolic link there counts, whatever it points at. */
export async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Why ship refuses a symbolic link in its state folder: following it would point its chmod 0700,
 * its appends and its replacements at whatever file or folder the link names.
 */
export function linkRefused(path: string): StateFileError {
  return new StateFileError(
    path,
    'is a symbolic link, and ship follows none in its state folder: through it, ship would make another folder owner-only or write to another file; ' +
      'replace the link with the real folder or file, or point state.path at the real folder',
  );
}

/** open(O_NOFOLLOW) fails with ELOOP on Linux and macOS, EMLINK on FreeBSD, when the path is a symbolic link. */
export function isLinkError(error: unknown): boolean {
  return isErrno(error, 'ELOOP') || isErrno(error, 'EMLINK');
}

/**
 * Opens a file of the state folder without following a symbolic link, and only if it is a regular
 * file: a FIFO or a device put there would hang a read or take a write meant for the journal.
 * Other failures (ENOENT...) are thrown as they are, for the caller to judge.
 */
export async function openStateFile(path: string, flags: number, mode?: number): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; on a regular file it changes nothing.
    handle = await open(path, flags | constants.O_NOFOLLOW | constants.O_NONBLOCK, mode);
  } catch (error) {
    if (isLinkError(error)) throw linkRefused(path);
    throw error;
  }
  const info = await handle.stat().catch(async (error: unknown) => {
    await handle.close();
    throw error;
  });
  if (!info.isFile()) {
    await handle.close();
    throw new StateFileError(path, 'is not a regular file; ship keeps only plain files in its state folder: remove it');
  }
  return handle;
}

/** The whole content of a state file, read without following a symbolic link. */
export async function readStateFile(path: string): Promise<Buffer> {
  const handle = await openStateFile(path, constants.O_RDONLY);
  try {
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/**
 * mkdir -p, one folder at a time from the top. Never Node's recursive mkdir: on a pseudo-filesystem
 * such as /proc it loops forever (it reads ENOENT as "create the parent first"), and on a read-only
 * file system it reports ENOENT, which would send a person looking for a missing path.
 */
export async function makeDirs(dir: string): Promise<void> {
  let path = parse(dir).root;
  for (const part of dir.slice(path.length).split(sep).filter(Boolean)) {
    path = join(path, part);
    try {
      await mkdir(path, { mode: DIR_MODE });
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) throw error;
    }
  }
}

/** Opens a folder of the state folder without following a symbolic link. */
export async function openStateDir(dir: string): Promise<FileHandle> {
  try {
    return await open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (error) {
    if (isLinkError(error)) throw linkRefused(dir);
    if (isErrno(error, 'ENOTDIR')) throw new StateFileError(dir, 'is not a folder; ship keeps its state in a folder: move it away or set state.path elsewhere');
    throw error;
  }
}

export async function syncDir(dir: string): Promise<void> {
  const handle = await openStateDir(dir);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  for (let offset = 0; offset < data.length; ) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

/** A file fully written and synced under a temporary name next to `besides`, ready to be linked or renamed. */
export async function writeTemp(besides: string, content: string): Promise<string> {
  const temp = `${besides}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await openStateFile(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, FILE_MODE);
  try {
    await writeAll(handle, Buffer.from(content));
    await handle.datasync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  return temp;
}

/** Atomically replaces `path`: temp file, fsync, rename over, fsync the folder. */
export async function replaceFile(path: string, content: string): Promise<void> {
  const temp = await writeTemp(path, content);
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw new StateFileError(path, `cannot be replaced: ${errorText(error)}`);
  }
  await syncDir(join(path, '..'));
}
