/**
 * Keeping an account's OAuth tokens fresh without ever reusing a rotated refresh token.
 *
 * Under the account's token lock: the pending-token journal is folded first (tokens an earlier run
 * got from OpenAI but could not record); the freshest of the stored snapshot and Codex's live copy
 * is used; an account whose live copy cannot be read is not refreshed at all (Codex may hold newer
 * tokens of it). The moment OpenAI's answer arrives, the merged tokens are written to the journal
 * and fsynced — before anything else, and without waiting for any other lock — then Codex's live
 * copy is updated (only while it still belongs to the account and holds the token used, under
 * Codex's own flocks), the stored snapshot is written, and one short registry update records it.
 * A busy registry lock, a crash or a kill after the answer loses nothing: the journal holds the
 * tokens until a later command folds them in (src/services/credentials.ts).
 */
import type { Deps } from './deps.js';
import { compareSnapshotMeta, describeAccount, snapshotMeta } from '../domain/accounts.js';
import { type ParsedAuth, parseAuthObject, serializeAuth, sha256Hex } from '../domain/authfile.js';
import { jwtExpiry } from '../domain/jwt.js';
import { type Candidate, liveFirst, recordSettled, type Settled, settleLocked, withTokenLock } from './credentials.js';
import { errnoCode } from '../errors.js';
import { crashPoint } from '../platform/failpoint.js';
import type { StampedText } from '../store/live.js';
import { writePending } from '../store/pending.js';
import type { Registry } from '../domain/types.js';
import { type LiveAuth, liveBelongsTo, readLiveAuth, readStamped } from './live.js';
import { recordWrittenLive } from './sync.js';

export { type LiveAuth, pushLive, readLiveAuth } from './live.js';

export const REFRESH_SKEW_SECONDS = 300;

export type FreshResult =
  | { ok: true; auth: ParsedAuth; refreshed: boolean }
  /** skipped: not even tried (Codex's live copy of the account could not be read). */
  | { ok: false; permanent: boolean; short: string; message: string; skipped?: boolean };

function rtHash(rt: string): string {
  return sha256Hex(`rt:${rt}`).slice(0, 24);
}

const authOf = (l: LiveAuth): ParsedAuth | null => (l.kind === 'ok' ? l.auth : null);

export function expiresSoon(auth: ParsedAuth, now: Date, skewSeconds = REFRESH_SKEW_SECONDS): boolean {
  const exp = jwtExpiry(auth.tokens?.access_token);
  return exp !== null && exp * 1000 - now.getTime() <= skewSeconds * 1000;
}

/**
 * Make sure `accountId` has an access token valid for at least 5 minutes (any age with `force`),
 * refreshing it if needed. Saves what changed into the secret store, the registry and, when the
 * account is Codex's live login, Codex's live credentials.
 */
export async function ensureFreshTokens(app: Deps, accountId: string, opts: { force?: boolean } = {}): Promise<FreshResult> {
  const account0 = (await app.registry.load()).accounts.find((a) => a.id === accountId);
  if (!account0) return { ok: false, permanent: true, short: 'removed', message: 'the account was removed' };
  if (account0.kind !== 'chatgpt') return { ok: false, permanent: true, short: 'not chatgpt', message: 'API keys have no OAuth tokens' };
  return withTokenLock(app, account0.secret.ref, describeAccount(account0), () => refreshLocked(app, accountId, opts));
}

