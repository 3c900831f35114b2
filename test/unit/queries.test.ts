/** The pure QUERY resolver, stable account numbers and alias clashes (issue 13). */
import { describe, expect, it } from 'vitest';
import { aliasClash, validateAlias } from '../../src/domain/accounts.js';
import { assignNumbers, numbered, orderAccounts, resolveQuery, stableNumbers } from '../../src/domain/view.js';
import { acc } from '../support/accounts.js';

const carol = acc({ id: 'chatgpt::u-c::c1', email: 'carol@example.com', plan: 'pro', number: 10 });
const key0010 = acc({ id: 'apikey::user-k::hash-1', kind: 'apikey', email: 'keys@example.com', plan: 'API_KEY', keyMask: 'sk-proj-***0010', number: 3 });
const dora = acc({ id: 'chatgpt::u-d::d-1', email: 'dora@example.com', plan: 'team', workspaceTitle: 'Acme', number: 5 });
const list = numbered([carol, key0010, dora]);

function one(q: string, l = list): string | undefined {
  const r = resolveQuery(q, l);
  return r.kind === 'one' ? r.match.account.id : `(${r.kind})`;
}

describe('stable numbers', () => {
  it('shows each account with its stored number, whatever the display order', () => {
    expect(numbered([carol, key0010, dora]).map((m) => [m.account.email, m.number])).toEqual([
      ['carol@example.com', 10],
      ['dora@example.com', 5],
      ['keys@example.com', 3],
    ]);
  });

  it('numbers a registry from before numbers once, in its display order', () => {
    const reg = { accounts: [acc({ id: 'b', email: 'bob@x' }), acc({ id: 'a', email: 'alice@x' })] };
    assignNumbers(reg);
    expect(reg.accounts.map((a) => [a.id, a.number])).toEqual([
      ['b', 2],
      ['a', 1],
    ]);
    expect(reg).toMatchObject({ nextNumber: 3 });
  });

  it('gives new accounts numbers after every number ever given: a removed one is not reused', () => {
    const reg = { accounts: [acc({ id: 'a', email: 'a@x', number: 1 }), acc({ id: 'new', email: '0@x' })], nextNumber: 4 };
    assignNumbers(reg);
    expect(reg.accounts.map((a) => a.number)).toEqual([1, 4]);
    expect(reg.nextNumber).toBe(5);
  });

  it('repairs duplicates, invalid and missing numbers deterministically, after the highest in use', () => {
    const accounts = [
      acc({ id: 'first', email: 'z@x', number: 2 }),
      acc({ id: 'dup', email: 'a@x', number: 2 }),
      acc({ id: 'bad', email: 'b@x', number: 0 }),
      acc({ id: 'old', email: 'c@x', number: 7 }),
    ];
    // A counter behind the numbers in use (an older codex-auth dropped it) never leads to a duplicate.
    const { numbers, next } = stableNumbers(accounts, 3);
    expect(numbers).toEqual([2, 8, 9, 7]);
    expect(next).toBe(10);
    // Of two accounts with one number, the one earlier in the registry keeps it.
    expect(stableNumbers([...accounts].reverse(), 3).numbers).toEqual([7, 8, 2, 9]);
  });

  it('leaves a registry that is in order exactly as it is', () => {
    const reg = { accounts: [acc({ id: 'a', email: 'a@x', number: 1 }), acc({ id: 'c', email: 'c@x', number: 3 })], nextNumber: 4 };
    const before = JSON.stringify(reg);
    assignNumbers(reg);
    expect(JSON.stringify(reg)).toBe(before);
    expect(orderAccounts(reg.accounts).flatMap((g) => g.members.map((m) => m.number))).toEqual([1, 3]);
  });
});

