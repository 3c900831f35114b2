/**
 * The registry's accounts as they are on disk, for shell completion: no lock, no sync, no schema
 * migration, nothing written, and never an error (a missing or unreadable registry has no accounts).
 */
import { readFileSync } from 'node:fs';
import type { Account } from '../domain/types.js';

/** The accounts, and the registry's number counter (so numbers come out as `list` shows them). */
export interface PeekedAccounts {
  accounts: Account[];
  nextNumber?: number;
}

/** Lenient: whatever looks like an account is kept; anything odd yields none. */
export function peekAccounts(registryFile: string): PeekedAccounts {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(registryFile, 'utf8'));
  } catch {
    return { accounts: [] };
  }
  if (typeof doc !== 'object' || doc === null) return { accounts: [] };
  const list = (doc as { accounts?: unknown }).accounts;
  if (!Array.isArray(list)) return { accounts: [] };
  const next = (doc as { nextNumber?: unknown }).nextNumber;
  const accounts = list.filter(
    (a): a is Account =>
      typeof a === 'object' && a !== null && typeof (a as Account).id === 'string' && ((a as Account).kind === 'chatgpt' || (a as Account).kind === 'apikey'),
  );
  return typeof next === 'number' ? { accounts, nextNumber: next } : { accounts };
}
