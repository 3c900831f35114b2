/** Copies of the live auth.json taken before each switch; the newest `keep` are kept. */
import fs from 'node:fs';
import path from 'node:path';
import { atomicWriteFile, ensurePrivateDir } from './atomic.js';

/**
 * Write `text` as a new private (0600) backup, atomically. `durable`: fsync it — when the backup is
 * the only copy of what it holds.
 */
export function backupLive(dir: string, text: string, now: Date, opts: { keep?: number; durable?: boolean } = {}): string {
  const keep = opts.keep ?? 10;
  ensurePrivateDir(dir);
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  let file = path.join(dir, `auth-${stamp}.json`);
  for (let i = 1; fs.existsSync(file); i += 1) file = path.join(dir, `auth-${stamp}-${i}.json`);
  atomicWriteFile(file, text, 0o600, { durable: opts.durable ?? false });
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