describe('resolveQuery', () => {
  it('reads a plain number without leading zeros as a row number, and a number nobody has as no match', () => {
    expect(one('10')).toBe(carol.id);
    expect(one('3')).toBe(key0010.id);
    expect(resolveQuery('1', list)).toEqual({ kind: 'none', number: 1 });
    // Never falls through to text: "5" is in no visible text here, "10" would be in keys' mask 0010.
    expect(resolveQuery('2', numbered([acc({ id: 'x', email: 'x2@example.com', number: 1 })]))).toEqual({ kind: 'none', number: 2 });
  });

  it('reads a number with leading zeros as text: the last 4 characters of a key mask', () => {
    expect(one('0010')).toBe(key0010.id);
    expect(one('003')).toBe('(none)');
  });

  it('matches internal ids only whole, never by a fragment', () => {
    expect(one('-1')).toBe('(none)');
    expect(one('u-c')).toBe('(none)');
    expect(one('hash-1')).toBe('(none)');
    expect(one('chatgpt::u-d::d-1')).toBe(dora.id);
  });

  it('matches fragments of what list shows: email, alias, workspace, plan, key mask', () => {
    expect(one('CAROL')).toBe(carol.id);
    expect(one('acme')).toBe(dora.id);
    expect(one('team')).toBe(dora.id);
    expect(one('api_key')).toBe(key0010.id);
    expect(one('proj-')).toBe(key0010.id);
    expect(one('example.com')).toBe('(many)');
  });

  it('prefers exact matches in the order alias, email, id over fragments', () => {
    const home = acc({ id: 'h', email: 'home@example.com', alias: 'hom', number: 1 });
    const other = acc({ id: 'o', email: 'hom@example.org', number: 2 });
    expect(one('hom', numbered([home, other]))).toBe('h');
    const a = acc({ id: 'x1', email: 'ann@example.com', number: 1 });
    const b = acc({ id: 'x2', email: 'ann@example.com.au', number: 2 });
    expect(one('ann@example.com', numbered([a, b]))).toBe('x1');
  });

  it('calls it ambiguous when an alias equals another account\'s email (a registry from before the rule)', () => {
    const a = acc({ id: 'a', email: 'a@example.com', alias: 'b@example.com', number: 1 });
    const b = acc({ id: 'b', email: 'b@example.com', number: 2 });
    const r = resolveQuery('b@example.com', numbered([a, b]));
    expect(r.kind).toBe('many');
    if (r.kind === 'many') expect(r.matches.map((m) => m.account.id).sort()).toEqual(['a', 'b']);
  });

  it('matches case-insensitively after Unicode NFC normalisation on both sides', () => {
    const jose = acc({ id: 'j', email: 'jos\u00e9@example.com', number: 1 });
    const nfdStored = acc({ id: 'z', email: 'zo\u0065\u0301@example.com', number: 2 });
    const l = numbered([jose, nfdStored]);
    expect(one('JOSE\u0301@example.com', l)).toBe('j');
    expect(one('jose\u0301', l)).toBe('j');
    expect(one('zo\u00e9', l)).toBe('z');
  });
});

describe('aliases', () => {
  const accounts = [acc({ id: 'chatgpt::u::a', email: 'ann@example.com', alias: 'Work' }), acc({ id: 'chatgpt::u::b', email: 'ben@example.com' })];
  it('rejects numbers, "-" and option-like names', () => {
    expect(validateAlias('42')).toMatch(/only digits/);
    expect(validateAlias('0010')).toMatch(/only digits/);
    expect(validateAlias('-')).toMatch(/previous account/);
    expect(validateAlias('-x')).toMatch(/start with "-"/);
    expect(validateAlias('w-1')).toBeNull();
  });
  it('never equals an email, an id or another account\'s alias (case-insensitive, NFC)', () => {
    expect(aliasClash(accounts, 'BEN@example.com', { id: 'chatgpt::u::a' })).toMatch(/email of ben@example\.com/);
    expect(aliasClash(accounts, 'ann@example.com', { id: 'chatgpt::u::a' })).toMatch(/email of/);
    expect(aliasClash(accounts, 'chatgpt::u::b', { id: 'chatgpt::u::a' })).toMatch(/id of/);
    expect(aliasClash(accounts, 'work', { id: 'chatgpt::u::b' })).toMatch(/already names Work — ann@example\.com/);
    expect(aliasClash(accounts, 'work', { id: 'chatgpt::u::a' })).toBeNull();
    // The account being added counts too.
    expect(aliasClash(accounts, 'Caf\u0065\u0301@x.org', { id: 'new', email: 'caf\u00e9@x.org' })).toMatch(/the account being added/);
    expect(aliasClash(accounts, 'home', { id: 'new', email: 'new@x.org' })).toBeNull();
  });
});
