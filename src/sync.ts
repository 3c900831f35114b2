/**
 * The sync every command does first: Codex's live credentials are folded into the registry.
 * Rotated tokens are saved back into the matching account (never an older snapshot over a newer
 * one), an unknown live account is added, and an empty registry imports the live login.
 */
import type { App } from './app.js';
import { apiKeyHashOf, apiKeyIdentity, compareSnapshotMeta, describeAccount, type Identity, identityFields, newAccount, snapshotMeta } from './domain/accounts.js';
import { apiKeyAccountId, AuthFileError, chatgptIdentity, type ParsedAuth, parseAuthJson, serializeAuth, sha256Hex } from './domain/authfile.js';
import { CliError } from './errors.js';
import type { Account, Registry } from './store/registry-schema.js';

export type LiveRead = { kind: 'none' } | { kind: 'error'; message: string } | { kind: 'ok'; text: string; auth: ParsedAuth };

const permissionWarned = new WeakSet<App>();

export async function readLive(app: App): Promise<LiveRead> {
  let text: string | null;
  const live = await app.live();
  const perm = 'permissionWarning' in live && typeof live.permissionWarning === 'function' ? (live.permissionWarning as () => string | null)() : null;
  if (perm && !permissionWarned.has(app)) {
    permissionWarned.add(app);
    app.out.warn(perm);
  }
  try {
    text = await live.read();
  } catch (e) {
    return { kind: 'error', message: e instanceof Error ? e.message : String(e) };
  }
  if (text === null) return { kind: 'none' };
  try {
    return { kind: 'ok', text, auth: parseAuthJson(text) };
  } catch (e) {
    const why = e instanceof AuthFileError ? e.message : String(e);
    return { kind: 'error', message: `Codex's live credentials (${live.location}) ${why}; they were left as they are` };
  }
}

/** Identity without the network: ChatGPT from its claims, API keys by a known key hash. */
export function identifyLocally(auth: ParsedAuth, reg: Registry): Identity | null {
  if (auth.mode === 'chatgpt') return chatgptIdentity(auth);
  const hash = sha256Hex(auth.apiKey ?? '');
  const known = reg.accounts.find((a) => apiKeyHashOf(a) === hash);
  if (!known) return null;
  return apiKeyIdentity(known.id, { id: known.meId ?? known.id.split('::')[1] ?? '', email: known.email, name: known.name ?? null, orgTitle: known.workspaceTitle ?? null }, auth.apiKey ?? '');
}

/** Identity of any auth; unknown API keys are resolved with GET /v1/me. */
export async function identify(app: App, auth: ParsedAuth, reg: Registry): Promise<Identity> {
  const local = identifyLocally(auth, reg);
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
  let id: Identity | null;
  try {
    id = identifyLocally(live.auth, reg);
  } catch {
    return false;
  }
  if (!id) return true;
  if (reg.removedLiveIds.includes(id.id)) return reg.activeId !== null;
  const acc = reg.accounts.find((a) => a.id === id.id);
  if (!acc) return true;
  if (reg.activeId !== acc.id) return true;
  return compareSnapshotMeta(snapshotMeta(live.auth), acc.snapshot) === 'newer';
}

export async function saveSnapshot(app: App, account: Account, auth: ParsedAuth, identity: Identity | null, now: Date): Promise<void> {
  await app.secrets.set(account.secret, serializeAuth(auth.raw));
  account.snapshot = snapshotMeta(auth);
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
  let identity: Identity;
  try {
    identity = await identify(app, live.auth, reg);
  } catch (e) {
    const why = e instanceof CliError || e instanceof AuthFileError ? e.message : String(e);
    app.out.warn(`Codex's current login could not be identified (${why}); it was not added to codex-auth.`);
    return;
  }
  const now = app.now();
  if (reg.removedLiveIds.includes(identity.id)) {
    setActive(reg, null, app.now());
    return;
  }
  const existing = reg.accounts.find((a) => a.id === identity.id);
  if (existing) {
    if (compareSnapshotMeta(snapshotMeta(live.auth), existing.snapshot) === 'newer') {
      await saveSnapshot(app, existing, live.auth, identity, now);
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