async function refreshLocked(app: Deps, accountId: string, opts: { force?: boolean }): Promise<FreshResult> {
  const reg = await app.registry.load();
  const account = reg.accounts.find((a) => a.id === accountId);
  if (!account) return { ok: false, permanent: true, short: 'removed', message: 'the account was removed' };
  // Tokens an earlier run got from OpenAI but could not record (its registry write timed out, it was
  // killed) are in the journal: they come first, or the stored copy would hold a rotated-away token.
  const settled: Settled[] = [await settleLocked(app, account, [], { beforeWrite: (a) => liveFirst(app, accountId, a) })];
  let marked: string | null = null;
  let written: StampedText | null = null;
  const record = () =>
    recordSettled(app, settled, {
      patch: (r: Registry) => recordWrittenLive(r, written),
      after: (r: Registry) => {
        const acc = r.accounts.find((a) => a.id === accountId);
        if (acc && marked !== null) acc.loginRequired = marked;
      },
    });
  const settleWith = async (extra: Candidate[]) => {
    const s = await settleLocked(app, account, extra);
    settled.push(s);
    if (s.error !== undefined) app.report.warn(`The tokens of ${describeAccount(account)} could not be saved in codex-auth's store yet (${s.error}); they are kept in its pending journal until they can.`);
    return s;
  };
  const first = settled[0] as Settled;
  if (first.stored === null) {
    await record();
    if (first.unreadable !== undefined) return { ok: false, permanent: true, short: 'bad secret', message: `the stored credentials are unreadable (${first.unreadable})` };
    return { ok: false, permanent: true, short: 'no secret', message: `the stored credentials of ${describeAccount(account)} are missing` };
  }
  let auth = first.stored;
  const storedFingerprint = snapshotMeta(auth).fingerprint;
  // Codex may have refreshed the live copy since we last synced: prefer whichever is newer.
  const live = await readLiveAuth(app);
  let adoptLive = false;
  if (live.kind === 'ok' && liveBelongsTo(live.auth, account) && compareSnapshotMeta(snapshotMeta(live.auth), snapshotMeta(auth)) === 'newer') {
    auth = live.auth;
    adoptLive = true;
  }
  const now = app.now();
  if (!opts.force && !expiresSoon(auth, now)) {
    if (adoptLive) await settleWith([{ auth }]);
    await record();
    return { ok: true, auth, refreshed: false };
  }
  // Never refresh an account whose live copy cannot be read: Codex may have rotated its tokens
  // already, and sending the stored (rotated-away) refresh token would end the login. When the
  // registry knows no active account, the unreadable copy may be anyone's.
  if (live.kind === 'error' && (reg.activeId === account.id || reg.activeId === null)) {
    await record();
    return {
      ok: false,
      permanent: false,
      skipped: true,
      short: 'live unreadable',
      message: `not refreshed: Codex's live credentials cannot be read (${live.message}), and they may hold newer tokens of this account; fix that and try again`,
    };
  }
  const rt = auth.tokens?.refresh_token ?? '';
  if (!rt) {
    await record();
    return { ok: false, permanent: true, short: 'login required', message: 'there is no refresh token' };
  }
  if ((account.rotatedRefreshTokens as string[] | undefined)?.includes(rtHash(rt)) || settled.some((s) => s.rotated.includes(rtHash(rt)))) {
    await record();
    return { ok: false, permanent: true, short: 'login required', message: 'only an already-rotated refresh token is left; log in again' };
  }
  const { refreshTokens, refreshUrl, mergeRefreshed } = await import('../openai/oauth.js');
  crashPoint(app.env, 'refresh-before-request');
  const result = await refreshTokens(await app.http(), refreshUrl(app.env), rt);
  if (!result.ok) {
    // Codex may have rotated it first (it refreshes on its own): then its newer tokens are the truth.
    const again = authOf(await readLiveAuth(app));
    if (again && liveBelongsTo(again, account) && again.tokens?.refresh_token !== rt && compareSnapshotMeta(snapshotMeta(again), snapshotMeta(auth)) === 'newer') {
      await settleWith([{ auth: again }]);
      await record();
      return { ok: true, auth: again, refreshed: false };
    }
    if (result.permanent) marked = result.short;
    await record();
    return { ok: false, permanent: result.permanent, short: result.permanent ? 'login required' : result.short, message: result.message };
  }
  const merged = parseAuthObject(mergeRefreshed(auth.raw, result.tokens, app.now()));
  const rotated = result.tokens.refresh_token && result.tokens.refresh_token !== rt ? rtHash(rt) : null;
  const consumed = [...new Set([storedFingerprint, snapshotMeta(auth).fingerprint])];
  // Durable before anything else: OpenAI has rotated the refresh token, these tokens exist nowhere
  // else yet. No lock is needed (each journal entry is a new file), so nothing can make us wait here.
  try {
    writePending(app.paths.home, account.secret.ref, {
      accountId,
      at: app.now().toISOString(),
      source: 'refresh',
      auth: merged.raw,
      consumed,
      rotated,
    });
    app.report.debug(`the new tokens of ${describeAccount(account)} are in the pending-token journal`);
  } catch (e) {
    // Still saved below, where Codex reads them and in our store; only not ahead of them.
    app.report.warn(`The pending-token journal could not be written (${errnoCode(e) ?? (e as Error).message}); saving the new tokens of ${describeAccount(account)} directly.`);
  }
  crashPoint(app.env, 'refresh-journaled');
  // Codex's live copy is updated when it is this account with the token we used, or an older
  // snapshot of it (one an earlier refresh could not update). First, then our copy: Codex reads its
  // own copy, not ours. Then again, in case a switch to this account wrote the old snapshot
  // meanwhile (an unlocked peek first: usually nothing to do).
  const liveCreds = await app.live();
  const liveIsStale = (cur: ParsedAuth | null) =>
    cur !== null && liveBelongsTo(cur, account) && (cur.tokens?.refresh_token === rt || compareSnapshotMeta(snapshotMeta(cur), snapshotMeta(auth)) === 'older');
  const updateLive = async () => {
    if (!liveIsStale(authOf(await readLiveAuth(app)))) return;
    await liveCreds
      .withLock(async () => {
        if (!liveIsStale(authOf(await readLiveAuth(app)))) return;
        await liveCreds.write(serializeAuth(merged.raw));
        written = await readStamped(liveCreds);
      })
      .catch((e: unknown) => app.report.debug(`could not update the live credentials after a refresh: ${(e as Error).message}`));
  };
  await updateLive();
  crashPoint(app.env, 'refresh-live-written');
  // Folds the entry just written (and any other) into the stored snapshot; the tokens are offered
  // directly too, in case the journal could not be written.
  try {
    await settleWith([{ auth: merged, consumed, rotated }]);
  } catch (e) {
    app.report.warn(`The new tokens of ${describeAccount(account)} could not be saved in codex-auth's store yet (${(e as Error).message}); they are kept in its pending journal until they can.`);
  }
  crashPoint(app.env, 'refresh-stored');
  await record();
  crashPoint(app.env, 'refresh-recorded');
  await updateLive();
  return { ok: true, auth: merged, refreshed: true };
}
