/**
 * Test helpers that build unsigned JWTs and Codex auth.json documents (CODEX-FACTS.md §1–2).
 * Codex never verifies token signatures locally, so these are accepted by the real CLI.
 * Independent of src/ on purpose: the tests' oracle must not share code with the product.
 */
import { createHash, randomUUID } from 'node:crypto';

export const AUTH_CLAIM = 'https://api.openai.com/auth';
export const PROFILE_CLAIM = 'https://api.openai.com/profile';

/** An unsigned JWT: `base64url(header).base64url(payload).sig`. */
export function makeJwt(payload: object, header: object = { alg: 'RS256', typ: 'JWT', kid: 'test' }): string {
  const enc = (v: object): string => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');
  const sig = Buffer.from(`sig-${randomUUID()}`, 'utf8').toString('base64url');
  return `${enc(header)}.${enc(payload)}.${sig}`;
}

/** The payload of a JWT (no signature check). Throws when the token is not a three-part JWT. */
export function decodeJwt(token: string): Record<string, unknown> {
  const parts = token.split('.');
  const payload = parts[1];
  if (parts.length !== 3 || payload === undefined) throw new Error('not a JWT');
  const json: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('JWT payload is not an object');
  return json as Record<string, unknown>;
}

export interface AccountClaims {
  email: string;
  userId: string;
  accountId: string;
  plan?: string;
}

/** The `https://api.openai.com/auth` claim object for an account. */
export function authClaim(a: AccountClaims): Record<string, string> {
  return {
    chatgpt_plan_type: a.plan ?? 'plus',
    chatgpt_user_id: a.userId,
    user_id: a.userId,
    chatgpt_account_id: a.accountId,
  };
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** An id_token like the one OpenAI issues (email + auth claims). */
export function makeIdToken(a: AccountClaims, opts: { exp?: number; extra?: object } = {}): string {
  const iat = nowSeconds();
  return makeJwt({
    iss: 'https://auth.openai.com',
    aud: ['app_EMoamEEZ73f0CkXaXp7hrann'],
    sub: `auth0|${a.userId}`,
    email: a.email,
    email_verified: true,
    iat,
    exp: opts.exp ?? iat + 3600,
    [AUTH_CLAIM]: authClaim(a),
    ...opts.extra,
  });
}

/** An access token: a JWT with `exp` and a unique `jti`, so every call yields a distinct token. */
export function makeAccessToken(a: AccountClaims, opts: { exp?: number; extra?: object } = {}): string {
  const iat = nowSeconds();
  return makeJwt({
    iss: 'https://auth.openai.com',
    aud: ['https://api.openai.com/v1'],
    sub: `auth0|${a.userId}`,
    iat,
    exp: opts.exp ?? iat + 3600,
    jti: randomUUID(),
    scp: ['openid', 'profile', 'email', 'offline_access'],
    [AUTH_CLAIM]: authClaim(a),
    [PROFILE_CLAIM]: { email: a.email, email_verified: true },
    ...opts.extra,
  });
}

/** A refresh token that looks like OpenAI's (opaque, `rt_` prefix), unique per call. */
export function makeRefreshToken(): string {
  return `rt_${randomUUID().replaceAll('-', '')}${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

export interface ChatgptAuthOptions extends AccountClaims {
  /** Expiry of the default access token, unix seconds (default now + 3600). */
  accessExp?: number;
  refreshToken?: string;
  /** Default: a fresh JWT with `accessExp` and a unique jti. */
  accessToken?: string;
  idToken?: string;
  /** RFC 3339; default now. */
  lastRefresh?: string;
  /** Extra top-level fields merged into the document (e.g. unknown fields that must survive). */
  extra?: object;
}

export interface ChatgptAuthDoc {
  auth_mode: 'chatgpt';
  OPENAI_API_KEY: null;
  tokens: { id_token: string; access_token: string; refresh_token: string; account_id: string };
  last_refresh: string;
  [k: string]: unknown;
}

/** A ChatGPT-mode auth.json document as Codex writes it. */
export function chatgptAuth(opts: ChatgptAuthOptions): ChatgptAuthDoc {
  const claims: AccountClaims = { email: opts.email, userId: opts.userId, accountId: opts.accountId };
  if (opts.plan !== undefined) claims.plan = opts.plan;
  const accessOpts: { exp?: number } = {};
  if (opts.accessExp !== undefined) accessOpts.exp = opts.accessExp;
  return {
    auth_mode: 'chatgpt',
    OPENAI_API_KEY: null,
    tokens: {
      id_token: opts.idToken ?? makeIdToken(claims),
      access_token: opts.accessToken ?? makeAccessToken(claims, accessOpts),
      refresh_token: opts.refreshToken ?? makeRefreshToken(),
      account_id: opts.accountId,
    },
    last_refresh: opts.lastRefresh ?? new Date().toISOString(),
    ...opts.extra,
  };
}

export interface ApiKeyAuthDoc {
  auth_mode: 'apikey';
  OPENAI_API_KEY: string;
}

/** An API-key-mode auth.json document, exactly what `codex login --with-api-key` writes. */
export function apiKeyAuth(key: string): ApiKeyAuthDoc {
  return { auth_mode: 'apikey', OPENAI_API_KEY: key };
}

/** A realistic-looking, deterministic API key: `sk-proj-` + 40 url-safe chars derived from `seed`. */
export function fakeApiKey(seed: string): string {
  const body = createHash('sha256').update(`fake-api-key:${seed}`).digest('base64url').slice(0, 40);
  return `sk-proj-${body}`;
}

/** How `codex login status` masks a key: first 8 chars, `***`, last 5. */
export function codexMaskedKey(key: string): string {
  return `${key.slice(0, 8)}***${key.slice(-5)}`;
}
