/** SHA-256 in hex: account ids of API keys, snapshot fingerprints, refresh-token bookkeeping. */

export function sha256Hex(s: string): string {
  // Loaded at the first hash, not at start-up: node:crypto takes 5–7 ms to load on Node 24, and `list` usually hashes nothing.
  const { createHash } = process.getBuiltinModule('node:crypto');
  return createHash('sha256').update(s).digest('hex');
}
