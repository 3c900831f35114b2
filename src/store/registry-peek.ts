/**
 * The registry's accounts as they are on disk, for shell completion: no lock, no sync, no schema
 * migration, nothing written, and never an error (a missing or unreadable registry has no accounts).
 */
import fs from 'node:fs';
import type { Account } from './registry-schema.js';

/** Lenient: whatever looks like an account is kept; anything odd yields none. */
export function peekAccounts(registryFile: string): Account[] {
  let doc: unknown;
  try {
    doc = JSON.parse(fs.readFileSync(registryFile, 'utf8'));
  } catch {
    return [];
  }
  if (typeof doc !== 'object' || doc === null) return [];
  const list = (doc as { accounts?: unknown }).accounts;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (a): a is Account =>
      typeof a === 'object' && a !== null && typeof (a as Account).id === 'string' && ((a as Account).kind === 'chatgpt' || (a as Account).kind === 'apikey'),
  );
}
