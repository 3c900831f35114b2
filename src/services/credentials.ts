/**
 * Saving an account's credentials (its stored auth.json snapshot) without ever losing newer ones.
 *
 * Every write of an account's stored snapshot happens under that account's token lock
 * (locks/<ref>.lock), never under the registry lock: the secret store may be the OS keyring, whose
 * calls can take seconds, and no keyring or network I/O may happen while the registry lock is held
 * (src/store/lock.ts). Under the token lock the stored snapshot is read, compared with the
 * candidates — the account's entries in the pending-token journal (src/store/pending.ts) and
 * whatever the caller brings — and the newest is written; then, in one short registry update, the
 * registry records what the store now holds (its fingerprint, expiry, the refresh tokens rotated
 * away) and the journal entries are deleted. A crash anywhere leaves the journal entry, the stored
 * snapshot, or both: the next command folds the journal again (folding is idempotent).
 *
 * Lock order: a token lock first, then Codex's locks, then the registry lock (src/store/lock.ts).
 */
import path from 'node:path';
import type { Deps } from './deps.js';
import { compareSnapshotMeta, describeAccount, snapshotMeta } from '../domain/accounts.js';
import { type ParsedAuth, parseAuthJson, parseAuthObject, serializeAuth } from '../domain/authfile.js';
import { jwtExpiry } from '../domain/jwt.js';
import { CliError } from '../errors.js';
import { acquireFileLock } from '../store/lock.js';
import { pendingDir, pendingFiles, readPending, removePending } from '../store/pending.js';
import type { Account, Registry } from '../domain/types.js';
import { pushLive } from './live.js';

/** How many rotated-away refresh tokens an account remembers (never sent again). */
export const ROTATED_KEEP = 8;

export function tokenLockFile(app: Deps, ref: string): string {
  return path.join(app.paths.home, 'locks', `${ref}.lock`);
}

/** Run fn holding the token lock of the account whose secret is `ref` (waits up to 15 s). */
export async function withTokenLock<T>(app: Deps, ref: string, what: string, fn: () => Promise<T>): Promise<T> {
  const release = await acquireFileLock(tokenLockFile(app, ref), { what: `the token lock of ${what}` });
  try {
    return await fn();
  } finally {
    release();
  }
}

/** Like withTokenLock, but never waits: `held: false` at once when another process holds the lock. */
export async function tryTokenLock<T>(app: Deps, ref: string, what: string, fn: () => Promise<T>): Promise<{ held: true; value: T } | { held: false }> {
  let release: () => void;
  try {
    release = await acquireFileLock(tokenLockFile(app, ref), { timeoutMs: 0, what: `the token lock of ${what}` });
  } catch (e) {
    if (e instanceof CliError && e.code === 'locked') return { held: false };
    throw e;
  }
  try {
    return { held: true, value: await fn() };
  } finally {
    release();
  }
}

/** Credentials offered for an account's store. */
export interface Candidate {
  auth: ParsedAuth;
  /** Fingerprints of snapshots this one replaces whatever the timestamps say (see PendingEntry). */
  consumed?: readonly string[];
  /** Hash of a refresh token rotated away by it. */
  rotated?: string | null;
}

/** What settleLocked found and did, for recordSettled. */
export interface Settled {
  accountId: string;
  /** What the account's store holds now (or, when `error` is set, what it should hold); null: nothing. */
  stored: ParsedAuth | null;
  /** Whether this call wrote a new snapshot. */
  changed: boolean;
  /** Refresh tokens the candidates rotated away. */
  rotated: string[];
  /** Journal entries folded into the store: deleted once the registry records it. */
  files: string[];
  /** Why the stored snapshot could not be read (`stored` then comes from a candidate, if any). */
  unreadable?: string;
  /** Why the newest candidate could not be written (the journal entries stay). */
  error?: string;
}

/**
 * Fold the account's pending journal and `extra` into its stored snapshot: the newest wins (see
 * compareSnapshotMeta; a candidate that consumed the stored snapshot always does). Call holding the
 * account's token lock and never the registry lock. Throws only when the store cannot be read.
 */
export async function settleLocked(
  app: Deps,
  account: Pick<Account, 'id' | 'secret'>,
  extra: readonly Candidate[] = [],
  opts: { beforeWrite?: (auth: ParsedAuth) => Promise<unknown> } = {},
): Promise<Settled> {
  const entries = readPending(app.paths.home, account.secret.ref).filter((e) => e.accountId === account.id);
  const candidates: Candidate[] = [];
  for (const e of entries) {
    try {
      candidates.push({ auth: parseAuthObject(e.auth), consumed: e.consumed, rotated: e.rotated });
    } catch {
      /* not an auth.json: nothing to save from it */
    }
  }
  candidates.push(...extra);
  const text = await app.secrets.get(account.secret);
  let stored: ParsedAuth | null = null;
  let unreadable: string | undefined;
  if (text !== null) {
    try {
      stored = parseAuthJson(text);
    } catch (e) {
      unreadable = (e as Error).message;
    }
  }
  let best = stored;
  let bestMeta = stored ? snapshotMeta(stored) : null;
  for (const c of candidates) {
    const meta = snapshotMeta(c.auth);
    if (bestMeta === null || c.consumed?.includes(bestMeta.fingerprint) || compareSnapshotMeta(meta, bestMeta) === 'newer') {
      best = c.auth;
      bestMeta = meta;
    }
  }
  const rotated = candidates.map((c) => c.rotated).filter((h): h is string => typeof h === 'string' && h !== '');
  const out: Settled = { accountId: account.id, stored: best, changed: false, rotated, files: entries.map((e) => e.file), ...(unreadable !== undefined ? { unreadable } : {}) };
  if (best !== null && best !== stored) {
    try {
      await opts.beforeWrite?.(best);
      await app.secrets.set(account.secret, serializeAuth(best.raw));
      out.changed = true;
    } catch (e) {
      // The journal keeps what could not be written; the next command tries again.
      out.error = e instanceof Error ? e.message : String(e);
      out.files = [];
    }
  }
  return out;
}

