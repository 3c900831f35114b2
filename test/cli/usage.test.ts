/** list --refresh and refresh, in-process, against the fake OpenAI (usage API and token endpoint). */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliSuite, fakeEnv } from '../support/cli-suite.js';
import { type ChatgptAuthDoc, nowSeconds } from '../support/jwt.js';

const { sb, fake, secrets } = cliSuite({ env: (f) => ({ ...fakeEnv.all(f), CODEX_AUTH_HTTP_TIMEOUT_MS: '1000' }) });
let n = 0;

function account(plan = 'plus', opts: { accessExp?: number } = {}): ChatgptAuthDoc {
  n += 1;
  const doc = fake.addChatgptAccount({ email: `u${n}@example.com`, userId: `user-${n}`, accountId: `acc-${n}`, plan, ...opts });
  secrets.push(doc.tokens.refresh_token, doc.tokens.access_token);
  return doc;
}

async function importDocs(...docs: ChatgptAuthDoc[]): Promise<void> {
  const files = docs.map((d, i) => {
    const p = path.join(sb.root, `in-${i}.json`);
    fs.writeFileSync(p, JSON.stringify(d));
    return p;
  });
  const r = await sb.run(['import', ...files]);
  expect(r.code).toBe(0);
}

function storedOf(doc: ChatgptAuthDoc): Record<string, any> {
  const id = `chatgpt__${doc.tokens.id_token ? JSON.parse(Buffer.from(doc.tokens.id_token.split('.')[1] as string, 'base64url').toString())['https://api.openai.com/auth'].chatgpt_user_id : ''}__${doc.tokens.account_id}`;
  return JSON.parse(fs.readFileSync(path.join(sb.codexHome, 'codex-auth', 'accounts', `${id}.json`), 'utf8'));
}

