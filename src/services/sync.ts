/**
 * The sync every command does first: Codex's live credentials are folded into the registry.
 * Rotated tokens are saved back into the matching account (never an older snapshot over a newer
 * one), an unknown live ChatGPT login is added, and an empty registry imports the live login.
 *
 * In two parts, because no network and no keyring I/O may happen while the registry lock is held
 * (src/store/lock.ts): prepareSync does the I/O with no registry lock — folds the pending-token
 * journal, reads the live credentials (Codex's keyring entry in keyring mode), identifies them (an
 * unknown API key only where the command may use the network: import, switch, --refresh), saves
 * them into their account under its token lock — and applySync applies the outcome to a registry
 * under the lock (or to a copy: read commands write nothing but credentials Codex itself wrote).
 *
 * Whether Codex rotated its tokens is seen from a fingerprint (a hash) of the live credentials. Like
 * git's index, the registry records the stat of the auth.json codex-auth last read or wrote with
 * what it hashed to and whose it is (`liveFile`, file mode only): while auth.json is exactly that
 * version — same device, inode, size, mtime and ctime to the nanosecond — the record stands in for
 * the hash, so a `list` after a `switch` hashes nothing (and never loads node:crypto). Codex's own
 * writes rename a new file into place (another inode); a `cp` over it keeps the inode but not the
 * times; `touch -d` can put mtime back but every change sets ctime. Any difference: hashed as before.
 */
import type { Deps } from './deps.js';
import { apiKeyHashOf, apiKeyIdentity, compareSnapshotMeta, describeAccount, type Identity, identityFields, newAccount, shadowedAliasWarnings, snapshotMeta } from '../domain/accounts.js';
import { apiKeyAccountId, AuthFileError, chatgptIdentity, credentialFingerprint, type ParsedAuth, parseAuthJson, sha256Hex } from '../domain/authfile.js';
import { keyCharacterProblem, maskKey } from '../domain/mask.js';
import { CliError } from '../errors.js';
import { isPlaceholderDoc } from '../gateway/detect.js';
import { type LiveFileStat, sameFileVersion, type StampedText } from '../store/live.js';
import { readStamped } from './live.js';

export { readStamped } from './live.js';
import type { Account, LiveFile, Registry } from '../domain/types.js';

/** `stat`: the auth.json version read (file mode), null when there is none to record (keyring, auto). */
export type LiveRead = { kind: 'none' } | { kind: 'error'; message: string; text?: string } | { kind: 'ok'; text: string; auth: ParsedAuth; stat: LiveFileStat | null };

const permissionWarned = new WeakSet<Deps>();

export async function readLive(app: Deps): Promise<LiveRead> {
  let text: string | null;
  const live = await app.live();
  const perm = 'permissionWarning' in live && typeof live.permissionWarning === 'function' ? (live.permissionWarning as () => string | null)() : null;
  if (perm && !permissionWarned.has(app)) {
    permissionWarned.add(app);
    app.report.warn(perm);
  }
  let stat: LiveFileStat | null = null;
  try {
    const read = await readStamped(live);
    text = read?.text ?? null;
    stat = read?.stat ?? null;
  } catch (e) {
    return { kind: 'error', message: e instanceof Error ? e.message : String(e) };
  }
  if (text === null) return { kind: 'none' };
  try {
    return { kind: 'ok', text, auth: parseAuthJson(text), stat };
  } catch (e) {
    const why = e instanceof AuthFileError ? e.message : String(e);
    return { kind: 'error', message: `Codex's live credentials (${live.location}) ${why}; they were left as they are`, text };
  }
}

/**
 * The registry's record of the live file when `live` was read from exactly that version of it
 * (module comment), else null. Never on a file system that keeps whole seconds only (HFS+, ext3):
 * there a same-size rewrite within the second would look unchanged. A ChatGPT login names its
 * account in its own token: a record that disagrees with it is not used either.
 */
export function trustedRecord(reg: Registry, live: LiveRead): LiveFile | null {
  const rec = reg.liveFile;
  if (live.kind !== 'ok' || !live.stat || !rec || !sameFileVersion(rec, live.stat)) return null;
  if (wholeSeconds(rec.mtimeNs) || wholeSeconds(rec.ctimeNs)) return null;
  if (live.auth.mode === 'chatgpt') {
    try {
      if (chatgptIdentity(live.auth).id !== rec.accountId) return null;
    } catch {
      return null;
    }
  }
  return rec;
}

function wholeSeconds(ns: string): boolean {
  return BigInt(ns) % 1_000_000_000n === 0n;
}

