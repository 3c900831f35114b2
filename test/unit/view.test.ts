import { describe, expect, it } from 'vitest';
import { accountLabel, compareSnapshotMeta, validateAlias } from '../../src/domain/accounts.js';
import { looksLikeApiKey, maskKey } from '../../src/domain/mask.js';
import { numbered, orderAccounts, relativeTime, resolveQuery, usageCell } from '../../src/domain/view.js';
import type { Account } from '../../src/store/registry-schema.js';
import { acc } from '../support/accounts.js';

const accounts = [
  acc({ id: 'chatgpt::u-b::a1', email: 'bob@example.com', plan: 'pro' }),
  acc({ id: 'apikey::user-a::h1', kind: 'apikey', email: 'alice@example.com', plan: 'API_KEY', keyMask: 'sk-proj-***42ce' }),
  acc({ id: 'chatgpt::u-a::team', email: 'Alice@example.com', plan: 'team', workspaceTitle: 'Acme' }),
  acc({ id: 'chatgpt::u-a::personal', email: 'alice@example.com', plan: 'plus', alias: 'home', chatgptAccountId: 'personal-123456' }),
];

describe('masking', () => {
  it('shows the first 8 and last 4 characters only', () => {
    expect(maskKey('sk-7f3c1aaaaaaaaaaaaaaaaaaaaaa42ce')).toBe('sk-7f3c1***42ce');
    expect(maskKey('short')).toBe('***');
  });
  it('checks the key shape', () => {
    expect(looksLikeApiKey('sk-proj-abcdefghijklmnopqrstuvwxyz012345')).toBe(true);
    expect(looksLikeApiKey('sk-short')).toBe(false);
    expect(looksLikeApiKey('hello world')).toBe(false);
    expect(looksLikeApiKey('sk-proj-abcdefghijklmnopqrstuvwxyz 012345')).toBe(false);
  });
});

describe('ordering and numbering', () => {
  it('groups by email case-insensitively, ChatGPT before API keys, numbers in display order', () => {
    const groups = orderAccounts(accounts);
    expect(groups.map((g) => g.members.length)).toEqual([3, 1]);
    expect(groups[0]?.members.map((m) => [m.number, m.account.id])).toEqual([
      [1, 'chatgpt::u-a::team'],
      [2, 'chatgpt::u-a::personal'],
      [3, 'apikey::user-a::h1'],
    ]);
    expect(groups[1]?.members[0]?.number).toBe(4);
  });

  it('labels children by alias, workspace/plan, or masked key', () => {
    expect(accountLabel(accounts[3] as Account)).toBe('home');
    expect(accountLabel(accounts[2] as Account)).toBe('Acme (team)');
    expect(accountLabel(accounts[1] as Account)).toBe('sk-proj-***42ce');
    expect(accountLabel(acc({ id: 'chatgpt::x::y', chatgptAccountId: 'abcdef0123' }))).toBe('plus workspace abcdef01');
  });
});

describe('resolveQuery', () => {
  const list = numbered(accounts);
  it('takes row numbers, ids, aliases, emails and unique fragments', () => {
    expect(resolveQuery('4', list)).toMatchObject({ kind: 'one', match: { account: { email: 'bob@example.com' } } });
    expect(resolveQuery('chatgpt::u-a::team', list)).toMatchObject({ kind: 'one', match: { number: 1 } });
    expect(resolveQuery('HOME', list)).toMatchObject({ kind: 'one', match: { number: 2 } });
    expect(resolveQuery('bob@example.com', list)).toMatchObject({ kind: 'one', match: { number: 4 } });
    expect(resolveQuery('acme', list)).toMatchObject({ kind: 'one', match: { number: 1 } });
    expect(resolveQuery('bob', list)).toMatchObject({ kind: 'one', match: { number: 4 } });
  });
  it('reports ambiguity and misses', () => {
    const r = resolveQuery('alice', list);
    expect(r.kind).toBe('many');
    if (r.kind === 'many') expect(r.matches.map((m) => m.number)).toEqual([1, 2, 3]);
    expect(resolveQuery('alice@example.com', list).kind).toBe('many');
    expect(resolveQuery('99', list).kind).toBe('none');
    expect(resolveQuery('nobody', list).kind).toBe('none');
    expect(resolveQuery('  ', list).kind).toBe('none');
  });
  it('prefers an exact alias over fragments', () => {
    const l = numbered([acc({ id: 'chatgpt::1::1', email: 'work@x.com' }), acc({ id: 'chatgpt::2::2', email: 'y@x.com', alias: 'work' })]);
    expect(resolveQuery('work', l)).toMatchObject({ kind: 'one', match: { account: { alias: 'work' } } });
  });
});

describe('usage cells and times', () => {
  const now = new Date('2026-11-23T10:00:00Z');
  it('shows what is left and when it resets', () => {
    expect(usageCell({ usedPercent: 18, resetsAt: '2026-11-23T14:30:00Z' }, now).text).toBe('82% · 14:30');
    expect(usageCell({ usedPercent: 100, resetsAt: '2026-11-24T09:00:00Z' }, now).text).toBe('0% · Tue 09:00');
    expect(usageCell({ usedPercent: 10, resetsAt: '2026-12-24T09:00:00Z' }, now).text).toBe('90% · 12-24 09:00');
    expect(usageCell({ usedPercent: 42.4, resetsAt: null }, now)).toEqual({ text: '58%', remaining: 58 });
    expect(usageCell(null, now)).toEqual({ text: '-', remaining: null });
  });
  it('counts a window whose reset has passed as full', () => {
    expect(usageCell({ usedPercent: 100, resetsAt: '2026-11-23T09:00:00Z' }, now)).toEqual({ text: '100%', remaining: 100 });
  });
  it('formats relative times', () => {
    expect(relativeTime(null, now)).toBe('-');
    expect(relativeTime('2026-11-23T09:59:30Z', now)).toBe('just now');
    expect(relativeTime('2026-11-23T09:15:00Z', now)).toBe('45m ago');
    expect(relativeTime('2026-11-23T07:00:00Z', now)).toBe('3h ago');
    expect(relativeTime('2026-11-20T10:00:00Z', now)).toBe('3d ago');
    expect(relativeTime('2025-01-01T00:00:00Z', now)).toBe('2025-01-01');
  });
});

describe('snapshots and aliases', () => {
  it('never calls an older snapshot newer', () => {
    const old = { lastRefresh: '2026-11-01T00:00:00Z', fingerprint: 'a' };
    const newer = { lastRefresh: '2026-11-02T00:00:00Z', fingerprint: 'b' };
    expect(compareSnapshotMeta(newer, old)).toBe('newer');
    expect(compareSnapshotMeta(old, newer)).toBe('older');
    expect(compareSnapshotMeta(old, { ...old })).toBe('same');
    expect(compareSnapshotMeta({ lastRefresh: null, fingerprint: 'c' }, old)).toBe('older');
    expect(compareSnapshotMeta(old, { lastRefresh: null, fingerprint: 'c' })).toBe('newer');
  });
  it('validates aliases', () => {
    expect(validateAlias('work')).toBeNull();
    expect(validateAlias('')).toMatch(/empty/);
    expect(validateAlias('123')).toMatch(/digits/);
    expect(validateAlias('-')).toMatch(/previous/);
    expect(validateAlias('a'.repeat(65))).toMatch(/64/);
    expect(validateAlias('a\u0007b')).toMatch(/control/);
  });
});
