/**
 * `codex-auth add-api-key [KEY|-]`: store an OpenAI API key (in the OS keyring by default), verified
 * with GET /v1/me, and register it as an account; the first one becomes the fallback key.
 */
import type { Services, Uses } from '../cli/app.js';
import { aliasClash, apiKeyIdentity, describeAccount, identityFields, newAccount, normalizeAlias, shadowedAliasWarnings, validateAlias } from '../domain/accounts.js';
import { apiKeyAccountId, apiKeyAuth, parseAuthObject, serializeAuth, sha256Hex } from '../domain/authfile.js';
import { keyCharacterProblem, looksLikeApiKey, maskKey } from '../domain/mask.js';
import { CliError, usageError } from '../errors.js';
import type { MeIdentity } from '../openai/me.js';
import { apiKeyHashOf } from '../domain/accounts.js';
import { withTokenLock } from '../services/credentials.js';
import type { Registry } from '../domain/types.js';
import { applySync, syncedView } from '../services/sync.js';

/** What this command gets of the factory: its `needs` in src/cli/commands.ts. */
type Needs = Uses<Services | 'ctx' | 'out'>;

export interface AddApiKeyOptions {
  alias?: string;
  /** commander's --no-fallback sets fallback: false */
  fallback?: boolean;
  insecureStorage?: boolean;
  skipVerify?: boolean;
  json?: boolean;
}

async function readKey(app: Needs, arg: string | undefined): Promise<string> {
  if (arg !== undefined && arg !== '-') {
    app.out.warn('A key given on the command line stays in your shell history; next time use "codex-auth add-api-key" (prompt) or pipe it with "-".');
    return arg.trim();
  }
  if (arg === undefined && app.ctx.stdin.isTTY) {
    const { canPrompt, password } = await import('../ui/prompts.js');
    if (!canPrompt(app.ctx)) throw usageError('usage', 'Give the key as an argument or on standard input ("-").');
    return (await password(app.ctx, 'OpenAI API key (input hidden):')).trim();
  }
  const { readAllStdin } = await import('../ui/stdin.js');
  return (await readAllStdin(app.ctx.stdin, { maxBytes: 64 * 1024 })).trim();
}