/** last_refresh and fingerprint of the live credentials: the fingerprint from a trusted record, else hashed. */
export function liveSnapshotMeta(auth: ParsedAuth, rec: LiveFile | null): Account['snapshot'] {
  return rec ? { lastRefresh: auth.lastRefresh, fingerprint: rec.fingerprint } : snapshotMeta(auth);
}

/**
 * Record in `reg` that the auth.json version `stat` holds credentials with this fingerprint, of this
 * account. RegistryStore.update saves it only along with another change.
 */
export function recordLiveFile(reg: Registry, stat: LiveFileStat | null, fingerprint: string, accountId: string): void {
  if (stat) reg.liveFile = { ...stat, fingerprint, accountId };
}

/** After codex-auth wrote the live file: record the version it read back (`read`), when it knows whose it is. */
export function recordWrittenLive(reg: Registry, read: StampedText | null): void {
  if (!read?.stat) return;
  let auth: ParsedAuth;
  let id: Identity | null;
  try {
    auth = parseAuthJson(read.text);
    id = isPlaceholderDoc(auth.raw) ? null : identifyLocally(auth, reg);
  } catch {
    return;
  }
  if (id) recordLiveFile(reg, read.stat, credentialFingerprint(auth), id.id);
}

/**
 * Identity without the network: ChatGPT from its claims, API keys by a known key hash — or, given
 * the trusted record of the live file they were read from, by the account it names.
 */
export function identifyLocally(auth: ParsedAuth, reg: Registry, rec: LiveFile | null = null): Identity | null {
  if (auth.mode === 'chatgpt') return chatgptIdentity(auth);
  let known = rec ? reg.accounts.find((a) => a.kind === 'apikey' && a.id === rec.accountId) : undefined;
  if (!known) {
    const hash = sha256Hex(auth.apiKey ?? '');
    known = reg.accounts.find((a) => apiKeyHashOf(a) === hash);
  }
  if (!known) return null;
  return apiKeyIdentity(known.id, { id: known.meId ?? known.id.split('::')[1] ?? '', email: known.email, name: known.name ?? null, orgTitle: known.workspaceTitle ?? null }, auth.apiKey ?? '');
}

/** Identity of any auth; unknown API keys are resolved with GET /v1/me. */
export async function identify(app: Deps, auth: ParsedAuth, reg: Registry, rec: LiveFile | null = null): Promise<Identity> {
  const local = identifyLocally(auth, reg, rec);
  if (local) return local;
  const key = auth.apiKey ?? '';
  // Before any request: undici refuses such a header with what reads like a network error.
  const chars = keyCharacterProblem(key);
  if (chars) throw new CliError('invalid_key', `The API key contains ${chars}.`);
  const { fetchMe } = await import('../openai/me.js');
  const me = await fetchMe(await app.http(), app.env, key);
  return apiKeyIdentity(apiKeyAccountId(me.id, key), me, key);
}

/** Make `id` the active account, remembering the previous one and since when. */
export function setActive(reg: Registry, id: string | null, now: Date): void {
  if (reg.activeId === id) return;
  if (reg.activeId !== null) reg.previousId = reg.activeId;
  reg.activeId = id;
  reg.activeSince = id === null ? null : now.toISOString();
}

/**
 * What the live credentials are, as far as the registry is concerned — the outcome of the part of a
 * sync that does I/O (prepareSync), applied to a registry by applySync (no I/O).
 * - error: they could not be read or identified (warned): the registry is left as it is;
 * - none: Codex has no login;
 * - unknown: an API key codex-auth does not know and did not identify (read commands never ask the
 *   network): no account is active, and commands say how to identify it;
 * - removed: the login of an account the user removed: no account is active;
 * - known: the login of account `id` (saved into it first when newer than its stored copy);
 * - gateway: the gateway's placeholder login: nothing to import, the chosen account stays.
 */
export type SyncPlan =
  | { kind: 'error'; message: string }
  | { kind: 'none' }
  | { kind: 'unknown'; keyMask: string; keyHash: string; why: string | null }
  | { kind: 'removed'; id: string }
  | { kind: 'known'; id: string; stat: LiveFileStat | null; fingerprint: string }
  /** The gateway's placeholder login (gateway enable): no account; the chosen account stays as it is. */
  | { kind: 'gateway' };

export interface SyncOptions {
  /** Identify an unknown live API key with GET /v1/me (import, switch, --refresh); otherwise it stays unknown. */
  identify?: boolean;
  /**
   * A read command (list, status, fallback status): writes nothing but credentials Codex itself
   * wrote into its live store (rotated tokens, a new ChatGPT login) and the pending journal, and
   * never waits for the registry lock; the active account it shows is not written down.
   */
  readOnly?: boolean;
}

