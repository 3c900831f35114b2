/**
 * The sync every command does first: Codex's live credentials are folded into the registry.
 * Rotated tokens are saved back into the matching account (never an older snapshot over a newer
 * one), an unknown live account is added, and an empty registry imports the live login.
 *
 * Whether Codex rotated its tokens is seen from a fingerprint (a hash) of the live credentials. Like
 * git's index, the registry records the stat of the auth.json codex-auth last read or wrote with
 * what it hashed to and whose it is (`liveFile`, file mode only): while auth.json is exactly that
 * version — same device, inode, size, mtime and ctime to the nanosecond — the record stands in for
 * the hash, so a `list` after a `switch` hashes nothing (and never loads node:crypto). Codex's own
 * writes rename a new file into place (another inode); a `cp` over it keeps the inode but not the
 * times; `touch -d` can put mtime back but every change sets ctime. Any difference: hashed as before.
 */
import type { App } from './app.js';
import { apiKeyHashOf, apiKeyIdentity, compareSnapshotMeta, describeAccount, type Identity, identityFields, newAccount, snapshotMeta } from './domain/accounts.js';
import { apiKeyAccountId, AuthFileError, chatgptIdentity, credentialFingerprint, type ParsedAuth, parseAuthJson, serializeAuth, sha256Hex } from './domain/authfile.js';
import { CliError } from './errors.js';
import { type LiveCredentials, type LiveFileStat, sameFileVersion, type StampedText } from './store/live.js';
import type { Account, LiveFile, Registry } from './store/registry-schema.js';

/** `stat`: the auth.json version read (file mode), null when there is none to record (keyring, auto). */
export type LiveRead = { kind: 'none' } | { kind: 'error'; message: string } | { kind: 'ok'; text: string; auth: ParsedAuth; stat: LiveFileStat | null };

const permissionWarned = new WeakSet<App>();

export async function readLive(app: App): Promise<LiveRead> {
  let text: string | null;
  const live = await app.live();
  const perm = 'permissionWarning' in live && typeof live.permissionWarning === 'function' ? (live.permissionWarning as () => string | null)() : null;
  if (perm && !permissionWarned.has(app)) {
    permissionWarned.add(app);
    app.out.warn(perm);
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
    return { kind: 'error', message: `Codex's live credentials (${live.location}) ${why}; they were left as they are` };
  }
}

/** The live credentials with the stat of the auth.json they were read from, where there is one. */
export async function readStamped(live: LiveCredentials): Promise<StampedText | null> {
  if (live.readStamped) return live.readStamped();
  const text = await live.read();
  return text === null ? null : { text, stat: null };
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
    id = identifyLocally(auth, reg);
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
export async function identify(app: App, auth: ParsedAuth, reg: Registry, rec: LiveFile | null = null): Promise<Identity> {
  const local = identifyLocally(auth, reg, rec);
  if (local) return local;
  const key = auth.apiKey ?? '';
  const { fetchMe } = await import('./openai/me.js');
  const me = await fetchMe(await app.ctx.http(), app.env, key);
  return apiKeyIdentity(apiKeyAccountId(me.id, key), me, key);
}

/** Cheap check whether syncing would change anything, so read-only commands need no lock. */
export function needsSync(reg: Registry, live: LiveRead): boolean {
  if (live.kind === 'error') return false;
  if (live.kind === 'none') return reg.activeId !== null;
  const rec = trustedRecord(reg, live);
  let id: Identity | null;
  try {
    id = identifyLocally(live.auth, reg, rec);
  } catch {
    return false;
  }
  if (!id) return true;
  if (reg.removedLiveIds.includes(id.id)) return reg.activeId !== null;
  const acc = reg.accounts.find((a) => a.id === id.id);
  if (!acc) return true;
  if (reg.activeId !== acc.id) return true;
  return compareSnapshotMeta(liveSnapshotMeta(live.auth, rec), acc.snapshot) === 'newer';
}

export async function saveSnapshot(app: App, account: Account, auth: ParsedAuth, identity: Identity | null, now: Date, meta = snapshotMeta(auth)): Promise<void> {
  await app.secrets.set(account.secret, serializeAuth(auth.raw));
  account.snapshot = meta;
  if (identity) Object.assign(account, identityFields(identity));
  account.updatedAt = now.toISOString();
}

/** Make `id` the active account, remembering the previous one and since when. */
export function setActive(reg: Registry, id: string | null, now: Date): void {
  if (reg.activeId === id) return;
  if (reg.activeId !== null) reg.previousId = reg.activeId;
  reg.activeId = id;
  reg.activeSince = id === null ? null : now.toISOString();
}

/** Fold the live credentials into `reg` (call under the registry lock). Prints what it did. */
export async function syncInto(app: App, reg: Registry): Promise<void> {
  const live = await readLive(app);
  if (live.kind === 'error') {
    app.out.warn(live.message);
    return;
  }
  if (live.kind === 'none') {
    setActive(reg, null, app.now());
    return;
  }
  const rec = trustedRecord(reg, live);
  let identity: Identity;
  try {
    identity = await identify(app, live.auth, reg, rec);
  } catch (e) {
    const why = e instanceof CliError || e instanceof AuthFileError ? e.message : String(e);
    app.out.warn(`Codex's current login could not be identified (${why}); it was not added to codex-auth.`);
    return;
  }
  const meta = liveSnapshotMeta(live.auth, rec);
  recordLiveFile(reg, live.stat, meta.fingerprint, identity.id);
  const now = app.now();
  if (reg.removedLiveIds.includes(identity.id)) {
    setActive(reg, null, app.now());
    return;
  }
  const existing = reg.accounts.find((a) => a.id === identity.id);
  if (existing) {
    if (compareSnapshotMeta(meta, existing.snapshot) === 'newer') {
      await saveSnapshot(app, existing, live.auth, identity, now, meta);
      app.out.debug(`saved the live credentials of ${describeAccount(existing)} (newer than the stored copy)`);
    }
    setActive(reg, existing.id, now);
    return;
  }
  const account = newAccount(identity, live.auth, app.secretRefFor(identity.kind, identity.id), now);
  await app.secrets.set(account.secret, serializeAuth(live.auth.raw));
  const first = reg.accounts.length === 0;
  reg.accounts.push(account);
  setActive(reg, account.id, now);
  app.out.info(
    first
      ? `Imported Codex's current login into codex-auth: ${describeAccount(account)}.`
      : `Added Codex's current login to codex-auth: ${describeAccount(account)}.`,
  );
}

/** For read-only commands: the registry after a sync, taking the lock only when something changes. */
export async function loadSynced(app: App): Promise<Registry> {
  const reg = (await app.registry.load());
  const live = await readLive(app);
  if (live.kind === 'error') {
    app.out.warn(live.message);
    return reg;
  }
  if (!needsSync(reg, live)) return reg;
  return app.registry.update(async (r) => {
    await syncInto(app, r);
    return r;
  });
}
