/**
 * Copying a local file to a host over the connection's SFTP session so that the file at its
 * destination is never a partial or corrupt upload: it is written under a temporary name with
 * several writes in flight, then hashed and measured on the host and only moved into place when
 * both match. A failure says why in the host's terms (a full disk is named as such).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { posix } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import { sh } from '../shell/sh.js';
import type { Connection } from './ssh-connect.js';
import { TransportError, type Transport, type UploadResult } from './transport.js';

const UPLOAD_WRITES_IN_FLIGHT = 32;
const UPLOAD_CHUNK_BYTES = 32 * 1024;

export interface UploadOptions {
  signal?: AbortSignal;
  mode?: number;
}

/** The host as upload needs it: its connection for SFTP, and its commands for checking and moving the file. */
export interface UploadHost {
  readonly host: string;
  connection(): Promise<Connection>;
  exec: Transport['exec'];
}

export async function uploadOverSsh(target: UploadHost, localPath: string, remotePath: string, options: UploadOptions = {}): Promise<UploadResult> {
  const { host } = target;
  const local = await stat(localPath).catch((error: NodeJS.ErrnoException) => {
    throw new TransportError(host, `cannot upload ${localPath}: ${error.code === 'ENOENT' ? 'no such local file' : error.message}`, 'upload');
  });
  if (!local.isFile()) throw new TransportError(host, `cannot upload ${localPath}: not a regular file`, 'upload');
  const sftp = await sftpSession(await target.connection(), host);
  const temp = `${remotePath}.ship-upload-${randomBytes(6).toString('hex')}`;
  let written: UploadResult;
  try {
    written = await writeFile(sftp, localPath, temp, options.mode ?? 0o644, options.signal);
  } catch (error) {
    await new Promise<void>((resolve) => sftp.unlink(temp, () => resolve()));
    const reason = error instanceof Error ? error.message : String(error);
    const shortage = options.signal?.aborted ? '' : await spaceShortage(target, remotePath, local.size);
    throw new TransportError(host, `upload of ${localPath} to ${remotePath} failed: ${reason}${shortage}`, 'upload', { cause: error });
  }
  await verifyAndMove(target, localPath, temp, remotePath, written, options);
  return written;
}

function sftpSession(connection: Connection, host: string): Promise<SFTPWrapper> {
  connection.sftp ??= new Promise<SFTPWrapper>((resolve, reject) => {
    connection.client.sftp((error, sftp) => {
      if (error) {
        connection.sftp = undefined;
        return reject(new TransportError(host, `cannot open an SFTP session: ${error.message}`, 'upload', { cause: error }));
      }
      sftp.on('close', () => (connection.sftp = undefined));
      resolve(sftp);
    });
  });
  return connection.sftp;
}

/**
 * SFTP reports a full disk as a bare "Failure". Asks the host whether space ran out, so the error
 * can say so; an empty string when it did not or the host cannot tell.
 */
async function spaceShortage(target: UploadHost, remotePath: string, bytes: number): Promise<string> {
  const dir = posix.dirname(remotePath);
  try {
    const result = await target.exec(sh`df -Pk ${dir} | tail -n 1`, { timeoutMs: 5_000 });
    const availableKiB = Number(result.stdout.trim().split(/\s+/)[3]);
    if (result.code !== 0 || !Number.isFinite(availableKiB) || availableKiB * 1024 >= bytes) return '';
    return `; no space left on the host: the file system of ${dir} has ${availableKiB} KiB free and the file needs ${Math.ceil(bytes / 1024)} KiB; free some space there`;
  } catch {
    return '';
  }
}

/**
 * One round trip: hash and measure the temp file on the host, and only if both match move it into
 * place; otherwise delete it. The file at `remotePath` is therefore never a partial upload.
 */
async function verifyAndMove(target: UploadHost, localPath: string, temp: string, remotePath: string, expected: UploadResult, options: UploadOptions): Promise<void> {
  const mode = (options.mode ?? 0o644).toString(8);
  const script = sh`tmp=${temp}
if command -v sha256sum >/dev/null 2>&1; then sum=$(sha256sum "$tmp"); else sum=$(shasum -a 256 "$tmp"); fi
sum=$(printf '%s' "$sum" | cut -d ' ' -f 1)
size=$(wc -c < "$tmp" | tr -d ' ')
if [ "$size" = ${String(expected.bytes)} ] && [ "$sum" = ${expected.sha256} ]; then
  chmod ${mode} "$tmp" && mv -f "$tmp" ${remotePath} && echo verified
else
  rm -f "$tmp"; echo "mismatch $size $sum"; exit 3
fi`;
  const removeTemp = () => target.exec(sh`rm -f ${temp}`).catch(() => undefined);
  const result = await target.exec(script, options.signal ? { signal: options.signal } : {}).catch(async (error: unknown) => {
    await removeTemp();
    throw error;
  });
  if (result.code === 0 && result.stdout.trim() === 'verified') return;
  const mismatch = /^mismatch (\S*) (\S*)$/m.exec(result.stdout);
  if (mismatch) {
    throw new TransportError(
      target.host,
      `upload of ${localPath} to ${remotePath} is corrupt on the host: it has ${mismatch[1] || '?'} bytes with sha256 ${mismatch[2] || '?'}, expected ${expected.bytes} bytes with sha256 ${expected.sha256}; the partial file was removed`,
      'upload',
    );
  }
  await removeTemp();
  throw new TransportError(
    target.host,
    `upload of ${localPath} to ${remotePath}: verifying or moving the file failed (exit ${result.code}): ${result.stderr.trim() || result.stdout.trim()}`,
    'upload',
  );
}

/**
 * Streams the local file into `remote` with several SFTP writes in flight (ssh2's write stream
 * keeps only one, which crawls over a long round trip), hashing the bytes as they are read.
 */
async function writeFile(sftp: SFTPWrapper, localPath: string, remote: string, mode: number, signal?: AbortSignal): Promise<UploadResult> {
  const handle = await new Promise<Buffer>((resolve, reject) => sftp.open(remote, 'w', { mode }, (error, opened) => (error ? reject(error) : resolve(opened))));
  const hash = createHash('sha256');
  let position = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const stream = createReadStream(localPath, { highWaterMark: UPLOAD_CHUNK_BYTES });
      let inFlight = 0;
      let ended = false;
      let failed = false;
      const fail = (error: unknown) => {
        if (failed) return;
        failed = true;
        signal?.removeEventListener('abort', onAbort);
        stream.destroy();
        reject(error);
      };
      const onAbort = () => fail(new Error('aborted'));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      stream.on('data', (chunk: Buffer | string) => {
        const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        hash.update(data);
        const offset = position;
        position += data.length;
        inFlight++;
        if (inFlight >= UPLOAD_WRITES_IN_FLIGHT) stream.pause();
        sftp.write(handle, data, 0, data.length, offset, (error) => {
          inFlight--;
          if (error) return fail(error);
          if (failed) return;
          if (!ended && stream.isPaused()) stream.resume();
          if (ended && inFlight === 0) {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          }
        });
      });
      stream.on('end', () => {
        ended = true;
        if (inFlight === 0 && !failed) {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }
      });
      stream.on('error', (error) => fail(new Error(`cannot read ${localPath}: ${error.message}`)));
    });
  } finally {
    await new Promise<void>((resolve) => sftp.close(handle, () => resolve()));
  }
  return { bytes: position, sha256: hash.digest('hex') };
}
