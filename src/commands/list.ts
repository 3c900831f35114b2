/** `codex-auth list`: every account with plan, usage left, last activity. */
import type { Services, Uses } from '../cli/app.js';
import { accountLabel, describeAccount } from '../domain/accounts.js';
import { type NumberedAccount, orderAccounts, relativeTime, remainingPercent, usageCell } from '../domain/view.js';
import type { Account, Registry, UsageWindow } from '../domain/types.js';
import { applySync, syncedView, unknownKeyMessage } from '../services/sync.js';
import { type Cell, renderColumns } from '../ui/table.js';

/** The ACCOUNT column: emails, workspaces, aliases; the only one shortened to fit a terminal. */
const ACCOUNT_COLUMN = 2;

/** What this command gets of the factory: its `needs` in src/cli/commands.ts. */
type Needs = Uses<Services | 'ctx' | 'out'>;

export interface ListOptions {
  json?: boolean;
  refresh?: boolean;
}

function windowJson(w: UsageWindow | null | undefined, now: Date) {
  if (!w) return null;
  return { usedPercent: w.usedPercent, remainingPercent: remainingPercent(w, now), resetsAt: w.resetsAt };
}

export function accountJson(n: NumberedAccount, reg: Registry, now: Date) {
  const a = n.account;
  return {
    id: a.id,
    number: n.number,
    kind: a.kind,
    email: a.email,
    alias: a.alias,
    label: n.label,
    plan: a.plan,
    active: reg.activeId === a.id,
    fallback: reg.fallback.keyId === a.id,
    workspace: a.kind === 'chatgpt' ? { id: a.chatgptAccountId ?? null, title: a.workspaceTitle ?? null } : null,
    keyMask: a.kind === 'apikey' ? (a.keyMask ?? null) : null,
    usage: {
      fiveHour: windowJson(a.usage?.fiveHour, now),
      weekly: windowJson(a.usage?.weekly, now),
      fetchedAt: a.usage?.fetchedAt ?? null,
      source: a.usage?.source ?? null,
      error: a.usage?.error ?? null,
    },
    loginRequired: a.loginRequired ?? null,
    lastActivityAt: a.lastActivityAt,
  };
}

export async function listCommand(app: Needs, _args: unknown, opts: ListOptions): Promise<number> {
  // Without --refresh a read command: no network call, nothing written but credentials Codex wrote.
  const view = await syncedView(app, opts.refresh ? { identify: true } : { readOnly: true });
  let reg = view.reg;
  const unknown = view.live.kind === 'unknown' ? view.live : null;
  if (opts.refresh && reg.accounts.some((a) => a.kind === 'chatgpt')) {
    const { startSpinner } = await import('../ui/spinner.js');
    const { refreshUsage } = await import('../services/usage.js');
    const total = reg.accounts.filter((a) => a.kind === 'chatgpt').length;
    const spinner = startSpinner(app.ctx.stderr, `Fetching usage of ${total} account${total === 1 ? '' : 's'}…`, true);
    try {
      const { untilInterrupted } = await import('../platform/interrupt.js');
      await untilInterrupted(refreshUsage(app, reg.accounts, (done, n) => spinner.update(`Fetching usage… ${done}/${n}`)), 'Cancelled; the usage was not refreshed.');
    } finally {
      spinner.stop();
    }
    reg = await app.registry.load();
    if (unknown) applySync(reg, unknown, app.now());
  } else {
    // Without --refresh: cached values, plus what Codex logged itself for the active account.
    const { sessionUsageOfActive } = await import('../services/usage.js');
    const seen = await sessionUsageOfActive(app, reg);
    const acc = seen ? reg.accounts.find((a) => a.id === seen.id) : undefined;
    if (seen && acc) {
      if (seen.usage) acc.usage = seen.usage;
      if (seen.lastEventAt && (!acc.lastActivityAt || Date.parse(seen.lastEventAt) > Date.parse(acc.lastActivityAt))) acc.lastActivityAt = seen.lastEventAt;
    }
  }
  const now = app.now();
  const groups = orderAccounts(reg.accounts, reg.nextNumber);
  const { peekGatewaySettings } = await import('../gateway/peek.js');
  const gw = peekGatewaySettings(app.paths.home);
  const gateway = gw?.enabled ? { enabled: true, port: gw.port, rotate: gw.rotate, serving: reg.activeId } : null;
  if (opts.json) {
    app.out.document({
      active: reg.activeId,
      gateway,
      ...(unknown ? { unknownLive: { kind: 'apikey', keyMask: unknown.keyMask, hint: 'run "codex-auth import" to identify it' } } : {}),
      accounts: groups.flatMap((g) => g.members.map((m) => accountJson(m, reg, now))),
    });
    return 0;
  }
  if (reg.accounts.length === 0 && !unknown) {
    app.out.info('No accounts yet. Add one with "codex-auth login", "codex-auth import PATH" or "codex-auth add-api-key".');
    return 0;
  }
  app.out.data(renderTable(app, reg, groups, now, unknown));
  if (unknown) app.out.info(unknownKeyMessage(unknown));
  if (gateway) {
    const serving = reg.accounts.find((a) => a.id === reg.activeId);
    app.out.info(`Gateway on: Codex goes through codex-auth's gateway, which serves from ${serving ? describeAccount(serving) : 'no account'} (codex-auth gateway status).`);
  }
  return 0;
}

