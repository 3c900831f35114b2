/**
 * The placeholder login Codex holds while it talks to the gateway: unsigned JWTs with a far-future
 * expiry (Codex never verifies signatures, and never refreshes a token that does not expire soon),
 * an account id of its own, and the per-installation secret, which the gateway checks on every
 * request. No real token or key is in it.
 */
import { timingSafeEqual } from 'node:crypto';
import { sha256Hex } from '../domain/hash.js';
import { decodeJwtPayload } from '../domain/jwt.js';

import { GATEWAY_CLAIM } from './detect.js';

export { GATEWAY_CLAIM };
const AUTH_CLAIM = 'https://api.openai.com/auth';
/** 2100-01-01: "far future" for Codex's proactive refresh (it refreshes within 5 minutes of `exp`). */
const FAR_EXP = 4_102_444_800;

export function placeholderAccountId(secret: string): string {
  return `codex-auth-gateway-${sha256Hex(`gateway-account:${secret}`).slice(0, 12)}`;
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');
const jwt = (payload: Record<string, unknown>) => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.placeholder`;

/** Codex's auth.json for the gateway (ChatGPT mode, so Codex uses chatgpt_base_url and wham/*). */
export function placeholderAuth(secret: string, now: Date): Record<string, unknown> {
  const accountId = placeholderAccountId(secret);
  const auth = { chatgpt_plan_type: 'plus', chatgpt_user_id: 'codex-auth-gateway', user_id: 'codex-auth-gateway', chatgpt_account_id: accountId };
  const iat = Math.floor(now.getTime() / 1000);
  const common = { iss: 'codex-auth-gateway', sub: 'codex-auth-gateway', iat, exp: FAR_EXP, [AUTH_CLAIM]: auth, [GATEWAY_CLAIM]: { secret } };
  return {
    auth_mode: 'chatgpt',
    OPENAI_API_KEY: null,
    tokens: {
      id_token: jwt({ ...common, email: 'gateway@codex-auth.invalid' }),
      access_token: jwt(common),
      refresh_token: `codex-auth-gateway-placeholder`,
      account_id: accountId,
    },
    last_refresh: now.toISOString(),
  };
}

/** Whether an Authorization header carries this installation's secret (in a placeholder token). */
export function carriesSecret(authorization: string | undefined, secret: string): boolean {
  if (!authorization) return false;
  const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  if (!m) return false;
  let claim: unknown;
  try {
    claim = decodeJwtPayload(m[1])[GATEWAY_CLAIM];
  } catch {
    return false;
  }
  const got = typeof claim === 'object' && claim !== null ? (claim as Record<string, unknown>).secret : undefined;
  if (typeof got !== 'string') return false;
  const a = Buffer.from(got, 'utf8');
  const b = Buffer.from(secret, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