/** The message for a live API key codex-auth does not know. */
export function unknownKeyMessage(plan: { keyMask: string }): string {
  return `Codex uses an API key codex-auth does not know (${plan.keyMask}); run "codex-auth import" to identify it.`;
}

/**
 * The part of a sync that does I/O, with no registry lock held: fold the pending-token journal,
 * read Codex's live credentials (keyring I/O in keyring mode), identify them (GET /v1/me for an
 * unknown API key, only with `identify`), and save them into their account when they are newer
 * than its stored copy, or add the account when it is new (under its token lock; the registry
 * update that records it is short and does no I/O). `reg`: the registry as loaded here, or null
 * when this wrote it (load it again).
 */
export async function prepareSync(app: Deps, opts: SyncOptions = {}): Promise<PreparedSync> {
  const { foldPending } = await import('./credentials.js');
  await foldPending(app, { readOnly: Boolean(opts.readOnly) });
  const read = await readLive(app);
  const { plan, reg } = await prepareLive(app, read, opts);
  return { plan, reg, liveText: read.kind === 'none' ? null : read.text };
}

/** What prepareSync found: the plan, the registry as loaded (null when it wrote it), the live text it read (null: none; undefined: unreadable). */
export interface PreparedSync {
  plan: SyncPlan;
  reg: Registry | null;
  liveText: string | null | undefined;
}

async function prepareLive(app: Deps, live: LiveRead, opts: SyncOptions): Promise<{ plan: SyncPlan; reg: Registry | null }> {
  if (live.kind === 'error') {
    app.report.warn(live.message);
    return { plan: { kind: 'error', message: live.message }, reg: null };
  }
  if (live.kind === 'none') return { plan: { kind: 'none' }, reg: null };
  if (isPlaceholderDoc(live.auth.raw)) return { plan: { kind: 'gateway' }, reg: null };
  const reg = await app.registry.load();
  const rec = trustedRecord(reg, live);
  let identity: Identity | null;
  try {
    identity = identifyLocally(live.auth, reg, rec);
  } catch (e) {
    const why = e instanceof AuthFileError ? e.message : String(e);
    const message = `Codex's current login could not be identified (${why}); it was not added to codex-auth.`;
    app.report.warn(message);
    return { plan: { kind: 'error', message }, reg };
  }
  if (identity === null) {
    const key = live.auth.apiKey ?? '';
    const unknown = { kind: 'unknown' as const, keyMask: maskKey(key), keyHash: sha256Hex(key), why: null };
    if (!opts.identify) return { plan: unknown, reg };
    try {
      identity = await identify(app, live.auth, reg, rec);
    } catch (e) {
      const why = e instanceof CliError || e instanceof AuthFileError ? e.message.replace(/\.$/, '') : String(e);
      app.report.warn(`Codex's current login (API key ${unknown.keyMask}) could not be identified (${why}); it was not added to codex-auth.`);
      return { plan: { ...unknown, why }, reg };
    }
  }
  if (reg.removedLiveIds.includes(identity.id)) return { plan: { kind: 'removed', id: identity.id }, reg };
  const meta = liveSnapshotMeta(live.auth, rec);
  const plan: SyncPlan = { kind: 'known', id: identity.id, stat: live.stat, fingerprint: meta.fingerprint };
  const existing = reg.accounts.find((a) => a.id === identity.id);
  if (existing && compareSnapshotMeta(meta, existing.snapshot) !== 'newer') return { plan, reg };
  await saveLive(app, identity, live.auth, plan, existing ?? null, opts);
  return { plan, reg: null };
}

/**
 * Save the live credentials into their account (adding it when new), under its token lock and not
 * the registry lock. An account whose token lock is busy (a refresh of it is running) gets them as
 * a pending-journal entry instead: its holder, or the next command, folds them in.
 */
