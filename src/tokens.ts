/**
 * Keeping an account's OAuth tokens fresh without ever reusing a rotated refresh token.
 * Per-account lock; the freshest of the stored snapshot and the live file is used; only returned
 * fields are merged; the live auth.json is updated only while it still belongs to the account and
 * still holds the refresh token we used, under Codex's own flocks.
 */
import path from 'node:path';
import type { App } from './app.js';
import { compareSnapshotMeta, describeAccount, snapshotMeta } from './domain/accounts.js';
import { chatgptIdentity, type ParsedAuth, parseAuthJson, parseAuthObject, serializeAuth, sha256Hex } from './domain/authfile.js';
import { jwtExpiry } from './domain/jwt.js';
import { ensurePrivateDir } from './store/atomic.js';
import type { StampedText } from './store/live.js';
import { withFileLock } from './store/lock.js';
import type { Account } from './store/registry-schema.js';
import { readStamped, recordWrittenLive } from './sync.js';

export const REFRESH_SKEW_SECONDS = 300;
const ROTATED_KEEP = 8;

export type FreshResult =
  | { ok: true; auth: ParsedAuth; refreshed: boolean }
  | { ok: false; permanent: boolean; short: string; message: string };

function rtHash(rt: string): string {
  return sha256Hex(`rt:${rt}`).slice(0, 24);
}

function liveBelongsTo(live: ParsedAuth | null, account: Account): boolean {
  if (!live || live.mode !== 'chatgpt') return false;
  try {
    return chatgptIdentity(live).id === account.id;
  } catch {
    return false;
  }
}

async function readLiveAuth(app: App): Promise<ParsedAuth | null> {
  try {
    const text = await (await app.live()).read();
    return text === null ? null : parseAuthJson(text);
  } catch {
    return null;
  }
}

export function expiresSoon(auth: ParsedAuth, now: Date, skewSeconds = REFRESH_SKEW_SECONDS): boolean {
  const exp = jwtExpiry(auth.tokens?.access_token);
  return exp !== null && exp * 1000 - now.getTime() <= skewSeconds * 1000;
}

/**
 * Make sure `accountId` has an access token valid for at least 5 minutes (any age with `force`),
 * refreshing it if needed. Saves what changed into the secret store, the registry and, when the
 * account is Codex's live login, auth.json.
 */
export async function ensureFreshTokens(app: App, accountId: string, opts: { force?: boolean } = {}): Promise<FreshResult> {
  const locks = path.join(app.paths.home, 'locks');
  ensurePrivateDir(locks);
  const account0 = (await app.registry.load()).accounts.find((a) => a.id === accountId);
  if (!account0) return { ok: false, permanent: true, short: 'removed', message: 'the account was removed' };
  if (account0.kind !== 'chatgpt') return { ok: false, permanent: true, short: 'not chatgpt', message: 'API keys have no OAuth tokens' };
  return withFileLock(path.join(locks, `${account0.secret.ref}.lock`), () => refreshLocked(app, accountId, opts), { what: `the token lock of ${describeAccount(account0)}` });
}

