/** Building and describing registry accounts. Pure. */
import type { Account, SecretRef } from '../domain/types.js';
import { type ChatgptIdentity, credentialFingerprint, type ParsedAuth } from './authfile.js';
import { oneLine } from './display.js';
import { maskKey } from './mask.js';
import { API_KEY_PLAN } from './plans.js';

export interface ApiKeyIdentity {
  kind: 'apikey';
  id: string;
  meId: string;
  email: string | null;
  name: string | null;
  orgTitle: string | null;
  keyMask: string;
}

export type Identity = ChatgptIdentity | ApiKeyIdentity;

export function snapshotMeta(auth: ParsedAuth): Account['snapshot'] {
  return { lastRefresh: auth.lastRefresh, fingerprint: credentialFingerprint(auth) };
}

export function newAccount(identity: Identity, auth: ParsedAuth, secret: SecretRef, now: Date): Account {
  const iso = now.toISOString();
  const base = {
    id: identity.id,
    email: identity.email,
    alias: null,
    secret,
    snapshot: snapshotMeta(auth),
    addedAt: iso,
    updatedAt: iso,
    lastActivityAt: null,
    usage: null,
  };
  return { ...base, ...identityFields(identity) } as Account;
}

/** Fields that come from the identity (refreshed on every update: plans change, emails change). */
export function identityFields(identity: Identity): Partial<Account> & Pick<Account, 'kind' | 'plan'> {
  if (identity.kind === 'chatgpt') {
    return {
      kind: 'chatgpt',
      email: identity.email,
      plan: identity.plan,
      chatgptUserId: identity.userId,
      chatgptAccountId: identity.accountId,
      workspaceTitle: identity.workspaceTitle,
      accessTokenExpiresAt: identity.accessTokenExpiresAt,
    };
  }
  return {
    kind: 'apikey',
    email: identity.email,
    plan: API_KEY_PLAN,
    meId: identity.meId,
    name: identity.name,
    workspaceTitle: identity.orgTitle,
    keyMask: identity.keyMask,
  };
}

export function apiKeyIdentity(id: string, me: { id: string; email: string | null; name: string | null; orgTitle: string | null }, key: string): ApiKeyIdentity {
  return { kind: 'apikey', id, meId: me.id, email: me.email, name: me.name, orgTitle: me.orgTitle, keyMask: maskKey(key) };
}

/** The key hash is the last part of an API-key account id. */
export function apiKeyHashOf(account: Pick<Account, 'id' | 'kind'>): string | null {
  if (account.kind !== 'apikey') return null;
  const parts = account.id.split('::');
  return parts.length === 3 ? (parts[2] ?? null) : null;
}

/** Short label used for child rows and messages: alias, else workspace/plan, else masked key. */
export function accountLabel(a: Account): string {
  if (a.alias) return a.alias;
  if (a.kind === 'apikey') return a.keyMask ?? 'API key';
  if (a.workspaceTitle) return `${a.workspaceTitle} (${a.plan})`;
  const ws = a.chatgptAccountId ? ` ${a.chatgptAccountId.slice(0, 8)}` : '';
  return `${a.plan} workspace${ws}`;
}

/**
 * One-line description for messages: "alice@example.com (plus)" / "alias: alice@x (API key sk-…)".
 * Its parts come from tokens and servers: control characters, line breaks included, are escaped, so
 * it stays one line wherever it goes (src/domain/display.ts).
 */
export function describeAccount(a: Account): string {
  const who = a.email ?? a.name ?? a.meId ?? a.id;
  const what = a.kind === 'apikey' ? `API key ${a.keyMask ?? ''}`.trim() : a.workspaceTitle ? `${a.plan}, ${a.workspaceTitle}` : a.plan;
  return oneLine(a.alias ? `${a.alias} — ${who} (${what})` : `${who} (${what})`);
}

export type SnapshotOrder = 'newer' | 'older' | 'same';

/**
 * Is the candidate snapshot newer than the stored one? Compares registry metadata only, so the stored
 * secret need not be read: identical fingerprints are the same; otherwise last_refresh decides, and a
 * candidate without a timestamp never replaces a timestamped snapshot. A fingerprint stored by an
 * earlier codex-auth (32 hex digits, before SHA-256) never equals a new one, so it tells nothing: the
 * timestamps decide, and identical credentials read as newer and are saved again under the new
 * fingerprint (test/cli/legacy-fingerprint.test.ts).
 */
