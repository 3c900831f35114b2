/** `codex-auth import [PATH...]`: register Codex auth.json files (or Codex's current login). */
import fs from 'node:fs';
import path from 'node:path';
import type { App } from '../cli/app.js';
import { recordSettled, type Settled, settleLocked, withTokenLock } from '../services/credentials.js';
import { compareSnapshotMeta, describeAccount, type Identity, identityFields, newAccount, snapshotMeta, validateAlias } from '../domain/accounts.js';
import { AuthFileError, type ParsedAuth, parseAuthJson } from '../domain/authfile.js';
import { CliError, describeError, errnoCode, usageError } from '../errors.js';
import type { StampedText } from '../store/live.js';
import type { Account, Registry, SecretRef } from '../domain/types.js';
import { applySync, identify, prepareSync, recordWrittenLive, setActive } from '../services/sync.js';
import { pushLive } from '../services/tokens.js';

export interface ImportOptions {
  alias?: string;
  recursive?: boolean;
  json?: boolean;
}

type Status = 'imported' | 'updated' | 'unchanged' | 'skipped';

export interface Result {
  path: string;
  status: Status;
  /** For skips: true when the file was bad (exit 1), false when it simply is not an auth.json. */
  error?: boolean;
  reason?: string;
  account?: Account;
}

export interface Source {
  path: string;
  live: boolean;
  /** Found by scanning a directory (files that are not auth.json at all are skipped quietly). */
  scanned: boolean;
  read: () => Promise<string | null>;
}

function collectJson(dir: string, recursive: boolean, out: string[]): void {
  const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (recursive) collectJson(p, recursive, out);
    } else if (e.isFile() && e.name.endsWith('.json')) out.push(p);
  }
}

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

export async function importCommand(app: App, args: unknown[], opts: ImportOptions): Promise<number> {
  const paths = (args[0] as string[] | undefined) ?? [];
  if (opts.alias !== undefined) {
    const bad = validateAlias(opts.alias);
    if (bad) throw usageError('invalid_alias', `Invalid alias ${JSON.stringify(opts.alias)}: ${bad}.`);
  }
  const results: Result[] = [];
  const sources: Source[] = [];
  if (paths.length === 0) {
    const live = await app.live();
    sources.push({ path: live.location, live: true, scanned: false, read: () => live.read() });
  }
  for (const raw of paths) {
    const p = path.resolve(app.ctx.cwd, raw);
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch (e) {
      results.push({ path: p, status: 'skipped', error: true, reason: errnoCode(e) === 'ENOENT' ? 'no such file or directory' : `cannot read it (${errnoCode(e)})` });
      continue;
    }
    if (st.isDirectory()) {
      const found: string[] = [];
      try {
        collectJson(p, Boolean(opts.recursive), found);
      } catch (e) {
        results.push({ path: p, status: 'skipped', error: true, reason: `cannot read the directory (${errnoCode(e) ?? describeError(e)})` });
        continue;
      }
      if (found.length === 0) {
        results.push({ path: p, status: 'skipped', error: true, reason: `no *.json files in it${opts.recursive ? '' : ' (use -r to search subdirectories)'}` });
      }
      for (const f of found) sources.push({ path: f, live: false, scanned: true, read: async () => fs.readFileSync(f, 'utf8') });
    } else {
      sources.push({ path: p, live: false, scanned: false, read: async () => fs.readFileSync(p, 'utf8') });
    }
  }
  if (opts.alias !== undefined && sources.length + results.length > 1) {
    throw usageError('alias_needs_one_file', '--alias names one account: import one file at a time when you use it.');
  }

  return importSources(app, sources, results, { ...(opts.alias !== undefined ? { alias: opts.alias } : {}), syncFirst: paths.length > 0 });
}

/**
 * Import auth.json sources in three steps, so that no network or keyring I/O happens under the
 * registry lock: read, validate and identify them with no lock (API keys need GET /v1/me); save each
 * into its account's store under that account's token lock (only a newer copy replaces the stored
 * one; fresh credentials of the account Codex is logged in to go live too); then record everything
 * in one short registry update. Then report one line each and a summary.
 */
