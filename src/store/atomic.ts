/**
 * Crash-safe file writes: a temp file in the same directory (created exclusively, never following
 * a planted symlink), fsync, rename over the target, fsync the directory. A crash at any instant
 * leaves the old file or the new one, never a torn one.
 */
import { chmodSync, closeSync, constants, fchmodSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../errors.js';

const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;

/** Create `dir` (and parents) with mode 0700 when missing. Existing directories keep their mode. */
export function ensurePrivateDir(dir: string): void {
  // Usually it is there already: one stat answers that.
  const there = statSync(dir, { throwIfNoEntry: false });
  if (there?.isDirectory() && ((there.mode & 0o777) === 0o700 || there.uid !== process.getuid?.())) return;
  if (!there) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw e;
    }
  }
  // mkdir's mode is filtered by the umask only for bits it adds; make the leaf exact.
  const st = statSync(dir);
  if (!st.isDirectory()) throw Object.assign(new Error(`${dir} is not a directory`), { code: 'ENOTDIR' });
  if ((st.mode & 0o777) !== 0o700 && st.uid === process.getuid?.()) chmodSync(dir, 0o700);
}

/**
 * `durable: false` skips the two fsyncs (file and directory) for files whose loss in a power cut
 * costs nothing (backups of credentials that are saved elsewhere first); the write is still atomic.
 */
export function atomicWriteFile(target: string, data: string | Uint8Array, mode = 0o600, opts: { durable?: boolean } = {}): void {
  const durable = opts.durable ?? true;
  const dir = path.dirname(target);
  // node:crypto is loaded here, at the first write, not at start-up: it takes 5–7 ms to load on Node 24.
  const { randomBytes } = process.getBuiltinModule('node:crypto');
  const tmp = path.join(dir, `.${path.basename(target)}.${randomBytes(8).toString('hex')}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW, mode);
  try {
    try {
      fchmodSync(fd, mode); // exact mode whatever the umask
      writeFileSync(fd, data);
      if (durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  if (durable) fsyncDir(dir);
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY);
    fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Read a file as UTF-8, or null when it does not exist. */
export function readFileIfExists(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null;
    throw e;
  }
}
