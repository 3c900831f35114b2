/**
 * The registry schema's behaviours that the rest of codex-auth relies on: unknown fields kept (loose
 * objects), invalid caches dropped instead of refusing the file (catch), defaults for fields older
 * registries lack, and the English messages a quarantine shows (path and reason of the first issue).
 */
import { describe, expect, it } from 'vitest';
import { type Account, emptyRegistry, Registry } from '../../src/store/registry-schema.js';

function account(over: Record<string, unknown> = {}): Record<string, unknown> {
  const a: Account = {
    id: 'chatgpt::u::a',
    kind: 'chatgpt',
    email: 'a@example.com',
    alias: null,
    plan: 'plus',
    secret: { store: 'file', ref: 'chatgpt__u__a' },
    snapshot: { lastRefresh: null, fingerprint: 'f' },
    addedAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    lastActivityAt: null,
    number: 1,
  };
  return { ...a, ...over };
}

function firstIssue(doc: unknown): string {
  const r = Registry.safeParse(doc);
  expect(r.success).toBe(false);
  const issue = r.error?.issues[0];
  return `${issue?.path.join('.') || '(root)'}: ${issue?.message}`;
}

describe('registry schema', () => {
  it('accepts a registry as written, keeping fields it does not know (a newer codex-auth’s)', () => {
    const doc = { ...emptyRegistry(), accounts: [account({ future: { x: 1 } })], futureTop: true };
    const r = Registry.parse(doc);
    expect(r).toEqual(doc);
  });

  it('gives older registries the defaults of fields they lack', () => {
    const { activeSince: _a, removedLiveIds: _r, fallbackState: _f, limitEvents: _l, ...old } = emptyRegistry();
    expect(Registry.parse(old)).toEqual(emptyRegistry());
  });

  it('drops an invalid account number, counter or auth.json record instead of refusing the file', () => {
    for (const bad of [0, -3, 1.5, 'seven', null]) {
      const r = Registry.parse({ ...emptyRegistry(), accounts: [account({ number: bad })], nextNumber: bad, liveFile: { dev: 1 } });
      expect(r.accounts[0]?.number).toBeUndefined();
      expect(r.nextNumber).toBeUndefined();
      expect(r.liveFile).toBeNull();
    }
  });

  it('refuses what the rest of codex-auth cannot use, saying where and why in English', () => {
    expect(firstIssue({ ...emptyRegistry(), accounts: [account({ email: 42 })] })).toBe('accounts.0.email: Invalid input: expected string, received number');
    expect(firstIssue({ ...emptyRegistry(), accounts: [account({ id: '' })] })).toBe('accounts.0.id: Too small: expected string to have >=1 characters');
    expect(firstIssue({ ...emptyRegistry(), accounts: [account({ kind: 'team' })] })).toBe('accounts.0.kind: Invalid option: expected one of "chatgpt"|"apikey"');
    expect(firstIssue({ ...emptyRegistry(), fallback: { ...emptyRegistry().fallback, threshold: 150 } })).toBe('fallback.threshold: Too big: expected number to be <=100');
    expect(firstIssue({ ...emptyRegistry(), version: 99 })).toBe('version: Invalid input: expected 1');
  });
});