async function saveLive(app: Deps, identity: Identity, auth: ParsedAuth, plan: SyncPlan, existing: Account | null, opts: SyncOptions): Promise<void> {
  const { recordSettled, settleLocked, tryTokenLock, withTokenLock } = await import('./credentials.js');
  const secret = existing?.secret ?? app.secretRefFor(identity.kind, identity.id);
  const save = async () => {
    const s = await settleLocked(app, { id: identity.id, secret }, [{ auth }]);
    if (s.error !== undefined) {
      app.report.warn(`Codex's current login could not be saved into codex-auth (${s.error}); Codex still has it, and the next codex-auth command tries again.`);
      return;
    }
    let message: string | null = null;
    let shadowed: string[] = [];
    const now = app.now();
    await recordSettled(app, [s], {
      patch: (r) => {
        message = null;
        shadowed = [];
        if (r.removedLiveIds.includes(identity.id)) return;
        const acc = r.accounts.find((a) => a.id === identity.id);
        if (!acc) {
          const added = newAccount(identity, s.stored ?? auth, secret, now);
          message = r.accounts.length === 0 ? `Imported Codex's current login into codex-auth: ${describeAccount(added)}.` : `Added Codex's current login to codex-auth: ${describeAccount(added)}.`;
          shadowed = shadowedAliasWarnings(r.accounts, added);
          r.accounts.push(added);
        } else if (s.changed) {
          Object.assign(acc, identityFields(identity));
          acc.updatedAt = now.toISOString();
        }
      },
      after: (r) => applySync(r, plan, now),
      ...(opts.readOnly ? { timeoutMs: 0 } : {}),
    });
    if (message !== null) app.report.info(message);
    for (const w of shadowed) app.report.warn(w);
    if (message === null && s.changed) app.report.debug(`saved the live credentials of ${identity.email ?? identity.id} (newer than the stored copy)`);
  };
  const what = existing ? describeAccount(existing) : (identity.email ?? identity.id);
  if (!existing) {
    await withTokenLock(app, secret.ref, what, save);
    return;
  }
  const r = await tryTokenLock(app, secret.ref, what, save);
  if (!r.held) {
    const { writePending } = await import('../store/pending.js');
    writePending(app.paths.home, secret.ref, { accountId: identity.id, at: app.now().toISOString(), source: 'live', auth: auth.raw, consumed: [], rotated: null });
    app.report.debug(`${what} is busy (its token lock is held): its live credentials wait in the pending-token journal`);
  }
}

/** Apply a prepared sync to `reg` (pure: call under the registry lock, or on a copy for a view). */
export function applySync(reg: Registry, plan: SyncPlan, now: Date): void {
  switch (plan.kind) {
    case 'error':
    case 'gateway':
      return;
    case 'none':
    case 'removed':
      setActive(reg, null, now);
      return;
    case 'unknown': {
      // Never another account meanwhile; the key itself once an account holds it (add-api-key).
      const acc = reg.accounts.find((a) => apiKeyHashOf(a) === plan.keyHash);
      setActive(reg, acc?.id ?? null, now);
      return;
    }
    case 'known':
      if (!reg.accounts.some((a) => a.id === plan.id)) {
        setActive(reg, null, now);
        return;
      }
      recordLiveFile(reg, plan.stat, plan.fingerprint, plan.id);
      setActive(reg, plan.id, now);
  }
}

/**
 * The plan for live credentials `text` (null: none) when applying it needs no I/O: no login, or a
 * login already saved in its account (another codex-auth switch wrote it). Null when they would
 * have to be identified or saved first (prepareSync).
 */
export function localPlan(reg: Registry, text: string | null): SyncPlan | null {
  if (text === null) return { kind: 'none' };
  let auth: ParsedAuth;
  let id: Identity | null;
  try {
    auth = parseAuthJson(text);
    if (isPlaceholderDoc(auth.raw)) return { kind: 'gateway' };
    id = identifyLocally(auth, reg);
  } catch {
    return null;
  }
  if (!id) return null;
  if (reg.removedLiveIds.includes(id.id)) return { kind: 'removed', id: id.id };
  const acc = reg.accounts.find((a) => a.id === id.id);
  const meta = snapshotMeta(auth);
  if (!acc || compareSnapshotMeta(meta, acc.snapshot) === 'newer') return null;
  return { kind: 'known', id: id.id, stat: null, fingerprint: meta.fingerprint };
}

/** The registry after a sync, and what the live credentials are. */
export interface SyncedView {
  reg: Registry;
  live: SyncPlan;
}

/**
 * Sync and load: the registry as every command sees it first. The registry lock is taken only when
 * the active account changes (never by read commands: `readOnly` applies that to the copy returned).
 */
export async function syncedView(app: Deps, opts: SyncOptions = {}): Promise<SyncedView> {
  const { plan, reg: loaded } = await prepareSync(app, opts);
  const reg = loaded ?? (await app.registry.load());
  const now = app.now();
  if (!opts.readOnly) {
    const copy = structuredClone(reg);
    applySync(copy, plan, now);
    if (copy.activeId !== reg.activeId) {
      return {
        reg: await app.registry.update((r) => {
          applySync(r, plan, now);
          return r;
        }),
        live: plan,
      };
    }
  }
  applySync(reg, plan, now);
  return { reg, live: plan };
}

/** The registry after a sync (see syncedView). */
export async function loadSynced(app: Deps, opts: SyncOptions = {}): Promise<Registry> {
  return (await syncedView(app, opts)).reg;
}