export async function addApiKeyCommand(app: Needs, args: { key?: string }, opts: AddApiKeyOptions): Promise<number> {
  if (opts.alias !== undefined) {
    const bad = validateAlias(opts.alias);
    if (bad) throw usageError('invalid_alias', `Invalid alias ${JSON.stringify(opts.alias)}: ${bad}.`);
  }
  const key = await readKey(app, args.key);
  if (key === '') throw new CliError('empty_key', 'No API key was given; nothing was stored.');
  // Checked before any request: a newline or a non-ASCII character would otherwise fail as a
  // "network" error (undici refuses the header). The message names the position, never the key.
  const chars = keyCharacterProblem(key);
  if (chars) throw new CliError('invalid_key', `The API key contains ${chars}; nothing was stored.`);
  if (!looksLikeApiKey(key)) {
    throw new CliError('invalid_key', 'That does not look like an OpenAI API key (expected "sk-" followed by letters, digits, "-" or "_"); nothing was stored.');
  }
  const hash = sha256Hex(key);
  const { fetchMe } = await import('../openai/me.js');
  let me: MeIdentity | null = null;
  try {
    me = await fetchMe(await app.ctx.http(), app.env, key);
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    if (e.code === 'api_key_rejected' || !opts.skipVerify) {
      throw new CliError(e.code, `${e.message.replace(/\.$/, '')}; nothing was stored.${e.code === 'network' ? ' Use --skip-verify to store it without checking.' : ''}`);
    }
    app.out.warn(`${e.message} Storing the key unverified (--skip-verify); its identity is filled in when it is added again.`);
  }
  const identity = apiKeyIdentity(apiKeyAccountId(me?.id ?? 'unverified', key), me ?? { id: 'unverified', email: null, name: null, orgTitle: null }, key);
  const auth = parseAuthObject(apiKeyAuth(key));
  const secretText = serializeAuth(auth.raw);

  const aliasFree = (reg: Registry) => {
    if (opts.alias === undefined) return;
    const known = reg.accounts.find((a) => apiKeyHashOf(a) === hash);
    const clash = aliasClash(reg.accounts, opts.alias, known ?? identity);
    if (clash) throw usageError('alias_taken', `The alias ${JSON.stringify(normalizeAlias(opts.alias))} cannot be used: ${clash}. Nothing was stored.`);
  };
  // The sync, and the key stored (the OS keyring, by default), before the registry lock is taken:
  // no network and no keyring I/O happens while it is held (src/store/registry.ts).
  const view = await syncedView(app);
  aliasFree(view.reg);
  const known = view.reg.accounts.find((a) => apiKeyHashOf(a) === hash);
  const ref = known?.secret ?? app.secretRefFor('apikey', identity.id, { insecure: Boolean(opts.insecureStorage) });
  // A keyring failure throws here: nothing is registered.
  if (!known) await withTokenLock(app, ref.ref, maskKey(key), () => app.secrets.set(ref, secretText));

  const outcome = await app.registry.update((reg) => {
    aliasFree(reg);
    const now = app.now();
    let account = reg.accounts.find((a) => apiKeyHashOf(a) === hash);
    const existed = Boolean(account);
    if (account) {
      // Known key: refresh its identity (a verified identity replaces an unverified one).
      if (me) {
        const oldId = account.id;
        Object.assign(account, identityFields(identity));
        account.id = identity.id;
        if (reg.activeId === oldId) reg.activeId = identity.id;
        if (reg.previousId === oldId) reg.previousId = identity.id;
        if (reg.fallback.keyId === oldId) reg.fallback.keyId = identity.id;
      }
      account.updatedAt = now.toISOString();
    } else {
      account = newAccount(identity, auth, ref, now);
      reg.accounts.push(account);
    }
    if (opts.alias !== undefined) account.alias = normalizeAlias(opts.alias);
    reg.removedLiveIds = reg.removedLiveIds.filter((id) => id !== account.id);
    // Codex's live login was this key, unknown until now: it is the active account.
    applySync(reg, view.live, now);
    let madeFallback = false;
    if (!reg.fallback.keyId && opts.fallback !== false) {
      reg.fallback.keyId = account.id;
      madeFallback = true;
    }
    const shadowed = existed ? [] : shadowedAliasWarnings(reg.accounts, account);
    return { account: { ...account }, existed, madeFallback, isFallback: reg.fallback.keyId === account.id, fallbackOn: reg.fallback.enabled, shadowed };
  });

  const { account } = outcome;
  if (app.out.json) {
    app.out.document({
      added: !outcome.existed,
      id: account.id,
      email: account.email,
      alias: account.alias,
      keyMask: maskKey(key),
      verified: me !== null,
      storage: account.secret.store,
      fallback: outcome.isFallback,
    });
  }
  if (outcome.existed) app.out.info(`That key is already stored as ${describeAccount(account)}; its identity was refreshed.`);
  else app.out.success(`Stored ${describeAccount(account)} in ${account.secret.store === 'keyring' ? 'the OS keyring' : 'a 0600 file (insecure storage)'}.`);
  if (outcome.madeFallback) {
    // Rotation-only fallback (enabled without a key) now ends on this key: say so, it costs money.
    app.out.info(
      outcome.fallbackOn
        ? 'It is now the fallback key: automatic fallback (enabled) switches Codex to it when no ChatGPT account has headroom; API usage is billed per token.'
        : 'It is now the fallback key for automatic fallback (see "codex-auth fallback enable").',
    );
  }
  for (const w of outcome.shadowed) app.out.warn(w);
  if (opts.insecureStorage && !outcome.existed) app.out.warn('The key is stored in a plain file (mode 0600) instead of the OS keyring, because of --insecure-storage.');
  return 0;
}
