/**
 * The Codex auth.json model (CODEX-FACTS.md §1–2). Pure: text in, model out.
 * The raw object is kept whole so unknown fields survive a round trip.
 */
import { sha256Hex } from './hash.js';
import { decodeJwtPayload, JwtError, jwtExpiry } from './jwt.js';
import { normalizePlan } from './plans.js';

export type AuthMode = 'apikey' | 'chatgpt';

export interface AuthTokens {
  id_token: string;
  access_token: string;
  refresh_token: string;
  account_id?: string | null;
}

export interface ParsedAuth {
  /** The whole document, unknown fields included. */
  raw: Record<string, unknown>;
  mode: AuthMode;
  apiKey: string | null;
  tokens: AuthTokens | null;
  lastRefresh: string | null;
}

export interface ChatgptIdentity {
  kind: 'chatgpt';
  id: string;
  userId: string;
  accountId: string;
  email: string | null;
  plan: string;
  workspaceTitle: string | null;
  accessTokenExpiresAt: number | null;
}

export class AuthFileError extends Error {}

const AUTH_CLAIMS = 'https://api.openai.com/auth';
const PROFILE_CLAIMS = 'https://api.openai.com/profile';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}

/** Parse and validate auth.json text. Throws AuthFileError with a message naming the field. */
export function parseAuthJson(text: string): ParsedAuth {
  if (text.trim() === '') throw new AuthFileError('is empty');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new AuthFileError('is not valid JSON');
  }
  return parseAuthObject(doc);
}

export function parseAuthObject(doc: unknown): ParsedAuth {
  if (!isObject(doc)) throw new AuthFileError(`must be a JSON object, found ${typeName(doc)}`);
  const authMode = doc.auth_mode;
  if (authMode !== undefined && authMode !== null && typeof authMode !== 'string') {
    throw new AuthFileError(`"auth_mode" must be a string, found ${typeName(authMode)}`);
  }
  const key = doc.OPENAI_API_KEY;
  if (key !== undefined && key !== null && typeof key !== 'string') {
    throw new AuthFileError(`"OPENAI_API_KEY" must be a string or null, found ${typeName(key)}`);
  }
  const lastRefresh = doc.last_refresh;
  if (lastRefresh !== undefined && lastRefresh !== null) {
    if (typeof lastRefresh !== 'string' || Number.isNaN(Date.parse(lastRefresh))) {
      throw new AuthFileError('"last_refresh" must be an RFC 3339 timestamp');
    }
  }
  let tokens: AuthTokens | null = null;
  if (doc.tokens !== undefined && doc.tokens !== null) {
    const t = doc.tokens;
    if (!isObject(t)) throw new AuthFileError(`"tokens" must be an object, found ${typeName(t)}`);
    for (const f of ['id_token', 'access_token', 'refresh_token'] as const) {
      if (typeof t[f] !== 'string') {
        throw new AuthFileError(`"tokens.${f}" must be a string, found ${t[f] === undefined ? 'nothing' : typeName(t[f])}`);
      }
    }
    if (t.account_id !== undefined && t.account_id !== null && typeof t.account_id !== 'string') {
      throw new AuthFileError(`"tokens.account_id" must be a string or null, found ${typeName(t.account_id)}`);
    }
    tokens = t as unknown as AuthTokens;
  }
  const apiKey = typeof key === 'string' && key.length > 0 ? key : null;
  let mode: AuthMode;
  if (authMode === 'apikey') mode = 'apikey';
  else if (authMode === 'chatgpt') mode = 'chatgpt';
  else if (typeof authMode === 'string') mode = tokens ? 'chatgpt' : 'apikey';
  else mode = apiKey ? 'apikey' : 'chatgpt';

  if (mode === 'apikey' && !apiKey) throw new AuthFileError('is in API-key mode but "OPENAI_API_KEY" is empty');
  if (mode === 'chatgpt' && !tokens) throw new AuthFileError('has neither an API key nor ChatGPT "tokens"');
  return { raw: doc, mode, apiKey, tokens, lastRefresh: typeof lastRefresh === 'string' ? lastRefresh : null };
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.trim() !== '' ? v : null;
}

/** Identity of a ChatGPT auth (user id + workspace id), from the id token's claims. */
export function chatgptIdentity(auth: ParsedAuth): ChatgptIdentity {
  if (!auth.tokens) throw new AuthFileError('has no ChatGPT tokens');
  let claims: Record<string, unknown>;
  try {
    claims = decodeJwtPayload(auth.tokens.id_token);
  } catch (e) {
    throw new AuthFileError(`"tokens.id_token" ${e instanceof JwtError ? e.message : 'cannot be decoded'}`);
  }
  const authClaims = isObject(claims[AUTH_CLAIMS]) ? (claims[AUTH_CLAIMS] as Record<string, unknown>) : {};
  const profile = isObject(claims[PROFILE_CLAIMS]) ? (claims[PROFILE_CLAIMS] as Record<string, unknown>) : {};
  const email = str(claims.email) ?? str(profile.email);
  const userId = str(authClaims.chatgpt_user_id) ?? str(authClaims.user_id);
  const orgs = Array.isArray(authClaims.organizations) ? authClaims.organizations.filter(isObject) : [];
  const defaultOrg = orgs.find((o) => o.is_default === true) ?? orgs[0];
  const accountId = str(authClaims.chatgpt_account_id) ?? str(auth.tokens.account_id) ?? str(defaultOrg?.id);
  if (!userId) throw new AuthFileError('"tokens.id_token" has no chatgpt_user_id (or user_id) claim');
  if (!accountId) throw new AuthFileError('"tokens.id_token" has no chatgpt_account_id claim and no organization');
  const org = orgs.find((o) => o.id === accountId) ?? null;
  return {
    kind: 'chatgpt',
    id: `chatgpt::${userId}::${accountId}`,
    userId,
    accountId,
    email,
    plan: normalizePlan(authClaims.chatgpt_plan_type),
    workspaceTitle: str(org?.title),
    accessTokenExpiresAt: jwtExpiry(auth.tokens.access_token),
  };
}

export { sha256Hex };

export function apiKeyAccountId(meId: string, key: string): string {
  return `apikey::${meId}::${sha256Hex(key)}`;
}

/** The auth.json Codex itself writes for an API key. */
export function apiKeyAuth(key: string): Record<string, unknown> {
  return { auth_mode: 'apikey', OPENAI_API_KEY: key };
}

/**
 * A fingerprint of the secret material, for "did it change?" without storing secrets in the registry.
 * Hash of the fields that rotate (tokens, key); not reversible.
 */
export function credentialFingerprint(auth: ParsedAuth): string {
  const material = auth.mode === 'apikey' ? `k:${auth.apiKey}` : `t:${auth.tokens?.refresh_token}:${auth.tokens?.access_token}:${auth.tokens?.id_token}`;
  return sha256Hex(material);
}

export function serializeAuth(raw: Record<string, unknown>): string {
  return `${JSON.stringify(raw, null, 2)}\n`;
}
