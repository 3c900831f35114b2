/**
 * An account listed twice in registry.json (a hand edit, a merge of two copies): `list` would show two
 * active rows. Pure: the repair loses nothing — entries of one id share one stored secret (its ref
 * comes from the id), so the newer entry is kept with any alias and rotated-token record of the
 * other. Entries whose stored secrets differ are never merged: that is an error for the user to fix.
 */
import { CliError } from '../errors.js';
import type { Account, Registry } from '../domain/types.js';

/** Ids listed more than once, with how many times. */
export function duplicateIds(reg: Registry): Map<string, number> {
  const seen = new Map<string, number>();
  for (const a of reg.accounts) seen.set(a.id, (seen.get(a.id) ?? 0) + 1);
  for (const [id, n] of seen) if (n < 2) seen.delete(id);
  return seen;
}

function newer(a: Account, b: Account): Account {
  const ta = Date.parse(a.snapshot.lastRefresh ?? '') || 0;
  const tb = Date.parse(b.snapshot.lastRefresh ?? '') || 0;
  if (ta !== tb) return ta > tb ? a : b;
  return (Date.parse(b.updatedAt) || 0) > (Date.parse(a.updatedAt) || 0) ? b : a;
}

/**
 * Merge the entries of each duplicated id into one, in place, at the first one's position. Returns
 * the merged ids. Throws (and changes nothing) when entries of one id point at different secrets.
 */
export function mergeDuplicates(reg: Registry, file: string): string[] {
  const dups = duplicateIds(reg);
  if (dups.size === 0) return [];
  for (const id of dups.keys()) {
    const refs = new Set(reg.accounts.filter((a) => a.id === id).map((a) => `${a.secret.store}:${a.secret.ref}`));
    if (refs.size > 1) {
      throw new CliError(
        'registry_duplicate',
        `${file} lists the account ${id} ${dups.get(id)} times, with different stored secrets (${[...refs].join(', ')}). Edit the file to keep the entry whose secret is the newer login (or remove all but one and import the other secret again); nothing was changed.`,
      );
    }
  }
  const out: Account[] = [];
  const at = new Map<string, number>();
  for (const a of reg.accounts) {
    const i = at.get(a.id);
    if (i === undefined) {
      at.set(a.id, out.length);
      out.push(a);
      continue;
    }
    const prev = out[i] as Account;
    const chosen = newer(prev, a);
    const other = chosen === prev ? a : prev;
    const keep = { ...chosen };
    keep.alias ??= other.alias;
    const rotated = [...new Set([...(prev.rotatedRefreshTokens ?? []), ...(a.rotatedRefreshTokens ?? [])])];
    if (rotated.length) keep.rotatedRefreshTokens = rotated;
    out[i] = keep;
  }
  reg.accounts = out;
  return [...dups.keys()];
}
