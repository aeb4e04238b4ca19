/**
 * The file-system primitives the file state store builds on, so that what it writes survives a
 * crash and stays private: owner-only modes, writing a file whole before it gets its real name,
 * syncing the folder so a new name is durable too, and secrets scrubbed from every record. Also
 * the error that names the state file at fault.
 */
import { constants } from 'node:fs';
import { mkdir, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, parse, sep } from 'node:path';
import { ERROR_CODES, type CodedError } from '../../errors/codes.js';
import { redact } from '../../util/redact.js';

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
  return JSON.stringify(value, (_key, field: unknown) => (typeof field === 'string' ? redact(field) : field));
}

export function isErrno(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * mkdir -p with the real reason when it fails: Node's recursive mkdir reports ENOENT for a folder
 * it cannot create on a read-only file system, which would send a person looking for a missing path.
 */
export async function makeDirs(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
    return;
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
  }
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

export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
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
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, FILE_MODE);
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
