/**
 * codex-auth's own inter-process locks — the registry lock (registry.lock), the per-account token
 * locks (locks/<account>.lock) and the one-`watch`-per-CODEX_HOME lock (watch.lock) — are all this one
 * primitive: an exclusive flock(2) on a lock file descriptor the process keeps open while it holds
 * the lock. Node has no flock, so it is taken through the same helper processes as Codex's locks
 * (codex-lock.ts): a helper flocks the descriptor it inherits from us and exits; the lock belongs to
 * our open file description. Hence:
 * - a live holder is never displaced, however long it holds the lock (there is no age, no stale
 *   detection, nothing that deletes or renames another process's lock file);
 * - a dead holder's lock is free at once: the kernel closes a dead process's descriptors, and its
 *   flock goes with them;
 * - release is closing the descriptor; the lock file stays (deleting a flocked file would let the
 *   next process lock a new inode at the same path while the holder still holds the old one).
 * Lock files are created 0600 in 0700 directories, never through a symbolic link. The holder writes
 * its pid into the file, only to say who holds a busy lock; nothing decides anything from it.
 *
 * Lock order (never wait for an earlier lock while holding a later one): an account's token lock,
 * then Codex's flocks on auth.lock/auth.json.lock, then the registry lock. The watch lock is held for
 * the whole life of a `watch` and taken without waiting.
 *
 * No network and no keyring I/O may happen while the registry lock is held: every other codex-auth
 * command that writes waits for it (15 s, then fails), so identify and fetch first, then lock,
 * re-read, write.
 */
import { fstatSync, ftruncateSync, readSync, writeSync } from 'node:fs';
import path from 'node:path';
import { CliError, errnoCode } from '../errors.js';
import { ensurePrivateDir } from './atomic.js';
import { closeQuietly, LOCK_BUSY, type LockAttempt, helperFailure, lockThroughHelper, openLockFd, type RunLocker } from './codex-lock.js';

export interface LockOptions {
  /** How long to wait for a busy lock (default 15 s); 0: fail at once when it is busy. */
  timeoutMs?: number;
  /** What the lock is, for messages ("the codex-auth registry lock"). */
  what?: string;
  /** Where the lock helpers are looked for (PATH); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Tests: how a helper is run. */
  runLocker?: RunLocker;
}

const DEFAULT_TIMEOUT_MS = 15_000;

/** The pid a holder recorded in the lock file (informational only), read through our own descriptor. */
function recordedPid(fd: number): number | null {
  try {
    const buf = Buffer.alloc(32);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const m = /^(\d+)\n/.exec(buf.subarray(0, n).toString('latin1'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function recordOwner(fd: number): void {
  try {
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
  } catch {
    /* only informational */
  }
}

export function symlinkError(file: string): CliError {
  return new CliError('lock_symlink', `${file} is a symbolic link, not codex-auth's lock file; nothing was changed. Remove it (rm "${file}") and try again.`);
}

function openOwnLockFile(file: string): number {
  let fd: number;
  try {
    fd = openLockFd(file);
  } catch (e) {
    if (errnoCode(e) === 'ELOOP') throw symlinkError(file);
    throw e;
  }
  if (!fstatSync(fd).isFile()) {
    closeQuietly(fd);
    throw new CliError('lock_not_file', `${file} is not a regular file, so it cannot be codex-auth's lock file; nothing was changed. Remove it and try again.`);
  }
  return fd;
}

function unavailable(file: string, what: string, tried: string[]): CliError {
  return new CliError(
    'lock_unavailable',
    `Cannot take ${what} (${file}): no lock helper works here (${tried.join('; ')}); nothing was changed. Install util-linux's flock, python3 or perl.`,
  );
}

/** Run fn holding the lock on `file`. */
export async function withFileLock<T>(file: string, fn: () => Promise<T> | T, opts: LockOptions = {}): Promise<T> {
  const release = await acquireFileLock(file, opts);
  try {
    return await fn();
  } finally {
    release();
  }
}

/**
 * Takes the lock on `file`: one non-blocking attempt, then (timeoutMs > 0) a blocking wait of up to
 * timeoutMs. Busy past that: CliError 'locked'. Returns the release function (closing our descriptor).
 */
export async function acquireFileLock(file: string, opts: LockOptions = {}): Promise<() => void> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const what = opts.what ?? 'a lock';
  ensurePrivateDir(path.dirname(file));
  const fd = openOwnLockFile(file);
  try {
    const busy = () =>
      new CliError(
        'locked',
        `Timed out waiting for ${what} held by process ${recordedPid(fd) ?? '?'} (${file}); it is free again as soon as that process ends.`,
      );
    const got = await lockThroughHelper(
      { env: opts.env ?? process.env, timeoutSec: Math.ceil(timeoutMs / 1000), runLocker: opts.runLocker },
      async (attempt: LockAttempt) => {
        const r = await attempt(fd, false);
        if (r === 0) return null;
        if (r !== LOCK_BUSY) return helperFailure(r);
        if (timeoutMs <= 0) throw busy();
        const w = await attempt(fd, true);
        if (w === 0) return null;
        if (w === LOCK_BUSY) throw busy();
        return `${helperFailure(w)} while waiting`;
      },
    );
    if (!got.ok) throw unavailable(file, what, got.tried);
    recordOwner(fd);
  } catch (e) {
    closeQuietly(fd);
    throw e;
  }
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    closeQuietly(fd);
  };
}

export type LockState =
  | { state: 'absent' }
  | { state: 'free' }
  | { state: 'held'; pid: number | null }
  | { state: 'symlink' }
  | { state: 'not_file' }
  | { state: 'unknown'; why: string };

/**
 * Whether the lock on an existing `file` is held right now, changing nothing: the file is never
 * created, a free lock is taken without waiting and let go of at once.
 */
export async function probeFileLock(file: string, opts: Pick<LockOptions, 'env' | 'runLocker'> = {}): Promise<LockState> {
  let fd: number;
  try {
    fd = openLockFd(file, { create: false });
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT') return { state: 'absent' };
    if (code === 'ELOOP') return { state: 'symlink' };
    if (code === 'EISDIR' || code === 'ENXIO') return { state: 'not_file' };
    return { state: 'unknown', why: code ?? (e as Error).message };
  }
  try {
    if (!fstatSync(fd).isFile()) return { state: 'not_file' };
    let busy = false;
    const got = await lockThroughHelper({ env: opts.env ?? process.env, timeoutSec: 1, runLocker: opts.runLocker }, async (attempt) => {
      const r = await attempt(fd, false);
      busy = r === LOCK_BUSY;
      return helperFailure(r);
    });
    if (!got.ok) return { state: 'unknown', why: `no lock helper works here (${got.tried.join('; ')})` };
    return busy ? { state: 'held', pid: recordedPid(fd) } : { state: 'free' };
  } finally {
    closeQuietly(fd);
  }
}
