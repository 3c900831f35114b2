/**
 * Hashing without loading node:crypto on the hot path (its initialisation is a noticeable part of a
 * 30 ms start-up). `fastHash` is a 128-bit non-cryptographic hash for change detection only:
 * snapshot fingerprints and the registry's integrity digest. `sha256Hex` (account ids of API keys,
 * refresh-token bookkeeping) loads node:crypto on first use.
 */
import { nodeRequire as load } from '../node-require.js';

/** Four independent 32-bit lanes (FNV-1a style, murmur3 finaliser): 32 hex digits. */
export function fastHash(s: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ 0x9e3779b9;
  let h3 = 0x85ebca6b;
  let h4 = 0xc2b2ae35;
  for (let i = 0; i < s.length; i += 1) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h3 = Math.imul(h3 ^ c, 0x27d4eb2d);
    h4 = Math.imul(h4 ^ c, 0x165667b1);
  }
  const fmix = (h: number, len: number) => {
    h ^= len;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return (h >>> 0).toString(16).padStart(8, '0');
  };
  return fmix(h1, s.length) + fmix(h2 ^ h1, s.length) + fmix(h3 ^ h2, s.length) + fmix(h4 ^ h3, s.length);
}

export function sha256Hex(s: string): string {
  const { createHash } = load('node:crypto') as typeof import('node:crypto');
  return createHash('sha256').update(s).digest('hex');
}

/** A random suffix for temporary file names (created with O_EXCL, so guessing it gains nothing). */
let counter = 0;
export function randomSuffix(): string {
  counter += 1;
  return `${process.pid.toString(36)}${counter.toString(36)}${Math.random().toString(36).slice(2, 10)}`;
}