/** Record in `reg` what settleLocked left in the store (pure: call under the registry lock). */
export function applySettled(reg: Registry, s: Settled, now: Date): void {
  const acc = reg.accounts.find((a) => a.id === s.accountId);
  if (!acc) return;
  if (s.stored !== null && s.error === undefined) {
    const meta = snapshotMeta(s.stored);
    if (acc.snapshot.fingerprint !== meta.fingerprint || acc.snapshot.lastRefresh !== meta.lastRefresh) {
      acc.snapshot = meta;
      if (acc.kind === 'chatgpt') acc.accessTokenExpiresAt = jwtExpiry(s.stored.tokens?.access_token);
      acc.updatedAt = now.toISOString();
      // Other credentials of the account than the ones that failed: a new login, or tokens Codex
      // or a refresh rotated. Whether they work the next refresh or usage request tells.
      if (acc.loginRequired) acc.loginRequired = null;
    }
  }
  if (s.rotated.length > 0) {
    const have = (acc.rotatedRefreshTokens as string[] | undefined) ?? [];
    const add = s.rotated.filter((h) => !have.includes(h));
    if (add.length > 0) acc.rotatedRefreshTokens = [...have, ...add].slice(-ROTATED_KEEP);
  }
}

export interface RecordOptions {
  /** More changes to make in the same registry update, before the accounts are recorded (pure, no I/O). */
  patch?: (reg: Registry) => void;
  /** The same, after (pure, no I/O). */
  after?: (reg: Registry) => void;
  /**
   * How long to wait for a busy registry lock (default: 15 s). When it stays busy, nothing is lost:
   * the store holds the credentials and the journal entries stay for the next command to record.
   */
  timeoutMs?: number;
  /** What to say when the registry lock stays busy (default: that the credentials are saved). */
  busy?: string | undefined;
}

/**
 * Record settled accounts in the registry (one short update: no network, no keyring), then delete
 * the journal entries folded. Returns false when the registry lock stayed busy (warned, unless the
 * caller asked not to wait).
 */
export async function recordSettled(app: Deps, settled: readonly Settled[], opts: RecordOptions = {}): Promise<boolean> {
  const now = app.now();
  try {
    await app.registry.update(
      (reg) => {
        opts.patch?.(reg);
        for (const s of settled) applySettled(reg, s, now);
        opts.after?.(reg);
      },
      opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {},
    );
  } catch (e) {
    if (!(e instanceof CliError && e.code === 'locked')) throw e;
    if (opts.timeoutMs === 0) app.report.debug(`the registry is busy; the saved credentials are recorded by a later command`);
    else app.report.warn(`${e.message.replace(/\.$/, '')}. ${opts.busy ?? 'Nothing is lost: the credentials are saved, and the next codex-auth command records them in the registry'}.`);
    return false;
  }
  removePending(settled.flatMap((s) => s.files));
  return true;
}

/**
 * Before newer tokens of an account are written into its store: Codex gets them first when its live
 * copy is an older one of that account (a refresh killed before it updated Codex's copy left Codex
 * the rotated-away token). First, so that a crash in between leaves Codex's copy the newer one —
 * which the next sync saves back — never behind ours. A failure only means Codex keeps its copy.
 */
export async function liveFirst(app: Deps, accountId: string, auth: ParsedAuth): Promise<void> {
  await pushLive(app, accountId, auth).catch((e: unknown) => app.report.debug(`could not update Codex's live credentials: ${(e as Error).message}`));
}

/**
 * Fold every account's pending journal into its stored snapshot: what every command that syncs does
 * first. Never waits for a token lock (its holder folds the journal itself); with `readOnly`, never
 * for the registry lock either. Entries of accounts not in the registry stay.
 */
export async function foldPending(app: Deps, opts: { readOnly?: boolean } = {}): Promise<void> {
  const groups = pendingFiles(app.paths.home);
  if (groups.size === 0) return;
  const reg = await app.registry.load();
  for (const [ref, files] of groups) {
    const ids = new Set(readPending(app.paths.home, ref, files).map((e) => e.accountId));
    for (const id of ids) {
      const acc = reg.accounts.find((a) => a.id === id && a.secret.ref === ref);
      if (!acc) continue;
      try {
        const r = await tryTokenLock(app, ref, describeAccount(acc), async () => {
          const s = await settleLocked(app, acc, [], { beforeWrite: (auth) => liveFirst(app, acc.id, auth) });
          if (s.error !== undefined) app.report.warn(`The pending tokens of ${describeAccount(acc)} could not be saved yet (${s.error}); they stay in ${pendingDir(app.paths.home)} until they can.`);
          await recordSettled(app, [s], opts.readOnly ? { timeoutMs: 0 } : {});
        });
        if (!r.held) app.report.debug(`the pending tokens of ${describeAccount(acc)} are left to the process refreshing it`);
      } catch (e) {
        app.report.warn(`The pending tokens of ${describeAccount(acc)} could not be saved yet (${e instanceof Error ? e.message : String(e)}); they stay in ${pendingDir(app.paths.home)} until they can.`);
      }
    }
  }
}
