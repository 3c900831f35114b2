/**
 * An inter-process lock for read-modify-write of codex-auth's own files: a lock file created with
 * O_EXCL holding the owner's pid. A lock whose owner is dead (same host) or that is very old is stale
 * and taken over, so a crashed codex-auth never blocks the next one for long.
 */
import fs from 'node:fs';
import os from 'node:os';
import { CliError, errnoCode } from '../errors.js';

interface Owner {
  pid: number;
  host: string;
  at: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
}

function readOwner(file: string): Owner | null {
  try {
    const o = JSON.parse(fs.readFileSync(file, 'utf8')) as Owner;
    return typeof o.pid === 'number' ? o : null;
  } catch {
    return null;
  }
}

export interface LockOptions {
  timeoutMs?: number;
  staleMs?: number;
  what?: string;
}

export async function withFileLock<T>(file: string, fn: () => Promise<T> | T, opts: LockOptions = {}): Promise<T> {
  const release = await acquireFileLock(file, opts);
  try {
    return await fn();
  } finally {
    release();
  }
}

export async function acquireFileLock(file: string, opts: LockOptions = {}): Promise<() => void> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const staleMs = opts.staleMs ?? 5 * 60_000;
  const me: Owner = { pid: process.pid, host: os.hostname(), at: Date.now() };
  const token = JSON.stringify(me);
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  for (;;) {
    try {
      const fd = fs.openSync(file, 'wx', 0o600);
      try {
        fs.writeSync(fd, token);
      } finally {
        fs.closeSync(fd);
      }
      return () => {
        try {
          if (fs.readFileSync(file, 'utf8') === token) fs.unlinkSync(file);
        } catch {
          /* gone already */
        }
      };
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw e;
    }
    const owner = readOwner(file);
    let stale = false;
    if (owner) {
      stale = (owner.host === me.host && !pidAlive(owner.pid)) || Date.now() - owner.at > staleMs;
    } else {
      // Unreadable: maybe being written right now. Stale only if it stays so for a while. lstat: a
      // dangling symbolic link planted there exists (open 'wx' fails on it) but stat() says ENOENT,
      // which used to make this loop spin forever.
      try {
        stale = Date.now() - fs.lstatSync(file).mtimeMs > 2_000;
      } catch {
        continue;
      }
    }
    if (stale) {
      const aside = `${file}.stale.${process.pid}`;
      try {
        fs.renameSync(file, aside);
        fs.unlinkSync(aside);
      } catch {
        /* someone else took it over first */
      }
      continue;
    }
    if (Date.now() >= deadline) {
      throw new CliError(
        'locked',
        `Timed out waiting for ${opts.what ?? 'a lock'} held by process ${owner?.pid ?? '?'} (${file}). ` +
          'If no codex-auth is running, delete that file.',
      );
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 100);
  }
}
