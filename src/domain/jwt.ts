/** Decoding of unsigned JWT payloads. Codex never verifies signatures locally, and neither do we. */
export class JwtError extends Error {}

export function decodeJwtPayload(token: unknown): Record<string, unknown> {
  if (typeof token !== 'string' || token.length === 0) throw new JwtError('is missing');
  const parts = token.split('.');
  if (parts.length !== 3) throw new JwtError('is not a JWT (expected three dot-separated parts)');
  const payload = parts[1] ?? '';
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(payload) || payload.length === 0) {
    throw new JwtError('is not a JWT (payload is not base64url)');
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw new JwtError('is not a JWT (payload is not JSON)');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new JwtError('is not a JWT (payload is not a JSON object)');
  }
  return json as Record<string, unknown>;
}

/** `exp` (seconds since the epoch) of a JWT, or null when absent or unreadable. */
export function jwtExpiry(token: unknown): number | null {
  try {
    const exp = decodeJwtPayload(token).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp : null;
  } catch {
    return null;
  }
}
