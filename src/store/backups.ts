/** Copies of the live auth.json taken before each switch; the newest `keep` are kept. */
import fs from 'node:fs';
import path from 'node:path';
import { atomicWriteFile, ensurePrivateDir } from './atomic.js';
import { isoString } from '../domain/time.js';

/**
 * Whether `source` (the live auth.json, about to be replaced by a rename) can simply become the
 * backup by a hard link: a private regular file of ours holding exactly `text`, linked nowhere else.
 * The rename then leaves the old file to the backup alone — the same bytes, without writing them.
 */
function linkable(source: string, text: string): boolean {
  try {
    const st = fs.lstatSync(source);
    const mine = typeof process.getuid !== 'function' || st.uid === process.getuid();
    return st.isFile() && mine && (st.mode & 0o077) === 0 && st.nlink === 1 && st.size === Buffer.byteLength(text);
  } catch {
    return false;
  }
}

/**
 * `durable`: fsync it — when the backup is the only copy of what it holds. `linkFrom`: the file
 * `text` was read from, when it is about to be replaced by a rename (see linkable); a durable backup
 * is always written.
 */
export function backupLive(dir: string, text: string, now: Date, opts: { keep?: number; durable?: boolean; linkFrom?: string } = {}): string {
  const keep = opts.keep ?? 10;
  ensurePrivateDir(dir);
  const stamp = isoString(now).replace(/[:.]/g, '-');
  let file = path.join(dir, `auth-${stamp}.json`);
  for (let i = 1; fs.existsSync(file); i += 1) file = path.join(dir, `auth-${stamp}-${i}.json`);
  let linked = false;
  if (!opts.durable && opts.linkFrom !== undefined && linkable(opts.linkFrom, text)) {
    try {
      fs.linkSync(opts.linkFrom, file);
      linked = true;
    } catch {
      linked = false; // another filesystem, or one without hard links: write a copy
    }
  }
  if (!linked) atomicWriteFile(file, text, 0o600, { durable: opts.durable ?? false });
  const all = fs
    .readdirSync(dir)
    .filter((f) => /^auth-.*\.json$/.test(f))
    .sort();
  for (const old of all.slice(0, Math.max(0, all.length - keep))) {
    try {
      fs.unlinkSync(path.join(dir, old));
    } catch {
      /* already gone */
    }
  }
  return file;
}