describe('list --refresh', () => {
  it('shows the usage API values, mapped by window length, and caches them', async () => {
    const a = account('plus');
    const now = nowSeconds();
    // Windows given in swapped positions: mapping must follow their length.
    fake.setUsage('acc-' + n, {
      planType: 'pro',
      primary: { usedPercent: 30, limitWindowSeconds: 604800, resetAt: now + 3 * 86400 },
      secondary: { usedPercent: 42, limitWindowSeconds: 18000, resetAt: now + 3600 },
    });
    await importDocs(a);
    const r = await sb.run(['list', '--refresh', '--json']);
    expect(r.code).toBe(0);
    const acc = JSON.parse(r.stdout).accounts[0];
    expect(acc.usage.fiveHour).toEqual({ usedPercent: 42, remainingPercent: 58, resetsAt: new Date((now + 3600) * 1000).toISOString() });
    expect(acc.usage.weekly).toMatchObject({ usedPercent: 30, remainingPercent: 70 });
    expect(acc.usage.source).toBe('api');
    expect(acc.plan).toBe('pro');
    const seen = fake.requests({ path: '/backend-api/wham/usage' }).at(-1);
    expect(seen?.headers.authorization).toBe(`Bearer ${a.tokens.access_token}`);
    expect(seen?.headers['chatgpt-account-id']).toBe(a.tokens.account_id);
    // Cached: a plain list shows them without asking again.
    const before = fake.requests({ path: '/backend-api/wham/usage' }).length;
    const table = await sb.run(['list']);
    expect(table.stdout).toMatch(/58% · \d\d:\d\d/);
    expect(fake.requests({ path: '/backend-api/wham/usage' }).length).toBe(before);
  });

  it('gives each failing account a short reason and never fails the whole list', async () => {
    const ok = account();
    fake.setUsage(ok.tokens.account_id, { primary: { usedPercent: 10 }, secondary: { usedPercent: 20 } });
    const unauthorized = account();
    fake.setUsage(unauthorized.tokens.account_id, { fault: { status: 401 } });
    const broken = account();
    fake.setUsage(broken.tokens.account_id, { fault: { status: 500 } });
    const hanging = account();
    fake.setUsage(hanging.tokens.account_id, { fault: { hang: true } });
    const garbage = account();
    fake.setUsage(garbage.tokens.account_id, { fault: { garbage: true } });
    const nulls = account();
    fake.setUsage(nulls.tokens.account_id, { primary: null, secondary: null });
    await importDocs(ok, unauthorized, broken, hanging, garbage, nulls);
    const r = await sb.run(['list', '--refresh', '--json']);
    expect(r.code).toBe(0);
    const by = Object.fromEntries(JSON.parse(r.stdout).accounts.map((x: any) => [x.email, x]));
    const email = (d: ChatgptAuthDoc) => `u${d.tokens.account_id.slice(4)}@example.com`;
    expect(by[email(ok)].usage).toMatchObject({ fiveHour: { remainingPercent: 90 }, weekly: { remainingPercent: 80 }, error: null });
    expect(by[email(unauthorized)].usage.error).toBe('401');
    expect(by[email(broken)].usage.error).toBe('500');
    expect(by[email(hanging)].usage.error).toBe('timeout');
    expect(by[email(garbage)].usage.error).toBe('bad answer');
    expect(by[email(nulls)].usage).toMatchObject({ fiveHour: null, weekly: null, error: null });
    const table = (await sb.run(['list'])).stdout;
    expect(table).toMatch(new RegExp(`${email(unauthorized)}\\s+plus\\s+401\\s+401`));
    expect(table).toMatch(new RegExp(`${email(hanging)}\\s+plus\\s+timeout\\s+timeout`));
    expect(table).toMatch(new RegExp(`${email(nulls)}\\s+plus\\s+-\\s+-`));
  });

  it('refreshes an access token that expires within 5 minutes before asking for usage', async () => {
    const a = account('plus', { accessExp: nowSeconds() + 60 });
    fake.setUsage(a.tokens.account_id, { primary: { usedPercent: 5 } });
    await importDocs(a);
    const r = await sb.run(['list', '--refresh', '--json']);
    expect(r.code).toBe(0);
    const latest = fake.latestTokens(a.tokens.account_id);
    secrets.push(latest.refresh_token, latest.access_token);
    expect(latest.refresh_token).not.toBe(a.tokens.refresh_token);
    expect(fake.requests({ path: '/backend-api/wham/usage' }).at(-1)?.bearer).toBe(latest.access_token);
    expect(storedOf(a).tokens.refresh_token).toBe(latest.refresh_token);
  });
});

