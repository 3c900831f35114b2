/** `sk-7f3c1***42ce`: the first 8 characters, `***`, the last 4. Short strings reveal nothing. */
export function maskKey(key: string): string {
  if (key.length < 16) return '***';
  return `${key.slice(0, 8)}***${key.slice(-4)}`;
}

/** Loose shape check for OpenAI API keys: `sk-` then at least 20 URL-safe characters, no spaces. */
export function looksLikeApiKey(key: string): boolean {
  return /^sk-[A-Za-z0-9_-]{20,}$/.test(key);
}

/**
 * What makes `key` unusable in an HTTP header, checked before any request (undici would reject it
 * with an error that reads like a network failure): "a newline at position 11". Never the key itself.
 * Null when every character is printable ASCII.
 */
export function keyCharacterProblem(key: string): string | null {
  let pos = 0;
  for (const ch of key) {
    pos++;
    const cp = ch.codePointAt(0) ?? 0;
    if (cp >= 0x20 && cp < 0x7f) continue;
    const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
    if (cp === 0x0a || cp === 0x0d) return `a newline at position ${pos}`;
    if (cp < 0x20 || cp === 0x7f || (cp >= 0x80 && cp < 0xa0)) return `a control character (${hex}) at position ${pos}`;
    return `a non-ASCII character (${hex}) at position ${pos}`;
  }
  return null;
}

/** Why `key` is not usable as an OpenAI API key (after trimming), or null: characters first, then the shape. */
export function apiKeyProblem(key: string): string | null {
  const chars = keyCharacterProblem(key);
  if (chars) return `contains ${chars}`;
  if (!looksLikeApiKey(key)) return 'does not look like an OpenAI API key (expected "sk-" followed by letters, digits, "-" or "_")';
  return null;
}
