/**
 * Recognising the gateway's placeholder login (src/gateway/placeholder.ts) among Codex's live
 * credentials, without node:crypto: every command's sync asks, and must neither import it as an
 * account nor take it for "no login".
 */
import { decodeJwtPayload } from '../domain/jwt.js';

export const GATEWAY_CLAIM = 'https://codex-auth.invalid/gateway';

/** Whether a parsed auth.json document is a gateway placeholder (its access token carries the claim). */
export function isPlaceholderDoc(raw: Record<string, unknown>): boolean {
  const tokens = raw.tokens;
  if (typeof tokens !== 'object' || tokens === null) return false;
  try {
    const claim = decodeJwtPayload((tokens as Record<string, unknown>).access_token)[GATEWAY_CLAIM];
    return typeof claim === 'object' && claim !== null;
  } catch {
    return false;
  }
}

/** The same, for the text of Codex's live credentials. */
export function isPlaceholderText(text: string | null | undefined): boolean {
  if (!text || !text.includes('"tokens"')) return false;
  try {
    const doc = JSON.parse(text) as unknown;
    return typeof doc === 'object' && doc !== null && !Array.isArray(doc) && isPlaceholderDoc(doc as Record<string, unknown>);
  } catch {
    return false;
  }
}
