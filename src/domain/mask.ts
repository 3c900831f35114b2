/** `sk-7f3c1***42ce`: the first 8 characters, `***`, the last 4. Short strings reveal nothing. */
export function maskKey(key: string): string {
  if (key.length < 16) return '***';
  return `${key.slice(0, 8)}***${key.slice(-4)}`;
}

/** Loose shape check for OpenAI API keys: `sk-` then at least 20 URL-safe characters, no spaces. */
export function looksLikeApiKey(key: string): boolean {
  return /^sk-[A-Za-z0-9_-]{20,}$/.test(key);
}