export function compareSnapshotMeta(candidate: Account['snapshot'], stored: Account['snapshot']): SnapshotOrder {
  if (candidate.fingerprint === stored.fingerprint) return 'same';
  const a = candidate.lastRefresh ? Date.parse(candidate.lastRefresh) : null;
  const b = stored.lastRefresh ? Date.parse(stored.lastRefresh) : null;
  if (a !== null && b !== null) return a >= b ? 'newer' : 'older';
  if (b !== null) return 'older';
  return 'newer';
}

/** How aliases are compared with each other and with emails and ids: Unicode NFC, then lower case. */
function fold(s: string): string {
  return s.normalize('NFC').toLowerCase();
}

/**
 * Alias rules: 1–64 printable characters; not only digits (a plain number is a row number), not
 * "-" (the previous account) and not starting with "-" (it would read as an option).
 */
export function validateAlias(name: string): string | null {
  const n = name.trim();
  if (n === '') return 'an alias cannot be empty';
  if (n.length > 64) return 'an alias can have at most 64 characters';
  if (/^\d+$/.test(n)) return 'an alias cannot be only digits (a number selects an account by its number)';
  if (n === '-') return '"-" selects the previous account and cannot be an alias';
  if (n.startsWith('-')) return 'an alias cannot start with "-" (it would read as an option)';
  if (/[\u0000-\u001f\u007f]/.test(n)) return 'an alias cannot contain control characters';
  return null;
}

/** The alias as it is stored: trimmed, Unicode NFC. */
export function normalizeAlias(name: string): string {
  return name.trim().normalize('NFC');
}

/**
 * Before a login, whose account is not known yet: the clashes no login can avoid — `alias` is an
 * existing account's email or id (an alias never equals any email or id, its own account's included).
 * Whether it is another account's alias depends on which account logs in, so that is checked after.
 */
export function aliasClashBeforeLogin(accounts: readonly Account[], alias: string): string | null {
  const withoutAliases = accounts.map((a) => ({ ...a, alias: null }));
  return aliasClash(withoutAliases, alias, { id: '', email: null });
}

/**
 * Warnings for the aliases of other accounts that an account just added (`added`) takes over: its
 * email or id equals them (case-insensitive, Unicode NFC), so that word, as a QUERY, now names two
 * accounts. An alias is checked against every email when it is given, but an account added later
 * can bring the same email.
 */
export function shadowedAliasWarnings(accounts: readonly Account[], added: Account): string[] {
  const words = new Set([added.email, added.id].filter((w): w is string => typeof w === 'string' && w !== '').map(fold));
  return accounts
    .filter((a) => a.id !== added.id && a.alias !== null && words.has(fold(a.alias)))
    .map((a) => {
      const fix = a.number !== undefined ? `codex-auth alias ${a.number} NEW-NAME` : 'codex-auth alias';
      return `The alias "${oneLine(a.alias ?? '')}" of ${describeAccount(a)} is also the ${fold(a.alias ?? '') === fold(added.email ?? '') ? 'email' : 'id'} of ${describeAccount(added)}, just added: as a query it now names both. Give it another name: ${fix}.`;
    });
}

/**
 * Why `alias` cannot name the account `self` (already in `accounts` or about to be added), or null:
 * an alias never equals any account's email or id, nor another account's alias (case-insensitive,
 * Unicode-normalised), so a QUERY that is an email, an id or an alias names one account only.
 */
export function aliasClash(accounts: readonly Account[], alias: string, self: { id: string; email?: string | null }): string | null {
  const want = fold(alias.trim());
  const all: Array<Pick<Account, 'id' | 'email' | 'alias'> & { account?: Account }> = accounts.map((a) => ({ id: a.id, email: a.email, alias: a.alias, account: a }));
  if (!accounts.some((a) => a.id === self.id)) all.push({ id: self.id, email: self.email ?? null, alias: null });
  const name = (x: (typeof all)[number]) => (x.account ? describeAccount(x.account) : 'the account being added');
  for (const x of all) {
    if (x.email && fold(x.email) === want) return `it is the email of ${name(x)}; an alias cannot equal an account's email`;
    if (fold(x.id) === want) return `it is the id of ${name(x)}; an alias cannot equal an account's id`;
    if (x.id !== self.id && x.alias && fold(x.alias) === want) return `it already names ${name(x)}; choose another or clear that alias first`;
  }
  return null;
}