export async function importSources(app: App, sources: Source[], results: Result[], opts: { alias?: string; syncFirst: boolean }): Promise<number> {
  const synced = opts.syncFirst ? await prepareSync(app, { identify: true }) : null;
  const snapshot = synced?.reg ?? (await app.registry.load());
  const identified: Identified[] = [];
  for (const src of sources) {
    let text: string | null;
    try {
      text = await src.read();
    } catch (e) {
      results.push({ path: src.path, status: 'skipped', error: true, reason: `cannot read it (${errnoCode(e) ?? describeError(e)})` });
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
      const auth = parseAuthJson(text);
      identified.push({ src, auth, identity: await identify(app, auth, snapshot) });
    } catch (e) {
      if (e instanceof AuthFileError) results.push({ path: src.path, status: 'skipped', error: true, reason: `invalid auth.json: ${e.message.startsWith('"') ? '' : 'it '}${e.message}` });
      else if (e instanceof CliError) results.push({ path: src.path, status: 'skipped', error: true, reason: e.message.replace(/\.$/, '') });
      else throw e;
    }
  }
  if (opts.alias !== undefined) {
    const alias = opts.alias;
    for (const item of identified) aliasFree(snapshot, alias, item.identity.id);
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
              app.out.warn(`Codex still uses the older login of ${item.identity.email ?? item.identity.id}: the new one could not be put where Codex reads it (${(e as Error).message.replace(/\.$/, '')}). Run "codex-auth switch" to that account again.`);
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
        },
      },
    );
    results.push(...out);
  }

  return report(app, results);
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

function aliasFree(reg: Registry, alias: string, id: string): void {
  const holder = reg.accounts.find((a) => a.alias?.toLowerCase() === alias.trim().toLowerCase() && a.id !== id);
  if (holder) throw usageError('alias_taken', `The alias "${alias.trim()}" already names ${describeAccount(holder)}; choose another or clear it first.`);
}

/** Record one saved source in `reg` (pure: under the registry lock). The stored snapshot is recorded by recordSettled. */
function apply(app: App, reg: Registry, x: Saved, alias: string | undefined): Result {
  const { item, settled } = x;
  const { src, auth, identity } = item;
  const now = app.now();
  if (alias !== undefined) aliasFree(reg, alias, identity.id);
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
  if (alias !== undefined && account.alias !== alias.trim()) {
    account.alias = alias.trim();
    account.updatedAt = now.toISOString();
    if (status === 'unchanged') {
      status = 'updated';
      reason = undefined;
    }
  }
  return { path: src.path, status, account, ...(reason ? { reason } : {}) };
}

function report(app: App, results: Result[]): number {
  const count = (s: Status) => results.filter((r) => r.status === s).length;
  const summary = { imported: count('imported'), updated: count('updated'), unchanged: count('unchanged'), skipped: count('skipped') };
  const failed = results.some((r) => r.status === 'skipped' && r.error);
  if (app.out.json) {
    app.out.document({
      results: results.map((r) => ({
        path: r.path,
        status: r.status,
        id: r.account?.id ?? null,
        email: r.account?.email ?? null,
        reason: r.reason ?? null,
        error: r.status === 'skipped' ? Boolean(r.error) : false,
      })),
      summary,
    });
  } else {
    const c = app.out.out;
    for (const r of results) {
      const tag = r.status === 'skipped' ? (r.error ? c.red('skipped  ') : c.dim('skipped  ')) : r.status === 'unchanged' ? c.dim('unchanged') : c.green(r.status.padEnd(9));
      const what = r.account ? `  ${describeAccount(r.account)}` : '';
      app.out.data(`${tag} ${r.path}${what}${r.reason ? ` (${r.reason})` : ''}`);
    }
  }
  app.out.info(`${summary.imported} imported, ${summary.updated} updated, ${summary.unchanged} unchanged, ${summary.skipped} skipped.`);
  return failed ? 1 : 0;
}