describe('refresh', () => {
  it('refreshes only tokens close to expiry (all with --force), updating the live auth.json of the active account', async () => {
    const soon = account('plus', { accessExp: nowSeconds() + 120 });
    const later = account('pro', { accessExp: nowSeconds() + 7200 });
    sb.writeAuth(soon);
    await importDocs(later);
    let r = await sb.run(['refresh']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^refreshed u\d+@example\.com \(plus\)$/m);
    expect(r.stdout).toMatch(/^fresh\s+u\d+@example\.com \(pro\)$/m);
    const t1 = fake.latestTokens(soon.tokens.account_id);
    secrets.push(t1.refresh_token, t1.access_token);
    // The live auth.json belongs to that account and held the token we used: it was updated, unknown fields kept.
    const live = JSON.parse(sb.readAuth() ?? '');
    expect(live.tokens.refresh_token).toBe(t1.refresh_token);
    expect(live.tokens.id_token).toBe(t1.id_token);
    expect(live.auth_mode).toBe('chatgpt');
    expect(Date.parse(live.last_refresh)).toBeGreaterThan(Date.parse(soon.last_refresh));
    r = await sb.run(['refresh', '--force', '--json']);
    expect(JSON.parse(r.stdout).results.map((x: any) => x.status)).toEqual(['refreshed', 'refreshed']);
    for (const d of [soon, later]) {
      const t = fake.latestTokens(d.tokens.account_id);
      secrets.push(t.refresh_token, t.access_token);
    }
    // Never a reused refresh token.
    expect(fake.refreshAttempts().filter((x) => x.error === 'refresh_token_reused')).toEqual([]);
  });

  it('marks an account whose login is gone as "login required" and never sends its old token again', async () => {
    const a = account('plus', { accessExp: nowSeconds() - 10 });
    await importDocs(a);
    fake.invalidateRefreshTokens(a.tokens.account_id);
    const r = await sb.run(['refresh']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^login required u\d+@example\.com \(plus\)/m);
    expect(r.stderr).toContain('need a new login');
    const j = JSON.parse((await sb.run(['list', '--json'])).stdout);
    expect(j.accounts[0].loginRequired).toBeTruthy();
    expect((await sb.run(['list'])).stdout).toMatch(/\[login required\]\s+plus\s+login\s+login/);
  });

  it('does not reuse a refresh token rotated away when an old copy comes back', async () => {
    const a = account('plus', { accessExp: nowSeconds() - 10 });
    await importDocs(a);
    expect((await sb.run(['refresh'])).code).toBe(0);
    const t1 = fake.latestTokens(a.tokens.account_id);
    secrets.push(t1.refresh_token, t1.access_token);
    // An old copy (same last_refresh ordering aside) is imported again: the stored newer one wins.
    const p = path.join(sb.root, 'old.json');
    fs.writeFileSync(p, JSON.stringify(a));
    const imp = await sb.run(['import', p]);
    expect(imp.stdout).toContain('the stored copy is newer');
    const attempts = fake.refreshAttempts().length;
    expect((await sb.run(['refresh', '--force'])).code).toBe(0);
    const tried = fake.refreshAttempts().slice(attempts).map((x) => x.refreshToken);
    expect(tried).toEqual([t1.refresh_token]);
    const t2 = fake.latestTokens(a.tokens.account_id);
    secrets.push(t2.refresh_token, t2.access_token);
  });
});

describe('list without --refresh', () => {
  function rollout(lines: object[], at: Date): void {
    const y = String(at.getFullYear());
    const m = String(at.getMonth() + 1).padStart(2, '0');
    const d = String(at.getDate()).padStart(2, '0');
    const dir = path.join(sb.codexHome, 'sessions', y, m, d);
    fs.mkdirSync(dir, { recursive: true });
    const stamp = at.toISOString().slice(0, 19).replace(/:/g, '-');
    fs.writeFileSync(path.join(dir, `rollout-${stamp}-0199a0b0-0000-7000-8000-000000000001.jsonl`), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  }
  const tokenCount = (at: Date, used: number) => ({
    timestamp: at.toISOString(),
    type: 'event_msg',
    payload: { type: 'token_count', info: null, rate_limits: { primary: { used_percent: used, window_minutes: 300, resets_at: Math.floor(at.getTime() / 1000) + 3600 }, secondary: { used_percent: 12, window_minutes: 10080, resets_at: Math.floor(at.getTime() / 1000) + 86400 } } },
  });

  it('shows the newest usage Codex logged for the active account, ignoring events from before it was active', async () => {
    const a = account();
    sb.writeAuth(a);
    await sb.run(['list']); // a becomes active now
    const later = new Date(Date.now() + 5_000);
    rollout([{ timestamp: later.toISOString(), type: 'session_meta', payload: { id: '0199a0b0-0000-7000-8000-000000000001' } }, tokenCount(new Date(Date.now() - 3_600_000), 99), tokenCount(later, 37)], later);
    const j = JSON.parse((await sb.run(['list', '--json'], { now: new Date(later.getTime() + 1000) })).stdout);
    expect(j.accounts[0].usage).toMatchObject({ source: 'session', fiveHour: { usedPercent: 37, remainingPercent: 63 }, weekly: { usedPercent: 12 } });
    expect(j.accounts[0].lastActivityAt).toBe(later.toISOString());
    expect(fake.requests({ path: '/backend-api/wham/usage' }).filter((r) => r.bearer === a.tokens.access_token)).toEqual([]);
  });
});

