/** `codex-auth refresh [QUERY] [--force]`: refresh OAuth tokens that are about to expire. */
import type { Services, Uses } from '../cli/app.js';
import { describeAccount } from '../domain/accounts.js';
import { numbered } from '../domain/view.js';
import { mapLimit } from '../platform/map-limit.js';
import { selectAccount } from '../services/select.js';
import type { Account } from '../domain/types.js';
import { loadSynced } from '../services/sync.js';
import { CliError } from '../errors.js';
import { ensureFreshTokens, type FreshResult } from '../services/tokens.js';

/** What this command gets of the factory: its `needs` in src/cli/commands.ts. */
type Needs = Uses<Services | 'out'>;

export interface RefreshOptions {
  force?: boolean;
  json?: boolean;
}

export async function refreshCommand(app: Needs, args: { query?: string }, opts: RefreshOptions): Promise<number> {
  const query = args.query;
  const reg = await loadSynced(app);
  let targets: Account[];
  if (query !== undefined) {
    const a = await selectAccount(app, reg, query, { verb: 'refresh', command: 'codex-auth refresh' });
    targets = [a];
  } else {
    targets = numbered(reg.accounts, reg.nextNumber).map((m) => m.account);
  }
  targets = targets.filter((a) => a.kind === 'chatgpt');
  if (targets.length === 0) {
    if (app.out.json) app.out.document({ results: [] });
    app.out.info(query !== undefined ? 'API keys have no tokens to refresh.' : 'There are no ChatGPT accounts to refresh.');
    return 0;
  }
  // Every account's outcome is awaited, failures included: one account's error must not end the
  // process while another's refresh is in flight (its rotated token would be lost with it).
  const results = await mapLimit(targets, 4, async (a) => {
    let result: FreshResult;
    try {
      result = await ensureFreshTokens(app, a.id, { force: Boolean(opts.force) });
    } catch (e) {
      const message = e instanceof CliError ? e.message.replace(/\.$/, '') : `unexpected error: ${(e as Error).message}`;
      result = { ok: false, permanent: false, short: 'error', message };
    }
    return { account: a, result };
  });
  let failed = false;
  const rows = results.map(({ account, result }) => {
    if (!result.ok) failed = true;
    const status = result.ok ? (result.refreshed ? 'refreshed' : 'fresh') : result.permanent ? 'login required' : result.skipped ? 'skipped' : 'failed';
    return { account, status, reason: result.ok ? null : result.message };
  });
  if (app.out.json) {
    app.out.document({ results: rows.map((r) => ({ id: r.account.id, email: r.account.email, status: r.status, reason: r.reason })) });
  } else {
    const c = app.out.out;
    for (const r of rows) {
      const tag = r.status === 'refreshed' ? c.green('refreshed') : r.status === 'fresh' ? c.dim('fresh    ') : r.status === 'skipped' ? c.yellow('skipped  ') : c.red(r.status);
      app.out.data(`${tag} ${describeAccount(r.account)}${r.reason ? ` (${r.reason})` : ''}`);
    }
  }
  if (rows.some((r) => r.status === 'login required')) {
    app.out.warn('Accounts marked "login required" need a new login: run "codex-auth login" and log in to them again.');
  }
  return failed ? 1 : 0;
}
