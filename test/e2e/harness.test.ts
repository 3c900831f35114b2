/**
 * Proves the test harness against the REAL Codex CLI (`@openai/codex`, dev dependency): the auth.json
 * documents built by test/support/jwt.ts are accepted, and the fake OpenAI in
 * test/support/fake-openai.ts answers everything `codex exec` needs in both auth modes, including a
 * usage-limit 429 and a token refresh through CODEX_REFRESH_TOKEN_URL_OVERRIDE.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeOpenAI } from '../support/fake-openai.js';
import type { RateLimits } from '../support/fake-openai.js';
import {
  CODEX_BIN,
  CODEX_VERSION,
  codexAvailable,
  codexExecArgs,
  codexSandbox,
  readAuthJson,
  rolloutLines,
  runCodex,
} from '../support/codex.js';
import type { RunResult } from '../support/codex.js';
import { apiKeyAuth, chatgptAuth, codexMaskedKey, decodeJwt, fakeApiKey, nowSeconds } from '../support/jwt.js';

const HAVE_CODEX = codexAvailable();
if (!HAVE_CODEX) {
  console.warn(`\n*** SKIPPING real-Codex harness tests: ${CODEX_BIN} is missing (npm install installs @openai/codex). ***\n`);
}

/** Everything a failed expectation needs to explain itself. */
function explain(r: RunResult): string {
  return `exit=${String(r.code)} signal=${String(r.signal)} timedOut=${String(r.timedOut)} (${r.durationMs} ms)\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

function writeAuth(codexHome: string, doc: object): void {
  writeFileSync(join(codexHome, 'auth.json'), `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
}

function sandbox(): { home: string; codexHome: string } {
  return codexSandbox(onTestFinished);
}

