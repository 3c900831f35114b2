/**
 * The pending-token journal: credentials that exist nowhere else yet, made durable the moment they
 * exist — above all the tokens of a refresh, written as soon as OpenAI's answer arrives (OpenAI has
 * rotated the refresh token by then: losing the answer loses the login).
 *
 * One file per entry, `$CODEX_AUTH_HOME/pending/<account ref>+<unique>.json` (0600, in a 0700
 * folder), written atomically with fsync of the file and the folder. Writing an entry takes no lock
 * at all (every entry is a new file), so it never waits for the registry lock or anything else.
 * Entries are folded into the account's stored snapshot, under the account's token lock, by the
 * command that wrote them and else by the next codex-auth command (every command that syncs folds
 * the journal first); an entry is deleted only once the account's snapshot holds it (or something
 * newer) and the registry says so. An entry of an account that is not in the registry stays until
 * the account is imported again or removed.
 *
 * Entries hold tokens, like the account snapshots in accounts/: same trust, same modes. With
 * CODEX_AUTH_STORE=keyring they are the only tokens codex-auth keeps in a file, and only until
 * folded (seconds, unless the keyring cannot be reached).
 */
import { readFileSync, readdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../errors.js';
import { atomicWriteFile, ensurePrivateDir } from './atomic.js';

export interface PendingEntry {
  /** Where the entry is (set when read). */
  file: string;
  accountId: string;
  /** When it was written (ISO). */
  at: string;
  /** What wrote it: a token refresh, or Codex's live credentials saved while the account was busy. */
  source: 'refresh' | 'live';
  /** The whole auth.json document. */
  auth: Record<string, unknown>;
  /**
   * Fingerprints of the snapshots a refresh consumed: while the stored snapshot is one of them, this
   * entry replaces it whatever the timestamps say (the old refresh token is dead on the server).
   */
  consumed: string[];
  /** Hash of the refresh token this entry rotated away (never to be sent again), or null. */
  rotated: string | null;
}

const SEP = '+';

export function pendingDir(home: string): string {
  return path.join(home, 'pending');
}

/** Write an entry (atomically, fsynced): durable when this returns. Returns its path. */
export function writePending(home: string, ref: string, entry: Omit<PendingEntry, 'file'>): string {
  const dir = pendingDir(home);
  ensurePrivateDir(dir);
  const { randomBytes } = process.getBuiltinModule('node:crypto');
  const file = path.join(dir, `${ref}${SEP}${Date.now().toString(36)}-${process.pid}-${randomBytes(4).toString('hex')}.json`);
  atomicWriteFile(file, `${JSON.stringify({ version: 1, ...entry })}\n`, 0o600, { durable: true });
  return file;
}

/**
 * The journal's files grouped by account ref; empty (one failed readdir) when there is no journal.
 * Temp files of a write that was cut short (`.name.tmp`) are not entries.
 */
export function pendingFiles(home: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let names: string[];
  try {
    names = readdirSync(pendingDir(home));
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return out;
    throw e;
  }
  for (const name of names.sort()) {
    if (name.startsWith('.') || !name.endsWith('.json')) continue;
    const i = name.lastIndexOf(SEP);
    if (i <= 0) continue;
    const ref = name.slice(0, i);
    const list = out.get(ref) ?? [];
    list.push(path.join(pendingDir(home), name));
    out.set(ref, list);
  }
  return out;
}

/** The entries of one account ref, oldest first; files that cannot be read or parsed are skipped. */
export function readPending(home: string, ref: string, files = pendingFiles(home).get(ref) ?? []): PendingEntry[] {
  const out: PendingEntry[] = [];
  for (const file of files) {
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      continue;
    }
    if (typeof doc !== 'object' || doc === null) continue;
    const d = doc as Record<string, unknown>;
    if (typeof d.accountId !== 'string' || typeof d.auth !== 'object' || d.auth === null || Array.isArray(d.auth)) continue;
    out.push({
      file,
      accountId: d.accountId,
      at: typeof d.at === 'string' ? d.at : '',
      source: d.source === 'live' ? 'live' : 'refresh',
      auth: d.auth as Record<string, unknown>,
      consumed: Array.isArray(d.consumed) ? d.consumed.filter((x): x is string => typeof x === 'string') : [],
      rotated: typeof d.rotated === 'string' ? d.rotated : null,
    });
  }
  return out.sort((a, b) => a.at.localeCompare(b.at));
}

/** Delete folded entries (a file already gone is fine). */
export function removePending(files: readonly string[]): void {
  for (const f of files) {
    try {
      unlinkSync(f);
    } catch {
      /* gone already */
    }
  }
}
