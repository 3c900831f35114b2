/**
 * Codex's live credentials as services read and write them: with the stat of the file they came
 * from, as a refresh sees them, and fresher tokens pushed to them. Below sync, tokens and
 * credentials, which all use it.
 */
import { compareSnapshotMeta, snapshotMeta } from '../domain/accounts.js';
import { chatgptIdentity, type ParsedAuth, parseAuthJson, serializeAuth } from '../domain/authfile.js';
import type { Account } from '../domain/types.js';
import type { LiveCredentials, StampedText } from '../store/live.js';
import type { Deps } from './deps.js';

/** The live credentials with the stat of the auth.json they were read from, where there is one. */
export async function readStamped(live: LiveCredentials): Promise<StampedText | null> {
  if (live.readStamped) return live.readStamped();
  const text = await live.read();
  return text === null ? null : { text, stat: null };
}

export function liveBelongsTo(live: ParsedAuth | null, account: Pick<Account, 'id'>): boolean {
  if (!live || live.mode !== 'chatgpt') return false;
  try {
    return chatgptIdentity(live).id === account.id;
  } catch {
    return false;
  }
}

/** Codex's live credentials as a refresh sees them: an unreadable copy is an error, never "none". */
export type LiveAuth = { kind: 'none' } | { kind: 'ok'; auth: ParsedAuth } | { kind: 'error'; message: string };

export async function readLiveAuth(app: Deps): Promise<LiveAuth> {
  const live = await app.live();
  let text: string | null;
  try {
    text = await live.read();
  } catch (e) {
    return { kind: 'error', message: e instanceof Error ? e.message.replace(/\.$/, '') : String(e) };
  }
  // Auto mode read auth.json because the keyring did not answer: the keyring may hold newer tokens.
  if (live.degraded) return { kind: 'error', message: live.degraded };
  if (text === null) return { kind: 'none' };
  try {
    return { kind: 'ok', auth: parseAuthJson(text) };
  } catch (e) {
    return { kind: 'error', message: `${live.location} ${(e as Error).message}` };
  }
}

/**
 * Fresh credentials of a ChatGPT account go live when Codex's live copy holds an older copy of that
 * same account (an `import` or `login` after "login required": Codex must not keep the dead
 * tokens). Under Codex's own locks, checked again there. Returns the live file as written (for the
 * registry's record), or null when nothing was written. Call holding the account's token lock.
 */
export async function pushLive(app: Deps, accountId: string, auth: ParsedAuth): Promise<StampedText | null> {
  if (auth.mode !== 'chatgpt') return null;
  const older = (cur: LiveAuth) => cur.kind === 'ok' && liveBelongsTo(cur.auth, { id: accountId }) && compareSnapshotMeta(snapshotMeta(auth), snapshotMeta(cur.auth)) === 'newer';
  if (!older(await readLiveAuth(app))) return null;
  const live = await app.live();
  return live.withLock(async () => {
    if (!older(await readLiveAuth(app))) return null;
    await live.write(serializeAuth(auth.raw));
    return readStamped(live);
  });
}
