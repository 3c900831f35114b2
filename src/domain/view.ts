/**
 * The order and numbering of accounts, shared by `list` (which shows the numbers) and every command
 * that takes a QUERY (which accepts them). Accounts are grouped by email (case-insensitive); groups
 * sort by email; within a group ChatGPT accounts come before API keys, then by label.
 */
import type { Account, UsageWindow } from '../domain/types.js';
import { accountLabel } from './accounts.js';

export interface NumberedAccount {
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

export function orderAccounts(accounts: readonly Account[]): AccountGroup[] {
  const groups = new Map<string, Account[]>();
  for (const a of accounts) {
    const k = groupKey(a);
    const g = groups.get(k);
    if (g) g.push(a);
    else groups.set(k, [a]);
  }
  const keys = [...groups.keys()].sort(cmp);
  let n = 0;
  return keys.map((k) => {
    const members = (groups.get(k) ?? []).slice().sort((x, y) => {
      if (x.kind !== y.kind) return x.kind === 'chatgpt' ? -1 : 1;
      return cmp(accountLabel(x).toLowerCase(), accountLabel(y).toLowerCase()) || cmp(x.id, y.id);
    });
    const first = members[0];
    return {
      title: first?.email ?? first?.name ?? (first ? accountLabel(first) : k),
      members: members.map((account) => ({ number: ++n, account, label: accountLabel(account) })),
    };
  });
}

export function numbered(accounts: readonly Account[]): NumberedAccount[] {
  return orderAccounts(accounts).flatMap((g) => g.members);
}

export type Resolution = { kind: 'one'; match: NumberedAccount } | { kind: 'none' } | { kind: 'many'; matches: NumberedAccount[] };

/**
 * Resolve a QUERY: a row number, an exact id, alias, email or label (case-insensitive), else a unique
 * fragment of any of them. Exact matches win over fragments; several exact matches are ambiguous.
 */
export function resolveQuery(query: string, list: readonly NumberedAccount[]): Resolution {
  const q = query.trim();
  if (q === '') return { kind: 'none' };
  if (/^\d+$/.test(q)) {
    const m = list.find((x) => x.number === Number(q));
    return m ? { kind: 'one', match: m } : { kind: 'none' };
  }
  const lower = q.toLowerCase();
  const tiers: Array<(x: NumberedAccount) => boolean> = [
    (x) => x.account.id === q,
    (x) => (x.account.alias ?? '').toLowerCase() === lower,
    (x) => (x.account.email ?? '').toLowerCase() === lower || x.label.toLowerCase() === lower,
    (x) =>
      [x.account.alias, x.account.email, x.label, x.account.name, x.account.workspaceTitle, x.account.id]
        .filter((s): s is string => typeof s === 'string')
        .some((s) => s.toLowerCase().includes(lower)),
  ];
  for (const test of tiers) {
    const matches = list.filter(test);
    if (matches.length === 1) return { kind: 'one', match: matches[0] as NumberedAccount };
    if (matches.length > 1) return { kind: 'many', matches };
  }
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
