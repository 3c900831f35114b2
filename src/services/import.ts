/**
 * Importing Codex auth.json credentials into codex-auth's accounts: for `import` (files, or Codex's
 * current login) and `login` (what "codex login" wrote in its scratch home).
 */
import { aliasClash, compareSnapshotMeta, describeAccount, type Identity, identityFields, newAccount, normalizeAlias, shadowedAliasWarnings, snapshotMeta } from '../domain/accounts.js';
import { AuthFileError, type ParsedAuth, parseAuthJson } from '../domain/authfile.js';
import { apiKeyProblem } from '../domain/mask.js';
import type { Account, Registry, SecretRef } from '../domain/types.js';
import { CliError, describeError, errnoCode, usageError } from '../errors.js';
import type { StampedText } from '../store/live.js';
import { recordSettled, type Settled, settleLocked, withTokenLock } from './credentials.js';
import type { Deps } from './deps.js';
import { applySync, identify, prepareSync, recordWrittenLive, setActive } from './sync.js';
import { pushLive } from './tokens.js';

export type Status = 'imported' | 'updated' | 'unchanged' | 'skipped';

export interface Result {
  path: string;
  status: Status;
  /** For skips: true when the file was bad (exit 1), false when it simply is not an auth.json. */
  error?: boolean;
  reason?: string;
  /** Said after the result, whatever it is: "a link to /real/path". */
  note?: string;
  account?: Account;
}

export interface Source {
  path: string;
  live: boolean;
  /** Found by scanning a directory (files that are not auth.json at all are skipped quietly). */
  scanned: boolean;
  read: () => Promise<string | null>;
  /** Said after its result: "a link to /real/path". */
  note?: string;
}

/** Thrown by a Source's read when the path is not a regular file (its message: "a FIFO"). */
export class NotRegular extends Error {}

/** Valid JSON that has none of auth.json's fields (a config file, a registry): not ours to import. */
function isOtherJson(text: string): boolean {
  try {
    const doc = JSON.parse(text) as unknown;
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return true;
    return !('tokens' in doc || 'OPENAI_API_KEY' in doc || 'auth_mode' in doc);
  } catch {
    return false; // broken JSON is a broken file: reported as an error below
  }
}

/**
 * Import auth.json sources in three steps, so that no network or keyring I/O happens under the
 * registry lock: read, validate and identify them with no lock (API keys need GET /v1/me); save each
 * into its account's store under that account's token lock (only a newer copy replaces the stored
 * one; fresh credentials of the account Codex is logged in to go live too); then record everything
 * in one short registry update. Returns `results` with a line for each source added; the caller
 * reports them (src/ui/import-report.ts).
 */
export async function importSources(app: Deps, sources: Source[], results: Result[], opts: { alias?: string; syncFirst: boolean }): Promise<Result[]> {
  const synced = opts.syncFirst ? await prepareSync(app, { identify: true }) : null;
  const snapshot = synced?.reg ?? (await app.registry.load());
  const identified: Identified[] = [];
  for (const src of sources) {
    let text: string | null;
    try {
      text = await src.read();
    } catch (e) {
      const reason = e instanceof NotRegular ? `not a regular file: ${e.message}` : `cannot read it (${errnoCode(e) ?? describeError(e)})`;
      results.push({ path: src.path, status: 'skipped', error: true, reason });
      continue;
    }
    if (text === null) {
      if (src.live) throw new CliError('no_live_login', `Codex has no current login (${src.path} does not exist). Log in with "codex-auth login", or pass the PATH of an auth.json.`);
      continue;
    }
    if (src.scanned && isOtherJson(text)) {
      results.push({ path: src.path, status: 'skipped', error: false, reason: 'not a Codex auth.json' });
      continue;
    }
    try {
      const auth = apiKeyChecked(parseAuthJson(text));
      identified.push({ src, auth, identity: await identify(app, auth, snapshot) });
    } catch (e) {
      if (e instanceof AuthFileError) results.push({ path: src.path, status: 'skipped', error: true, reason: `invalid auth.json: ${e.message.startsWith('"') ? '' : 'it '}${e.message}` });
      else if (e instanceof CliError) results.push({ path: src.path, status: 'skipped', error: true, reason: e.message.replace(/\.$/, '') });
      else throw e;
    }
  }
  if (opts.alias !== undefined) {
    const alias = opts.alias;
    for (const item of identified) aliasFree(snapshot, alias, item.identity);
  }

  // Step 2, under each account's token lock (never the registry lock): save the credentials.
  const saved: Saved[] = [];
  for (const item of identified) {
    const existing = snapshot.accounts.find((a) => a.id === item.identity.id);
    const secret = existing?.secret ?? app.secretRefFor(item.identity.kind, item.identity.id);
    try {
      saved.push(
        await withTokenLock(app, secret.ref, existing ? describeAccount(existing) : (item.identity.email ?? item.identity.id), async () => {
          let written: StampedText | null = null;
          // When Codex still holds older (perhaps dead) tokens of this account, the fresh ones go
          // live — before our store, so that Codex's copy is never the older one.
          const beforeWrite = async (auth: ParsedAuth) => {
            if (item.src.live) return;
            written = await pushLive(app, item.identity.id, auth).catch((e: unknown) => {
              app.report.warn(`Codex still uses the older login of ${item.identity.email ?? item.identity.id}: the new one could not be put where Codex reads it (${(e as Error).message.replace(/\.$/, '')}). Run "codex-auth switch" to that account again.`);
              return null;
            });
          };
          const s = await settleLocked(app, { id: item.identity.id, secret }, [{ auth: item.auth }], { beforeWrite });
          if (s.error !== undefined) throw new CliError('secret_store', s.error);
          return { item, secret, settled: s, written };
        }),
      );
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      results.push({ path: item.src.path, status: 'skipped', error: true, reason: `could not store it (${e.message.replace(/\.$/, '')})` });
    }
  }

  // Step 3, under the registry lock: record (no I/O).
  if (saved.length > 0 || synced) {
    const now = app.now();
    const out: Result[] = [];
    const warnings: string[] = [];
    await recordSettled(
      app,
      saved.map((x) => x.settled),
      {
        patch: (reg) => {
          if (synced) applySync(reg, synced.plan, now);
          out.length = 0;
          for (const x of saved) out.push(apply(app, reg, x, opts.alias));
        },
        after: (reg) => {
          for (const x of saved) {
            recordWrittenLive(reg, x.written);
            if (x.item.src.live) setActive(reg, x.item.identity.id, now);
          }
          warnings.length = 0;
          for (const r of out) if (r.status === 'imported' && r.account) warnings.push(...shadowedAliasWarnings(reg.accounts, r.account));
        },
      },
    );
    results.push(...out);
    for (const w of warnings) app.report.warn(w);
  }

  return results;
}