describe.skipIf(!HAVE_CODEX)('harness drives the real Codex CLI', () => {
  let fake: FakeOpenAI;

  beforeAll(async () => {
    fake = await FakeOpenAI.start();
  });
  afterAll(async () => {
    await fake?.close();
  });

  it('runs the pinned Codex version', async () => {
    const sb = sandbox();
    const r = await runCodex(['--version'], sb);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout.trim()).toBe(`codex-cli ${CODEX_VERSION}`);
  });

  it('(a) login --with-api-key writes the key; login status masks it', async () => {
    const sb = sandbox();
    const key = fakeApiKey('harness-a');

    const before = await runCodex(['login', 'status'], sb);
    expect(before.code, explain(before)).toBe(1);
    expect(before.stderr).toContain('Not logged in');

    const login = await runCodex(['login', '--with-api-key'], { ...sb, input: `${key}\n` });
    expect(login.code, explain(login)).toBe(0);
    const authPath = join(sb.codexHome, 'auth.json');
    expect(JSON.parse(readFileSync(authPath, 'utf8'))).toEqual(apiKeyAuth(key));
    expect(statSync(authPath).mode & 0o777).toBe(0o600);

    const status = await runCodex(['login', 'status'], sb);
    expect(status.code, explain(status)).toBe(0);
    // Codex 0.169.0 prints the status on stderr, stdout stays empty.
    expect(status.stderr).toContain(`API key configured - ${codexMaskedKey(key)}`);
    expect(status.stdout + status.stderr).not.toContain(key);
  });

  it('(b) accepts a ChatGPT auth.json of unsigned JWTs and runs exec against the fake', async () => {
    const sb = sandbox();
    const doc = chatgptAuth({ email: 'bea@example.com', userId: 'user-bea', accountId: 'acct-bea', plan: 'plus' });
    writeAuth(sb.codexHome, doc);

    const status = await runCodex(['login', 'status'], sb);
    expect(status.code, explain(status)).toBe(0);
    expect(status.stderr).toContain('Logged in using ChatGPT');

    const r = await runCodex(codexExecArgs(fake, { mode: 'chatgpt' }), sb);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toContain('hi');

    const posts = fake.requests({ method: 'POST', path: '/backend-api/codex/responses', bearer: doc.tokens.access_token });
    expect(posts.length).toBeGreaterThanOrEqual(1);
    const post = posts[0];
    expect(post?.headers.authorization).toBe(`Bearer ${doc.tokens.access_token}`);
    expect(post?.headers['chatgpt-account-id']).toBe('acct-bea');
    expect(post?.headers['content-encoding']).toBe('zstd');
    expect(post?.port).toBe('openai');
    // The workspace check went to chatgpt_base_url, on the other port.
    expect(fake.requests({ path: '/backend-api/wham/accounts/check', bearer: doc.tokens.access_token })[0]?.port).toBe('chatgpt');
    expect(fake.unknownRequests().map((q) => `${q.method} ${q.url}`)).toEqual([]);
    // No refresh was needed for an unexpired token, and auth.json is untouched.
    expect(readAuthJson(sb.codexHome)).toEqual(doc);
  });

  it('(c) API-key mode exec sends the key as bearer to openai_base_url', async () => {
    const sb = sandbox();
    const key = fakeApiKey('harness-c');
    fake.addApiKey(key, { email: 'carol@example.com' });
    writeAuth(sb.codexHome, apiKeyAuth(key));

    const r = await runCodex(codexExecArgs(fake, { mode: 'apikey' }), sb);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toContain('hi');
    const post = fake.requests({ method: 'POST', path: '/v1/responses', bearer: key })[0];
    expect(post?.headers.authorization).toBe(`Bearer ${key}`);
    expect(post?.headers['content-encoding']).toBeUndefined();
    const body: unknown = JSON.parse(post?.body.toString('utf8') ?? 'null');
    expect(body).toMatchObject({ stream: true });
    expect(fake.bearerTokensSeen('/v1/responses')).toContain(key);
  });

  it('(d) a 429 usage_limit_reached fails exec and lands in the rollout as token_count', async () => {
    const sb = sandbox();
    const doc = chatgptAuth({ email: 'dan@example.com', userId: 'user-dan', accountId: 'acct-dan', plan: 'plus' });
    writeAuth(sb.codexHome, doc);
    const now = nowSeconds();
    const limits: RateLimits = {
      primary: { usedPercent: 100, windowMinutes: 300, resetAt: now + 1800 },
      secondary: { usedPercent: 64, windowMinutes: 10080, resetAt: now + 300_000 },
    };
    fake.setResponses(doc.tokens.access_token, { usageLimit: { planType: 'plus', resetsAt: now + 1800 }, rateLimits: limits });

    const r = await runCodex(codexExecArgs(fake, { mode: 'chatgpt' }), sb);
    expect(r.code, explain(r)).not.toBe(0);
    expect(r.stderr).toMatch(/hit your usage limit/i);
    // Codex does not retry a usage-limit 429.
    expect(fake.requests({ method: 'POST', path: '/backend-api/codex/responses', bearer: doc.tokens.access_token })).toHaveLength(1);

    const events = rolloutLines(sb.codexHome)
      .filter((l) => l.type === 'event_msg')
      .map((l) => l.payload as Record<string, unknown>);
    const tokenCount = events.find((p) => p.type === 'token_count');
    expect(tokenCount, JSON.stringify(events.map((p) => p.type))).toBeDefined();
    expect(tokenCount?.rate_limits).toMatchObject({
      primary: { used_percent: 100, window_minutes: 300, resets_at: now + 1800 },
      secondary: { used_percent: 64, window_minutes: 10080, resets_at: now + 300_000 },
    });
    const done = events.find((p) => p.type === 'task_complete');
    expect(done?.error).toMatchObject({ codex_error_info: 'usage_limit_exceeded' });
  });

  it('(e) refreshes an expired access token through the fake and stores the rotated refresh token', async () => {
    const sb = sandbox();
    const claims = { email: 'eve@example.com', userId: 'user-eve', accountId: 'acct-eve', plan: 'pro' };
    const doc = fake.addChatgptAccount({ ...claims, accessExp: nowSeconds() - 600, lastRefresh: '2026-01-01T00:00:00Z' });
    writeAuth(sb.codexHome, doc);
    const oldRefresh = doc.tokens.refresh_token;

    const r = await runCodex(codexExecArgs(fake, { mode: 'chatgpt' }), {
      ...sb,
      env: { CODEX_REFRESH_TOKEN_URL_OVERRIDE: fake.refreshUrl },
    });
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toContain('hi');

    const attempts = fake.refreshAttempts().filter((a) => a.refreshToken === oldRefresh);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]?.ok).toBe(true);
    const refreshReq = fake.requests({ method: 'POST', path: '/oauth/token' }).find((q) => q.body.toString('utf8').includes(oldRefresh));
    expect(JSON.parse(refreshReq?.body.toString('utf8') ?? 'null')).toEqual({
      client_id: 'app_EMoamEEZ73f0CkXaXp7hrann',
      grant_type: 'refresh_token',
      refresh_reason: 'proactive_expiry',
      refresh_token: oldRefresh,
    });

    const latest = fake.latestTokens('acct-eve');
    expect(latest.refresh_token).not.toBe(oldRefresh);
    const live = readAuthJson(sb.codexHome);
    expect(live.tokens).toEqual({ ...latest, account_id: 'acct-eve' });
    expect(live.auth_mode).toBe('chatgpt');
    expect(live.last_refresh).not.toBe('2026-01-01T00:00:00Z');
    expect(Date.parse(String(live.last_refresh))).toBeGreaterThan(Date.now() - 60_000);
    expect(decodeJwt(latest.access_token).exp).toBeGreaterThan(nowSeconds());
    // The model call used the new access token, never the expired one.
    expect(fake.bearerTokensSeen('/backend-api/codex/responses')).toContain(latest.access_token);
    expect(fake.requests({ method: 'POST', path: '/backend-api/codex/responses', bearer: doc.tokens.access_token })).toEqual([]);

    // Rotation: the old refresh token is now spent.
    const reuse = await fetch(fake.refreshUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: 'app_EMoamEEZ73f0CkXaXp7hrann', grant_type: 'refresh_token', refresh_token: oldRefresh }),
    });
    expect(reuse.status).toBe(401);
    expect(await reuse.json()).toMatchObject({ error: { code: 'refresh_token_reused' } });
    expect(fake.refreshTokenState(latest.refresh_token)).toBe('current');
  });

  it('codex logout revokes the refresh token at <refresh origin>/oauth/revoke', async () => {
    const sb = sandbox();
    const doc = fake.addChatgptAccount({ email: 'fay@example.com', userId: 'user-fay', accountId: 'acct-fay' });
    writeAuth(sb.codexHome, doc);
    const r = await runCodex(['logout'], { ...sb, env: { CODEX_REFRESH_TOKEN_URL_OVERRIDE: fake.refreshUrl } });
    expect(r.code, explain(r)).toBe(0);
    expect(fake.revokedTokens()).toContain(doc.tokens.refresh_token);
    expect(fake.refreshTokenState(doc.tokens.refresh_token)).toBe('invalidated');
  });
});
