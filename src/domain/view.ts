/**
 * The order and numbering of accounts, shared by `list` (which shows the numbers) and every command
 * that takes a QUERY (which accepts them). Accounts are grouped by email (case-insensitive); groups
 * sort by email; within a group ChatGPT accounts come before API keys, then by label.
 */
import type { Account, UsageWindow } from '../domain/types.js';
import { accountLabel } from './accounts.js';

export interface NumberedAccount {
  /** The account's stable number (the registry's `number`): it names this account until it is removed. */
  number: number;
  account: Account;
  label: string;
}

export interface AccountGroup {
  /** Display key: the email, or the account's own label when it has none. */
  title: string;
  members: NumberedAccount[];
}

/** Code-unit order: localeCompare would load ICU collation, a noticeable start-up cost. */
function cmp(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

function groupKey(a: Account): string {
  return (a.email ?? `\u{10ffff}${a.name ?? a.meId ?? a.id}`).toLowerCase();
}

/** The display order, grouped by email: the groups and their members, without numbers. */
function displayGroups(accounts: readonly Account[]): Account[][] {
  const groups = new Map<string, Account[]>();
  for (const a of accounts) {
    const k = groupKey(a);
    const g = groups.get(k);
    if (g) g.push(a);
    else groups.set(k, [a]);
  }
  return [...groups.keys()].sort(cmp).map((k) =>
    (groups.get(k) ?? []).slice().sort((x, y) => {
      if (x.kind !== y.kind) return x.kind === 'chatgpt' ? -1 : 1;
      return cmp(accountLabel(x).toLowerCase(), accountLabel(y).toLowerCase()) || cmp(x.id, y.id);
    }),
  );
}

function validNumber(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 1;
}

/**
 * Stable account numbers. An account keeps the `number` stored with it; a number is never given to
 * a second account (on duplicates, the account earlier in the registry keeps it). Accounts without
 * a valid number (a registry from before numbers, a new account, an older codex-auth that dropped
 * the field) get the next unused ones in display order, from `nextNumber` (the registry's counter,
 * so removed numbers are not reused) or after the highest in use, whichever is larger.
 * Pure: returns the numbers (parallel to `accounts`) and the counter after them.
 */
export function stableNumbers(accounts: readonly Account[], nextNumber?: unknown): { numbers: number[]; next: number } {
  const numbers: number[] = [];
  const used = new Set<number>();
  let max = 0;
  accounts.forEach((a, i) => {
    const n = a.number;
    if (validNumber(n) && !used.has(n)) {
      used.add(n);
      numbers[i] = n;
      if (n > max) max = n;
    }
  });
  let next = Math.max(validNumber(nextNumber) ? nextNumber : 1, max + 1);
  if (used.size < accounts.length) {
    const index = new Map<Account, number>();
    accounts.forEach((a, i) => index.set(a, i));
    for (const a of displayGroups(accounts).flat()) {
      const i = index.get(a) as number;
      if (numbers[i] === undefined) numbers[i] = next++;
    }
  }
  return { numbers, next };
}

/**
 * Give every account of the registry its stable number and keep the counter ahead of them (see
 * stableNumbers). Mutates `reg`; a registry that is already in order is left exactly as it is.
 */
export function assignNumbers(reg: { accounts: Account[]; nextNumber?: number | undefined }): void {
  const { numbers, next } = stableNumbers(reg.accounts, reg.nextNumber);
  reg.accounts.forEach((a, i) => {
    if (a.number !== numbers[i]) a.number = numbers[i] as number;
  });
  if (reg.nextNumber !== next) reg.nextNumber = next;
}

/**
 * The accounts in display order, grouped by email, each with its stable number (which need not
 * follow the display order: numbers stay with their accounts, gaps and all).
 */
export function orderAccounts(accounts: readonly Account[], nextNumber?: number): AccountGroup[] {
  const { numbers } = stableNumbers(accounts, nextNumber);
  const numberOf = new Map<Account, number>();
  accounts.forEach((a, i) => numberOf.set(a, numbers[i] as number));
  return displayGroups(accounts).map((members) => {
    const first = members[0] as Account;
    return {
      title: first.email ?? first.name ?? accountLabel(first),
      members: members.map((account) => ({ number: numberOf.get(account) as number, account, label: accountLabel(account) })),
    };
  });
}

/** Every account with its stable number, in display order. */
export function numbered(accounts: readonly Account[], nextNumber?: number): NumberedAccount[] {
  return orderAccounts(accounts, nextNumber).flatMap((g) => g.members);
}

export type Resolution =
  | { kind: 'one'; match: NumberedAccount }
  /** `number`: the query was a row number, and no account has it (removed, or never given). */
  | { kind: 'none'; number?: number }
  | { kind: 'many'; matches: NumberedAccount[] };

/** How queries and what they are compared with are read: Unicode NFC, then lower case. */
export function foldText(s: string): string {
  return s.normalize('NFC').toLowerCase();
}

/** A row number: a plain number without leading zeros. Anything else (`0010`, `-1`, `+3`) is text. */
export const ROW_NUMBER = /^[1-9][0-9]*$/;

/**
 * What `list` shows of an account, for fragments: never its internal id, nor the workspace-id
 * prefix of a label (it is a piece of the id).
 */
function visibleTexts(x: NumberedAccount): string[] {
  const a = x.account;
  // The label as list shows it, less the workspace-id prefix: "Acme (team)", "plus workspace".
  const label = a.alias || a.kind === 'apikey' || a.workspaceTitle ? x.label : `${a.plan} workspace`;
  return [a.alias, a.email, a.name, a.workspaceTitle, a.plan, a.kind === 'apikey' ? a.keyMask : null, label].filter(
    (s): s is string => typeof s === 'string' && s !== '',
  );
}

/**
 * Resolve a QUERY. A plain number without leading zeros is a row number and nothing else. Otherwise,
 * compared case-insensitively after Unicode NFC normalisation (foldText), exact matches win over
 * fragments in this order: alias, email, id (ids match only whole); then a unique fragment of what
 * `list` shows (email, alias, name, workspace title, plan, key mask, the row label less any id part).
 * When the exact matches of different kinds name different accounts (an alias that equals another
 * account's email, say), the query is ambiguous rather than picking one of them.
 */
export function resolveQuery(query: string, list: readonly NumberedAccount[]): Resolution {
  const q = query.trim().normalize('NFC');
  if (q === '') return { kind: 'none' };
  if (ROW_NUMBER.test(q)) {
    const n = Number(q);
    const m = list.find((x) => x.number === n);
    return m ? { kind: 'one', match: m } : { kind: 'none', number: n };
  }
  const lower = foldText(q);
  const same = (s: string | null | undefined) => typeof s === 'string' && foldText(s) === lower;
  const exact: Array<(x: NumberedAccount) => boolean> = [
    (x) => same(x.account.alias),
    (x) => same(x.account.email),
    (x) => x.account.id === q,
  ];
  const hits = exact.map((test) => list.filter(test));
  const first = hits.find((h) => h.length > 0);
  if (first) {
    const all = [...new Set(hits.flat())];
    if (all.length === 1) return { kind: 'one', match: all[0] as NumberedAccount };
    // Several accounts share the email (workspaces, API keys): ambiguous. An alias or email that
    // names one account while another kind of exact match names another: ambiguous too.
    return { kind: 'many', matches: list.filter((x) => all.includes(x)) };
  }
  const matches = list.filter((x) => visibleTexts(x).some((s) => foldText(s).includes(lower)));
  if (matches.length === 1) return { kind: 'one', match: matches[0] as NumberedAccount };
  if (matches.length > 1) return { kind: 'many', matches };
  return { kind: 'none' };
}

export interface UsageCell {
  text: string;
  /** 0–100 left, for coloring; null when unknown. */
  remaining: number | null;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** `14:30` when the reset is later today, else `Tue 09:00` within a week, else `12-24 09:00`. */
export function formatResetTime(resetsAt: Date, now: Date): string {
  const hm = `${pad2(resetsAt.getHours())}:${pad2(resetsAt.getMinutes())}`;
  const diff = resetsAt.getTime() - now.getTime();
  if (resetsAt.toDateString() === now.toDateString()) return hm;
  if (diff < 7 * 24 * 3600_000) return `${WEEKDAYS[resetsAt.getDay()]} ${hm}`;
  return `${pad2(resetsAt.getMonth() + 1)}-${pad2(resetsAt.getDate())} ${hm}`;
}

/** What is left of a window, and when it resets. A window whose reset has passed is full again. */
export function usageCell(w: UsageWindow | null | undefined, now: Date): UsageCell {
  if (!w) return { text: '-', remaining: null };
  const resetsAt = w.resetsAt ? new Date(w.resetsAt) : null;
  if (resetsAt && resetsAt.getTime() <= now.getTime()) return { text: '100%', remaining: 100 };
  const left = Math.max(0, Math.min(100, Math.round(100 - w.usedPercent)));
  return { text: resetsAt ? `${left}% · ${formatResetTime(resetsAt, now)}` : `${left}%`, remaining: left };
}

export function remainingPercent(w: UsageWindow | null | undefined, now: Date): number | null {
  if (!w) return null;
  if (w.resetsAt && Date.parse(w.resetsAt) <= now.getTime()) return 100;
  return Math.max(0, Math.min(100, Math.round(100 - w.usedPercent)));
}

/** "just now", "5m ago", "3h ago", "2d ago", or "-" when never. */
export function relativeTime(iso: string | null | undefined, now: Date): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '-';
  const s = Math.round((now.getTime() - t) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  if (s < 86400 * 60) return `${Math.floor(s / 86400)}d ago`;
  return new Date(t).toISOString().slice(0, 10);
}
