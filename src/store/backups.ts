/**
 * Copies of the live auth.json taken before each switch. The newest `keep` are kept; an older one is
 * deleted only when `onlyCopy` says the login it holds is stored elsewhere (in an account).
 */
import { existsSync, readFileSync, readdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { atomicWriteFile, ensurePrivateDir } from './atomic.js';

export interface BackupOptions {
  /** How many of the newest backups are kept whatever they hold (default 10). */
  keep?: number;
  /** fsync it — when the backup is the only copy of what it holds. */
  durable?: boolean;
  /**
   * Is this older backup's text the only copy of a login (stored in no account)? Then it is never
   * deleted by count. Without it, every backup beyond `keep` is deleted.
   */
  onlyCopy?: (text: string) => boolean;
}

/** Write `text` as a new private (0600) backup, atomically, then prune the older ones. */
export function backupLive(dir: string, text: string, now: Date, opts: BackupOptions = {}): string {
  ensurePrivateDir(dir);
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  let file = path.join(dir, `auth-${stamp}.json`);
  for (let i = 1; existsSync(file); i += 1) file = path.join(dir, `auth-${stamp}-${i}.json`);
  atomicWriteFile(file, text, 0o600, { durable: opts.durable ?? false });
  pruneBackups(dir, opts);
  return file;
}

/**
 * Delete the backups beyond the newest `keep`, except those `onlyCopy` holds to be the only copy of
 * a login (read only for the backups past the count; one that cannot be read is kept).
 */
export function pruneBackups(dir: string, opts: Pick<BackupOptions, 'keep' | 'onlyCopy'> = {}): string[] {
  const keep = opts.keep ?? 10;
  const all = readdirSync(dir)
    .filter((f) => /^auth-.*\.json$/.test(f))
    .sort();
  const removed: string[] = [];
  for (const old of all.slice(0, Math.max(0, all.length - keep))) {
    const file = path.join(dir, old);
    if (opts.onlyCopy) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue; // gone meanwhile, or unreadable: not known to be saved elsewhere
      }
      if (opts.onlyCopy(text)) continue;
    }
    try {
      unlinkSync(file);
      removed.push(file);
    } catch {
      /* already gone */
    }
  }
  return removed;
}
