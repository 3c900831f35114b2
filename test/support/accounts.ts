/** Registry accounts for the pure (test/unit) tests: a ChatGPT account with every field set, `p` on top. */
import type { Account } from '../../src/store/registry-schema.js';

export function acc(p: Partial<Account> & Pick<Account, 'id'>): Account {
  return {
    kind: 'chatgpt',
    email: null,
    alias: null,
    plan: 'plus',
    secret: { store: 'file', ref: p.id.replace(/:/g, '_') },
    snapshot: { lastRefresh: null, fingerprint: 'f' },
    addedAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    lastActivityAt: null,
    ...p,
  } as Account;
}
