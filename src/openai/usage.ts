/** The ChatGPT usage API (`GET {chatgpt base}/wham/usage`, CODEX-FACTS.md §5). */
import { normalizePlan } from '../domain/plans.js';
import type { UsageWindow } from '../domain/types.js';
import { type HttpClient, isHttpError, parseJson } from '../platform/http.js';

export const DEFAULT_CHATGPT_BASE_URL = 'https://chatgpt.com/backend-api';

export function chatgptBaseUrl(env: NodeJS.ProcessEnv, configured: string | null): string {
  return (env.CODEX_AUTH_CHATGPT_BASE_URL || configured || DEFAULT_CHATGPT_BASE_URL).replace(/\/+$/, '');
}

export type UsageResult =
  | { ok: true; plan: string | null; fiveHour: UsageWindow | null; weekly: UsageWindow | null; limitReached: boolean }
  | { ok: false; short: string; message: string; status?: number };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** One window of the API answer, or null when absent or unusable. */
export function parseWindow(w: unknown, now: Date): (UsageWindow & { seconds: number | null }) | null {
  if (!isObject(w)) return null;
  const used = num(w.used_percent);
  if (used === null) return null;
  const seconds = num(w.limit_window_seconds);
  const resetAt = num(w.reset_at);
  const after = num(w.reset_after_seconds);
  const resetsAt = resetAt !== null ? new Date(resetAt * 1000) : after !== null ? new Date(now.getTime() + after * 1000) : null;
  return {
    usedPercent: Math.max(0, Math.min(100, used)),
    resetsAt: resetsAt ? resetsAt.toISOString() : null,
    windowMinutes: seconds !== null ? Math.round(seconds / 60) : null,
    seconds,
  };
}

/**
 * Map the answer's windows by their length, not their position: up to a day is the 5-hour window,
 * longer is the weekly one. A window without a length falls back to its position.
 */
export function parseUsageBody(body: unknown, now: Date): UsageResult {
  if (!isObject(body)) return { ok: false, short: 'bad answer', message: 'the usage API answered something that is not a JSON object' };
  const rl = isObject(body.rate_limit) ? body.rate_limit : {};
  let fiveHour: UsageWindow | null = null;
  let weekly: UsageWindow | null = null;
  const place = (w: ReturnType<typeof parseWindow>, position: 'primary' | 'secondary') => {
    if (!w) return;
    const { seconds, ...win } = w;
    const short = seconds !== null ? seconds <= 86_400 : position === 'primary';
    if (short && !fiveHour) fiveHour = win;
    else if (!short && !weekly) weekly = win;
  };
  place(parseWindow(rl.primary_window, now), 'primary');
  place(parseWindow(rl.secondary_window, now), 'secondary');
  const plan = typeof body.plan_type === 'string' ? normalizePlan(body.plan_type) : null;
  return { ok: true, plan: plan === 'unknown' ? null : plan, fiveHour, weekly, limitReached: rl.limit_reached === true };
}

export async function fetchUsage(
  http: HttpClient,
  baseUrl: string,
  creds: { accessToken: string; accountId: string | null },
  now: () => Date,
  opts: { timeoutMs?: number } = {},
): Promise<UsageResult> {
  let res;
  try {
    res = await http.request({
      method: 'GET',
      url: `${baseUrl}/wham/usage`,
      headers: {
        authorization: `Bearer ${creds.accessToken}`,
        ...(creds.accountId ? { 'chatgpt-account-id': creds.accountId } : {}),
        accept: 'application/json',
      },
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    });
  } catch (e) {
    if (isHttpError(e)) return { ok: false, short: e.short, message: e.message };
    throw e;
  }
  if (res.status !== 200) return { ok: false, short: String(res.status), status: res.status, message: `the usage API answered HTTP ${res.status}` };
  const body = parseJson(res.text);
  if (body === undefined) return { ok: false, short: 'bad answer', message: 'the usage API answered with something that is not JSON' };
  return parseUsageBody(body, now());
}