/**
 * An API-key auth.json whose key add-api-key would refuse is skipped the same way, before any
 * request: surrounding whitespace (a trailing newline) is trimmed; a newline, control or non-ASCII
 * character inside it, or a key that is not key-shaped, is an error naming what and where — never
 * the key.
 */
function apiKeyChecked(auth: ParsedAuth): ParsedAuth {
  if (auth.mode !== 'apikey' || auth.apiKey === null) return auth;
  const key = auth.apiKey.trim();
  const problem = apiKeyProblem(key);
  if (problem) throw new CliError('invalid_key', `its OPENAI_API_KEY ${problem}`);
  if (key === auth.apiKey) return auth;
  return { ...auth, apiKey: key, raw: { ...auth.raw, OPENAI_API_KEY: key } };
}

interface Identified {
  src: Source;
  auth: ParsedAuth;
  identity: Identity;
}

interface Saved {
  item: Identified;
  secret: SecretRef;
  settled: Settled;
  written: StampedText | null;
}

function aliasFree(reg: Registry, alias: string, identity: Identity): void {
  const clash = aliasClash(reg.accounts, alias, identity);
  if (clash) throw usageError('alias_taken', `The alias ${JSON.stringify(normalizeAlias(alias))} cannot be used: ${clash}. Nothing was imported.`);
}

/** Record one saved source in `reg` (pure: under the registry lock). The stored snapshot is recorded by recordSettled. */
function apply(app: Deps, reg: Registry, x: Saved, alias: string | undefined): Result {
  const { item, settled } = x;
  const { src, auth, identity } = item;
  const now = app.now();
  if (alias !== undefined) aliasFree(reg, alias, identity);
  reg.removedLiveIds = reg.removedLiveIds.filter((id) => id !== identity.id);
  let account = reg.accounts.find((a) => a.id === identity.id);
  let status: Status;
  let reason: string | undefined;
  if (!account) {
    account = newAccount(identity, settled.stored ?? auth, x.secret, now);
    reg.accounts.push(account);
    status = 'imported';
  } else if (settled.changed) {
    Object.assign(account, identityFields(identity));
    account.updatedAt = now.toISOString();
    status = 'updated';
  } else {
    status = 'unchanged';
    if (settled.stored && compareSnapshotMeta(snapshotMeta(auth), snapshotMeta(settled.stored)) === 'older') reason = 'the stored copy is newer';
  }
  if (alias !== undefined && account.alias !== normalizeAlias(alias)) {
    account.alias = normalizeAlias(alias);
    account.updatedAt = now.toISOString();
    if (status === 'unchanged') {
      status = 'updated';
      reason = undefined;
    }
  }
  return { path: src.path, status, account, ...(reason ? { reason } : {}), ...(src.note ? { note: src.note } : {}) };
}
