/** OAuth token refresh (CODEX-FACTS.md §4). Refresh tokens rotate: a used one must never be sent again. */
import { type HttpClient, isHttpError, parseJson } from '../platform/http.js';

export const CODEX_CLIENT_ID = 'app_EMoamEEZ73f0CkXaXp7hrann';
export const DEFAULT_REFRESH_URL = 'https://auth.openai.com/oauth/token';
const PERMANENT = new Set(['refresh_token_expired', 'refresh_token_reused', 'refresh_token_invalidated', 'invalid_grant']);

export function refreshUrl(env: NodeJS.ProcessEnv): string {
  return env.CODEX_REFRESH_TOKEN_URL_OVERRIDE || DEFAULT_REFRESH_URL;
}

export interface RefreshedTokens {
  id_token?: string;
  access_token?: string;
  refresh_token?: string;
}

export type RefreshResult =
  | { ok: true; tokens: RefreshedTokens }
  /** permanent: the login is gone (re-login needed); otherwise worth trying again later. */
  | { ok: false; permanent: boolean; code: string; short: string; message: string };

function errorCode(body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return null;
  const b = body as Record<string, unknown>;
  const err = b.error;
  if (typeof err === 'object' && err !== null && typeof (err as Record<string, unknown>).code === 'string') return (err as Record<string, string>).code ?? null;
  if (typeof err === 'string') return err;
  if (typeof b.code === 'string') return b.code;
  return null;
}

export async function refreshTokens(http: HttpClient, url: string, refreshToken: string): Promise<RefreshResult> {
  let res;
  try {
    res = await http.request({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ client_id: CODEX_CLIENT_ID, grant_type: 'refresh_token', refresh_token: refreshToken }),
      // A retried POST could reuse a refresh token the server already rotated: never retry blindly.
      retries: 0,
    });
  } catch (e) {
    if (isHttpError(e)) return { ok: false, permanent: false, code: e.kind, short: e.short, message: e.message };
    throw e;
  }
  const body = parseJson(res.text);
  if (res.status === 200) {
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const tokens: RefreshedTokens = {};
    for (const k of ['id_token', 'access_token', 'refresh_token'] as const) if (typeof b[k] === 'string' && b[k]) tokens[k] = b[k] as string;
    if (!tokens.access_token) return { ok: false, permanent: false, code: 'bad_answer', short: 'bad answer', message: 'the token endpoint answered without an access token' };
    return { ok: true, tokens };
  }
  const code = errorCode(body) ?? `http_${res.status}`;
  const permanent = PERMANENT.has(code) || (res.status === 401 && !code.startsWith('http_')) || res.status === 400 || res.status === 401;
  const transient = res.status === 429 || res.status >= 500;
  return {
    ok: false,
    permanent: permanent && !transient,
    code,
    short: transient ? String(res.status) : code.replace(/^refresh_token_/, ''),
    message: `the token refresh failed (HTTP ${res.status}, ${code})`,
  };
}

/** Merge only the returned fields into auth.json, keep everything else, set last_refresh. */
export function mergeRefreshed(raw: Record<string, unknown>, tokens: RefreshedTokens, now: Date): Record<string, unknown> {
  const old = (typeof raw.tokens === 'object' && raw.tokens !== null ? raw.tokens : {}) as Record<string, unknown>;
  return { ...raw, tokens: { ...old, ...tokens }, last_refresh: now.toISOString() };
}