async function refreshLocked(app: App, accountId: string, opts: { force?: boolean }): Promise<FreshResult> {
  const account = (await app.registry.load()).accounts.find((a) => a.id === accountId);
  if (!account) return { ok: false, permanent: true, short: 'removed', message: 'the account was removed' };
  const storedText = await app.secrets.get(account.secret);
  if (storedText === null) return { ok: false, permanent: true, short: 'no secret', message: `the stored credentials of ${describeAccount(account)} are missing` };
  let auth: ParsedAuth;
  try {
    auth = parseAuthJson(storedText);
  } catch (e) {
    return { ok: false, permanent: true, short: 'bad secret', message: `the stored credentials are unreadable (${(e as Error).message})` };
  }
  const storedFingerprint = snapshotMeta(auth).fingerprint;
  // Codex may have refreshed the live copy since we last synced: prefer whichever is newer.
  const live = await readLiveAuth(app);
  let adoptLive = false;
  if (live && liveBelongsTo(live, account) && compareSnapshotMeta(snapshotMeta(live), snapshotMeta(auth)) === 'newer') {
    auth = live;
    adoptLive = true;
  }
  const now = app.now();
  if (!opts.force && !expiresSoon(auth, now)) {
    if (adoptLive) await persist(app, accountId, auth, null);
    return { ok: true, auth, refreshed: false };
  }
  const rt = auth.tokens?.refresh_token ?? '';
  if (!rt) return { ok: false, permanent: true, short: 'login required', message: 'there is no refresh token' };
  if ((account.rotatedRefreshTokens as string[] | undefined)?.includes(rtHash(rt))) {
    return { ok: false, permanent: true, short: 'login required', message: 'only an already-rotated refresh token is left; log in again' };
  }
  const { refreshTokens, refreshUrl, mergeRefreshed } = await import('./openai/oauth.js');
  const result = await refreshTokens(await app.ctx.http(), refreshUrl(app.env), rt);
  if (!result.ok) {
    // Codex may have rotated it first (it refreshes on its own): then its newer tokens are the truth.
    const again = await readLiveAuth(app);
    if (again && liveBelongsTo(again, account) && again.tokens?.refresh_token !== rt && compareSnapshotMeta(snapshotMeta(again), snapshotMeta(auth)) === 'newer') {
      await persist(app, accountId, again, null);
      return { ok: true, auth: again, refreshed: false };
    }
    if (result.permanent) await markLoginRequired(app, accountId, result.short);
    return { ok: false, permanent: result.permanent, short: result.permanent ? 'login required' : result.short, message: result.message };
  }
  const merged = parseAuthObject(mergeRefreshed(auth.raw, result.tokens, app.now()));
  const rotated = result.tokens.refresh_token && result.tokens.refresh_token !== rt ? rtHash(rt) : null;
  // Codex's live copy is updated when it is this account with the token we used, or an older
  // snapshot of it (one an earlier refresh could not update). First, then our copy: a crash between
  // the two leaves the live file newer, which the next command's sync saves back (the other order
  // left auth.json holding the rotated-away token for good). Then again, in case a switch to this
  // account wrote the old snapshot meanwhile (an unlocked peek first: usually nothing to do).
  const liveCreds = await app.live();
  // The live file as read back after a write of ours: recorded in the registry (src/sync.ts).
  let written: StampedText | null = null;
  const liveIsStale = (cur: ParsedAuth | null) =>
    cur !== null && liveBelongsTo(cur, account) && (cur.tokens?.refresh_token === rt || compareSnapshotMeta(snapshotMeta(cur), snapshotMeta(auth)) === 'older');
  const updateLive = async () => {
    if (!liveIsStale(await readLiveAuth(app))) return;
    await liveCreds
      .withLock(async () => {
        if (!liveIsStale(await readLiveAuth(app))) return;
        await liveCreds.write(serializeAuth(merged.raw));
        written = await readStamped(liveCreds);
      })
      .catch((e: unknown) => app.out.debug(`could not update the live credentials after a refresh: ${(e as Error).message}`));
  };
  await updateLive();
  await persist(app, accountId, merged, rotated, new Set([storedFingerprint, snapshotMeta(auth).fingerprint]), written);
  await updateLive();
  return { ok: true, auth: merged, refreshed: true };
}

/**
 * Save `auth` as the account's snapshot unless the stored one is newer. `refreshedFrom`: fingerprints
 * of the snapshots a refresh consumed; while the stored one is still one of them, the refresh result
 * replaces it whatever the timestamps say (a last_refresh written by a clock running ahead must not
 * make the new tokens look older: the old refresh token is dead on the server already).
 * `writtenLive`: the live file as read back after this refresh wrote it, recorded with the save.
 */
async function persist(
  app: App,
  accountId: string,
  auth: ParsedAuth,
  rotatedHash: string | null,
  refreshedFrom: ReadonlySet<string> = new Set(),
  writtenLive: StampedText | null = null,
): Promise<void> {
  await app.registry.update(async (reg) => {
    recordWrittenLive(reg, writtenLive);
    const acc = reg.accounts.find((a) => a.id === accountId);
    if (!acc) return;
    if (!refreshedFrom.has(acc.snapshot.fingerprint) && compareSnapshotMeta(snapshotMeta(auth), acc.snapshot) === 'older') return;
    await app.secrets.set(acc.secret, serializeAuth(auth.raw));
    acc.snapshot = snapshotMeta(auth);
    acc.accessTokenExpiresAt = jwtExpiry(auth.tokens?.access_token);
    acc.loginRequired = null;
    if (rotatedHash) acc.rotatedRefreshTokens = [...((acc.rotatedRefreshTokens as string[] | undefined) ?? []), rotatedHash].slice(-ROTATED_KEEP);
    acc.updatedAt = app.now().toISOString();
  });
}

async function markLoginRequired(app: App, accountId: string, why: string): Promise<void> {
  await app.registry.update((reg) => {
    const acc = reg.accounts.find((a) => a.id === accountId);
    if (acc) acc.loginRequired = why;
  });
}
