/** Fetching the usage windows of ChatGPT accounts, concurrently and bounded, into the registry cache. */
import type { Deps } from './deps.js';
import { CliError } from '../errors.js';
import type { Account, UsageSnapshot } from '../domain/types.js';
import { ensureFreshTokens } from './tokens.js';

export const DEFAULT_USAGE_CONCURRENCY = 8;

export interface UsageOutcome {
  id: string;
  ok: boolean;
  short?: string;
  message?: string;
  plan?: string | null;
  fiveHour?: UsageSnapshot['fiveHour'];
  weekly?: UsageSnapshot['weekly'];
  limitReached?: boolean;
}

function concurrency(env: NodeJS.ProcessEnv): number {
  const n = Number(env.CODEX_AUTH_USAGE_CONCURRENCY);
  return Number.isInteger(n) && n > 0 && n <= 64 ? n : DEFAULT_USAGE_CONCURRENCY;
}

export async function fetchAccountUsage(app: Deps, account: Account): Promise<UsageOutcome> {
  const { chatgptBaseUrl, fetchUsage } = await import('../openai/usage.js');
  const { upstreamOf } = await import('../gateway/peek.js');
  // While the gateway is on, config.toml points Codex at it: codex-auth asks ChatGPT (or what was configured before).
  const base = chatgptBaseUrl(app.env, upstreamOf(app.paths.home, (await app.config()).chatgptBaseUrl));
  const http = await app.http();
  let fresh = await ensureFreshTokens(app, account.id);
  if (!fresh.ok) return { id: account.id, ok: false, short: fresh.short, message: fresh.message };
  const call = (tokens: { access_token: string; account_id?: string | null }) =>
    fetchUsage(http, base, { accessToken: tokens.access_token, accountId: account.chatgptAccountId ?? tokens.account_id ?? null }, () => app.now());
  let res = await call(fresh.auth.tokens ?? { access_token: '' });
  if (!res.ok && res.status === 401 && !fresh.refreshed) {
    // The access token may have been revoked early: refresh once and try again.
    fresh = await ensureFreshTokens(app, account.id, { force: true });
    if (!fresh.ok) return { id: account.id, ok: false, short: fresh.short, message: fresh.message };
    res = await call(fresh.auth.tokens ?? { access_token: '' });
  }
  if (!res.ok) return { id: account.id, ok: false, short: res.short, message: res.message };
  return { id: account.id, ok: true, plan: res.plan, fiveHour: res.fiveHour, weekly: res.weekly, limitReached: res.limitReached };
}

/** Fetch usage for `accounts` (ChatGPT ones), bounded, then store the results in the registry. */
export async function refreshUsage(app: Deps, accounts: readonly Account[], onProgress?: (done: number, total: number) => void): Promise<UsageOutcome[]> {
  const { mapLimit } = await import('../platform/map-limit.js');
  const targets = accounts.filter((a) => a.kind === 'chatgpt');
  let done = 0;
  const outcomes = await mapLimit(targets, concurrency(app.env), async (a) => {
    let r: UsageOutcome;
    try {
      r = await fetchAccountUsage(app, a);
    } catch (e) {
      r = { id: a.id, ok: false, short: e instanceof CliError && e.code === 'locked' ? 'busy' : 'error', message: (e as Error).message };
    }
    onProgress?.(++done, targets.length);
    return r;
  });
  const fetchedAt = app.now().toISOString();
  await app.registry.update((reg) => {
    for (const o of outcomes) {
      const acc = reg.accounts.find((a) => a.id === o.id);
      if (!acc) continue;
      if (o.ok) {
        acc.usage = { fiveHour: o.fiveHour ?? null, weekly: o.weekly ?? null, fetchedAt, source: 'api', error: null };
        if (o.plan && o.plan !== acc.plan) acc.plan = o.plan;
      } else {
        acc.usage = { fiveHour: acc.usage?.fiveHour ?? null, weekly: acc.usage?.weekly ?? null, fetchedAt: acc.usage?.fetchedAt ?? fetchedAt, source: acc.usage?.source ?? 'api', error: o.short ?? 'error' };
      }
    }
  });
  return outcomes;
}

/**
 * The newest usage Codex itself logged for the active account (its session rollouts), when newer
 * than the cached API values: `list` shows it without a network call. Reads only the newest files.
 */
export async function sessionUsageOfActive(app: Deps, reg: { activeId: string | null; activeSince: string | null; accounts: Account[] }): Promise<{ id: string; usage: UsageSnapshot | null; lastEventAt: string | null; limited: boolean } | null> {
  const active = reg.accounts.find((a) => a.id === reg.activeId);
  if (!active || active.kind !== 'chatgpt' || !reg.activeSince) return null;
  const since = new Date(reg.activeSince);
  const s = await import('../codex/sessions.js');
  let events;
  try {
    events = s.readRecentEvents(app.paths.codexHome, { maxFiles: 4, since, initialTailBytes: 256 * 1024 });
  } catch (e) {
    app.report.debug(`could not read Codex's session logs: ${(e as Error).message}`);
    return null;
  }
  const latest = s.latestUsage(events, since, app.now());
  const usage = s.toUsageSnapshot(latest);
  const lastEventAt = [latest.rateLimits?.at, latest.usageLimit?.at].filter((d): d is Date => Boolean(d)).sort((a, b) => b.getTime() - a.getTime())[0];
  const cachedAt = active.usage?.fetchedAt ? Date.parse(active.usage.fetchedAt) : 0;
  return {
    id: active.id,
    usage: usage && Date.parse(usage.fetchedAt) > cachedAt ? usage : null,
    lastEventAt: lastEventAt ? lastEventAt.toISOString() : null,
    limited: latest.limited,
  };
}