function renderTable(app: Needs, reg: Registry, groups: ReturnType<typeof orderAccounts>, now: Date, unknown: { keyMask: string } | null): string {
  const c = app.out.out;
  const table: Cell[][] = [['', '#', 'ACCOUNT', 'PLAN', '5H', 'WEEKLY', 'LAST ACTIVITY'].map((h) => c.bold(h))];
  const cell = (a: Account, w: 'fiveHour' | 'weekly'): string => {
    if (a.kind === 'apikey') return '-';
    if (a.loginRequired) return c.red('login');
    if (a.usage?.error) return c.red(a.usage.error);
    const u = usageCell(a.usage?.[w], now);
    if (u.remaining === null) return u.text;
    return u.remaining < 10 ? c.red(u.text) : u.remaining < 30 ? c.yellow(u.text) : c.green(u.text);
  };
  const row = (m: NumberedAccount, name: string): Cell[] => {
    const a = m.account;
    const active = reg.activeId === a.id;
    let tags = '';
    if (reg.fallback.keyId === a.id) tags += ` ${c.cyan('[fallback]')}`;
    if (a.loginRequired) tags += ` ${c.red('[login required]')}`;
    const b = active ? c.bold : (x: string) => x;
    // The name (email, workspace, alias) is what a narrow terminal shortens; the tags stay.
    const account: Cell = { text: b(name), tail: tags ? b(tags) : '' };
    const rest = [String(m.number), account, a.plan, cell(a, 'fiveHour'), cell(a, 'weekly'), relativeTime(a.lastActivityAt, now)].map((x) => (typeof x === 'string' ? b(x) : x));
    return [active ? c.green('*') : '', ...rest];
  };
  for (const g of groups) {
    if (g.members.length === 1) {
      const m = g.members[0] as NumberedAccount;
      const a = m.account;
      const extra = a.alias ? a.alias : a.kind === 'apikey' ? accountLabel(a) : null;
      table.push(row(m, extra && extra !== g.title ? `${g.title} (${extra})` : g.title));
    } else {
      table.push(['', '', g.title, '', '', '', '']);
      for (const m of g.members) table.push(row(m, `  ${m.label}`));
    }
  }
  // Codex's live login, when codex-auth does not know it: never shown as another account.
  if (unknown) table.push([c.green('*'), '', `${unknown.keyMask} ${c.yellow('[unknown: codex-auth import]')}`, 'API_KEY', '-', '-', '-'].map((x, i) => (i === 0 ? x : c.bold(x))));
  // On a terminal the table fits its width (COLUMNS first, as most CLIs do); pipes and files get
  // every value in full.
  if (!app.out.stdoutIsTTY) return renderColumns(table);
  const cols = Number.parseInt(app.env.COLUMNS ?? '', 10);
  const width = cols > 0 ? cols : app.out.columns;
  return renderColumns(table, width ? { width, shrink: [ACCOUNT_COLUMN] } : {});
}
