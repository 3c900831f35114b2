/**
 * Unit tests of the test-support harness itself: the JWT/auth.json builders and the fake OpenAI
 * (plain HTTP with fetch, no Codex). The real-Codex proof is test/e2e/harness.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CODEX_CLIENT_ID, FakeOpenAI, usageBody } from '../support/fake-openai.js';
import {
  AUTH_CLAIM,
  apiKeyAuth,
  chatgptAuth,
  codexMaskedKey,
  decodeJwt,
  fakeApiKey,
  makeJwt,
  nowSeconds,
} from '../support/jwt.js';

describe('jwt helpers', () => {
  it('makeJwt builds base64url(header).base64url(payload).sig that decodes back', () => {
    const token = makeJwt({ a: 1, nested: { b: 'x' } });
    const parts = token.split('.');
    expect(parts).toHaveLength(3);
    for (const p of parts) expect(p).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(JSON.parse(Buffer.from(parts[0] ?? '', 'base64url').toString('utf8'))).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    expect(decodeJwt(token)).toEqual({ a: 1, nested: { b: 'x' } });
  });

  it('chatgptAuth produces the auth.json Codex writes, with claims in both tokens', () => {
    const exp = nowSeconds() + 123;
    const doc = chatgptAuth({ email: 'a@example.com', userId: 'user-1', accountId: 'acct-1', plan: 'team', accessExp: exp, refreshToken: 'rt_fixed', extra: { agent_identity: { x: 1 } } });
    expect(Object.keys(doc)).toEqual(['auth_mode', 'OPENAI_API_KEY', 'tokens', 'last_refresh', 'agent_identity']);
    expect(doc.auth_mode).toBe('chatgpt');
    expect(doc.OPENAI_API_KEY).toBeNull();
    expect(doc.tokens.refresh_token).toBe('rt_fixed');
    expect(doc.tokens.account_id).toBe('acct-1');
    expect(Number.isNaN(Date.parse(doc.last_refresh))).toBe(false);
    const claim = { chatgpt_plan_type: 'team', chatgpt_user_id: 'user-1', chatgpt_account_id: 'acct-1' };
    const id = decodeJwt(doc.tokens.id_token);
    expect(id.email).toBe('a@example.com');
    expect(id[AUTH_CLAIM]).toMatchObject(claim);
    const access = decodeJwt(doc.tokens.access_token);
    expect(access.exp).toBe(exp);
    expect(access[AUTH_CLAIM]).toMatchObject(claim);
  });

  it('every default access token is distinct (unique jti)', () => {
    const opts = { email: 'a@example.com', userId: 'u', accountId: 'a' };
    const a = chatgptAuth(opts);
    const b = chatgptAuth(opts);
    expect(a.tokens.access_token).not.toBe(b.tokens.access_token);
    expect(decodeJwt(a.tokens.access_token).jti).not.toBe(decodeJwt(b.tokens.access_token).jti);
    expect(a.tokens.refresh_token).not.toBe(b.tokens.refresh_token);
  });

  it('apiKeyAuth, fakeApiKey and codexMaskedKey', () => {
    expect(apiKeyAuth('sk-x')).toEqual({ auth_mode: 'apikey', OPENAI_API_KEY: 'sk-x' });
    const k = fakeApiKey('alice');
    expect(k).toMatch(/^sk-proj-[A-Za-z0-9_-]{40}$/);
    expect(fakeApiKey('alice')).toBe(k);
    expect(fakeApiKey('bob')).not.toBe(k);
    expect(codexMaskedKey('sk-proj-abcdefghijklmnopqrstuvwxyz')).toBe('sk-proj-***vwxyz');
  });
});

describe('FakeOpenAI', () => {
  let fake: FakeOpenAI;
  beforeEach(async () => {
    fake = await FakeOpenAI.start();
  });
  afterEach(async () => {
    await fake.close();
  });

  const get = (url: string, headers: Record<string, string> = {}): Promise<Response> => fetch(url, { headers });
  const refresh = (refreshToken: string, extra: Record<string, unknown> = {}): Promise<Response> =>
    fetch(fake.refreshUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: CODEX_CLIENT_ID, grant_type: 'refresh_token', refresh_token: refreshToken, ...extra }),
    });

  it('listens on two distinct 127.0.0.1 ports and exposes the base URLs', () => {
    const p1 = /^http:\/\/127\.0\.0\.1:(\d+)\/backend-api$/.exec(fake.chatgptBaseUrl)?.[1];
    const p2 = /^http:\/\/127\.0\.0\.1:(\d+)\/v1$/.exec(fake.openaiBaseUrl)?.[1];
    expect(p1).toBeDefined();
    expect(p2).toBeDefined();
    expect(p1).not.toBe(p2);
    expect(fake.codexModelBaseUrl).toBe(`http://127.0.0.1:${p2}/backend-api/codex`);
    expect(fake.refreshUrl).toBe(`http://127.0.0.1:${p1}/oauth/token`);
  });

  describe('/v1/me', () => {
    it('answers a registered key and 401s an unknown one like OpenAI', async () => {
      const key = fakeApiKey('me');
      fake.addApiKey(key, { id: 'user-abc', email: 'dev@example.com', name: 'Dev', orgs: [{ id: 'org-1', title: 'Acme' }] });
      const ok = await get(`${fake.openaiBaseUrl}/me`, { authorization: `Bearer ${key}` });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ object: 'user', id: 'user-abc', email: 'dev@example.com', name: 'Dev', orgs: { data: [{ id: 'org-1', title: 'Acme' }] } });

      const bad = await get(`${fake.openaiBaseUrl}/me`, { authorization: `Bearer ${fakeApiKey('nope')}` });
      expect(bad.status).toBe(401);
      expect(await bad.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_api_key', message: expect.stringContaining('Incorrect API key provided') } });
      expect(fake.bearerTokensSeen('/v1/me')).toEqual([key, fakeApiKey('nope')]);
    });

    it('per-key faults: status for N times, garbage, delay', async () => {
      const key = fakeApiKey('faulty');
      fake.addApiKey(key, {}, { status: 500, times: 1 });
      const h = { authorization: `Bearer ${key}` };
      expect((await get(`${fake.openaiBaseUrl}/me`, h)).status).toBe(500);
      expect((await get(`${fake.openaiBaseUrl}/me`, h)).status).toBe(200);

      fake.setMeFault(key, { garbage: true });
      const g = await get(`${fake.openaiBaseUrl}/me`, h);
      expect(g.status).toBe(200);
      await expect(g.json()).rejects.toThrow();

      fake.setMeFault(key, { delayMs: 300 });
      const t0 = Date.now();
      const d = await get(`${fake.openaiBaseUrl}/me`, h);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
      expect(d.status).toBe(200);
      expect(await d.json()).toMatchObject({ object: 'user' });
    });

    it('a hanging request never answers, and close() ends it promptly', async () => {
      const key = fakeApiKey('hang');
      fake.addApiKey(key, {}, { hang: true });
      const pending = get(`${fake.openaiBaseUrl}/me`, { authorization: `Bearer ${key}` });
      const outcome = pending.then(
        () => 'answered',
        () => 'failed',
      );
      await fake.waitForRequest({ path: '/v1/me' });
      const race = await Promise.race([outcome, new Promise((r) => setTimeout(() => r('pending'), 300))]);
      expect(race).toBe('pending');
      const t0 = Date.now();
      await fake.close();
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(await outcome).toBe('failed');
    });
  });

  describe('model responses', () => {
    it('answers the SSE success with rate-limit headers, per token', async () => {
      const key = fakeApiKey('model');
      fake.addApiKey(key);
      const resetAt = nowSeconds() + 500;
      fake.setResponses(key, { text: 'hello', rateLimits: { primary: { usedPercent: 7, windowMinutes: 300, resetAt }, secondary: null } });
      const r = await fetch(`${fake.openaiBaseUrl}/responses`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: '{}' });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/event-stream');
      expect(r.headers.get('x-codex-primary-used-percent')).toBe('7');
      expect(r.headers.get('x-codex-primary-window-minutes')).toBe('300');
      expect(r.headers.get('x-codex-primary-reset-at')).toBe(String(resetAt));
      expect(r.headers.get('x-codex-secondary-used-percent')).toBeNull();
      const text = await r.text();
      const events = text.split('\n\n').filter(Boolean).map((chunk) => JSON.parse(chunk.replace(/^data: /, '')) as { type: string });
      expect(events.map((e) => e.type)).toEqual(['response.output_item.done', 'response.completed']);
      expect(text).toContain('"text":"hello"');
    });

    it('429 usage_limit_reached per token; 426 for the websocket GET; 401 for unknown keys and expired JWTs', async () => {
      const doc = chatgptAuth({ email: 'a@example.com', userId: 'u', accountId: 'acct' });
      const resetsAt = nowSeconds() + 900;
      fake.setResponses(doc.tokens.access_token, { usageLimit: { planType: 'pro', resetsAt } });
      const url = `${fake.codexModelBaseUrl}/responses`;
      const limited = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${doc.tokens.access_token}` }, body: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]) });
      expect(limited.status).toBe(429);
      expect(limited.headers.get('x-codex-primary-used-percent')).not.toBeNull();
      expect(await limited.json()).toMatchObject({ error: { type: 'usage_limit_reached', plan_type: 'pro', resets_at: resetsAt } });
      expect(fake.requests({ path: '/backend-api/codex/responses' })[0]?.body).toEqual(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));

      expect((await get(url, { authorization: `Bearer ${doc.tokens.access_token}` })).status).toBe(426);

      const other = chatgptAuth({ email: 'b@example.com', userId: 'u2', accountId: 'acct2' });
      expect((await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${other.tokens.access_token}` }, body: '{}' })).status).toBe(200);
      const expired = chatgptAuth({ email: 'c@example.com', userId: 'u3', accountId: 'acct3', accessExp: nowSeconds() - 1 });
      expect((await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${expired.tokens.access_token}` }, body: '{}' })).status).toBe(401);

      const unknown = await fetch(`${fake.openaiBaseUrl}/responses`, { method: 'POST', headers: { authorization: `Bearer ${fakeApiKey('unknown')}` }, body: '{}' });
      expect(unknown.status).toBe(401);
      fake.acceptUnknownApiKeys = true;
      const accepted = await fetch(`${fake.openaiBaseUrl}/responses`, { method: 'POST', headers: { authorization: `Bearer ${fakeApiKey('unknown')}` }, body: '{}' });
      expect(accepted.status).toBe(200);
    });
  });

  describe('ChatGPT backend', () => {
    it('accounts/check echoes the account id (header, else token claim); settings and models answer', async () => {
      const doc = chatgptAuth({ email: 'a@example.com', userId: 'u', accountId: 'acct-claim' });
      const auth = { authorization: `Bearer ${doc.tokens.access_token}` };
      const fromHeader = await get(`${fake.chatgptBaseUrl}/wham/accounts/check`, { ...auth, 'chatgpt-account-id': 'acct-header' });
      expect(await fromHeader.json()).toEqual({
        accounts: [{ id: 'acct-header', workspace_backend_origin: 'https://fake-backend.invalid', account_routing_override: 'NO_CONSTRAINT' }],
        account_ordering: ['acct-header'],
      });
      const fromClaim = (await (await get(`${fake.chatgptBaseUrl}/wham/accounts/check`, auth)).json()) as { account_ordering: string[] };
      expect(fromClaim.account_ordering).toEqual(['acct-claim']);
      expect((await get(`${fake.chatgptBaseUrl}/wham/settings/user`, auth)).status).toBe(200);
      expect(await (await get(`${fake.codexModelBaseUrl}/models?client_version=0.169.0`, auth)).json()).toEqual({ models: [] });
    });

    it('wham/usage: default from the token plan, per account, per token (wins), faults, 401s', async () => {
      const doc = chatgptAuth({ email: 'a@example.com', userId: 'u', accountId: 'acct-u', plan: 'pro' });
      const h = { authorization: `Bearer ${doc.tokens.access_token}`, 'chatgpt-account-id': 'acct-u' };
      const url = `${fake.chatgptBaseUrl}/wham/usage`;

      const dflt = (await (await get(url, h)).json()) as Record<string, unknown>;
      expect(dflt).toMatchObject({ plan_type: 'pro', rate_limit: { primary_window: { used_percent: 0, limit_window_seconds: 18000 }, secondary_window: { limit_window_seconds: 604800 } } });

      const resetAt = nowSeconds() + 1000;
      fake.setUsage('acct-u', { planType: 'plus', primary: { usedPercent: 42, resetAt }, secondary: null });
      const perAccount = (await (await get(url, h)).json()) as Record<string, unknown>;
      expect(perAccount).toEqual(usageBody({ planType: 'plus', primary: { usedPercent: 42, resetAt }, secondary: null }));
      expect(perAccount).toMatchObject({ rate_limit: { primary_window: { used_percent: 42, reset_at: resetAt, limit_window_seconds: 18000 }, secondary_window: null } });

      fake.setUsage(doc.tokens.access_token, { primary: { usedPercent: 100 }, secondary: { usedPercent: 3 } });
      expect(await (await get(url, h)).json()).toMatchObject({ rate_limit: { limit_reached: true, allowed: false, primary_window: { used_percent: 100 } } });

      fake.setUsage('acct-u', { fault: { status: 500, times: 1 } });
      fake.setUsage(doc.tokens.access_token, { fault: { status: 401 } });
      expect((await get(url, h)).status).toBe(401);
      const other = chatgptAuth({ email: 'b@example.com', userId: 'v', accountId: 'acct-u' });
      const h2 = { authorization: `Bearer ${other.tokens.access_token}`, 'chatgpt-account-id': 'acct-u' };
      expect((await get(url, h2)).status).toBe(500);
      expect((await get(url, h2)).status).toBe(200);

      const expired = chatgptAuth({ email: 'c@example.com', userId: 'w', accountId: 'acct-w', accessExp: nowSeconds() - 5 });
      expect((await get(url, { authorization: `Bearer ${expired.tokens.access_token}` })).status).toBe(401);
      expect((await get(url, { authorization: 'Bearer not-a-jwt' })).status).toBe(401);
      expect((await get(url)).status).toBe(401);
      expect(fake.requests({ path: '/backend-api/wham/usage', port: 'chatgpt' }).length).toBe(fake.requests({ path: '/backend-api/wham/usage' }).length);
    });
  });

  describe('/oauth/token refresh chains', () => {
    it('rotates refresh tokens and detects reuse', async () => {
      const doc = fake.addChatgptAccount({ email: 'a@example.com', userId: 'u', accountId: 'acct', plan: 'plus' });
      const first = doc.tokens.refresh_token;
      expect(fake.latestTokens('acct')).toEqual({ id_token: doc.tokens.id_token, access_token: doc.tokens.access_token, refresh_token: first });

      const r1 = await refresh(first);
      expect(r1.status).toBe(200);
      const t1 = (await r1.json()) as { id_token: string; access_token: string; refresh_token: string };
      expect(t1.refresh_token).not.toBe(first);
      expect(t1.access_token).not.toBe(doc.tokens.access_token);
      expect(decodeJwt(t1.access_token)[AUTH_CLAIM]).toMatchObject({ chatgpt_account_id: 'acct', chatgpt_user_id: 'u', chatgpt_plan_type: 'plus' });
      expect(decodeJwt(t1.id_token).email).toBe('a@example.com');
      expect(Number(decodeJwt(t1.access_token).exp)).toBeGreaterThan(nowSeconds() + 3000);
      expect(fake.latestTokens('acct')).toEqual({ id_token: t1.id_token, access_token: t1.access_token, refresh_token: t1.refresh_token });
      expect(fake.refreshTokenState(first)).toBe('used');

      const reused = await refresh(first);
      expect(reused.status).toBe(401);
      expect(await reused.json()).toMatchObject({ error: { code: 'refresh_token_reused' } });

      const r2 = await refresh(t1.refresh_token);
      expect(r2.status).toBe(200);
      expect(fake.refreshCount('acct')).toBe(2);
      expect(fake.refreshAttempts().map((a) => a.ok)).toEqual([true, false, true]);
    });

    it('unknown, invalidated and expired tokens; bad client or grant; injected faults', async () => {
      const unknown = await refresh('rt_unknown');
      expect(unknown.status).toBe(401);
      expect(await unknown.json()).toMatchObject({ error: { code: 'refresh_token_invalidated' } });

      const doc = fake.addChatgptAccount({ email: 'a@example.com', userId: 'u', accountId: 'acct' });
      expect((await refresh(doc.tokens.refresh_token, { client_id: 'someone-else' })).status).toBe(400);
      expect((await refresh(doc.tokens.refresh_token, { grant_type: 'authorization_code' })).status).toBe(400);

      fake.setRefreshFault('acct', { status: 503, times: 1 });
      expect((await refresh(doc.tokens.refresh_token)).status).toBe(503);
      // A failed attempt spends nothing.
      expect(fake.refreshTokenState(doc.tokens.refresh_token)).toBe('current');

      fake.invalidateRefreshTokens('acct');
      expect(await (await refresh(doc.tokens.refresh_token)).json()).toMatchObject({ error: { code: 'refresh_token_invalidated' } });

      fake.registerRefreshToken({ email: 'a@example.com', userId: 'u', accountId: 'acct' }, 'rt_second');
      fake.invalidateRefreshTokens('acct', 'u', 'expired');
      expect(await (await refresh('rt_second')).json()).toMatchObject({ error: { code: 'refresh_token_expired' } });
    });

    it('several users in one workspace are told apart by user id', () => {
      fake.addChatgptAccount({ email: 'a@example.com', userId: 'u1', accountId: 'team' });
      fake.addChatgptAccount({ email: 'b@example.com', userId: 'u2', accountId: 'team' });
      expect(() => fake.latestTokens('team')).toThrow(/several users/);
      expect(decodeJwt(fake.latestTokens('team', 'u2').id_token).email).toBe('b@example.com');
    });

    it('/oauth/revoke invalidates the token', async () => {
      const doc = fake.addChatgptAccount({ email: 'a@example.com', userId: 'u', accountId: 'acct' });
      const r = await fetch(`${fake.chatgptOrigin}/oauth/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: doc.tokens.refresh_token, token_type_hint: 'refresh_token', client_id: CODEX_CLIENT_ID }),
      });
      expect(r.status).toBe(200);
      expect(fake.revokedTokens()).toEqual([doc.tokens.refresh_token]);
      expect(await (await refresh(doc.tokens.refresh_token)).json()).toMatchObject({ error: { code: 'refresh_token_invalidated' } });
    });
  });

  describe('recording and overrides', () => {
    it('records method, path, query, lower-cased headers, raw body and port; unknown paths 404', async () => {
      await fetch(`${fake.chatgptBaseUrl}/nope?x=1`, { method: 'PUT', headers: { 'X-Custom': 'Yes' }, body: 'raw' });
      const [rec] = fake.unknownRequests();
      expect(rec).toMatchObject({ port: 'chatgpt', method: 'PUT', path: '/backend-api/nope', url: '/backend-api/nope?x=1', known: false, bearer: null });
      expect(rec?.headers['x-custom']).toBe('Yes');
      expect(rec?.body.toString('utf8')).toBe('raw');
      expect(rec?.query.get('x')).toBe('1');
      expect(fake.requests({ method: 'PUT', path: /nope/ })).toHaveLength(1);
      expect(fake.requests({ method: 'GET' })).toHaveLength(0);
      fake.clearRequests();
      expect(fake.requests()).toEqual([]);
    });

    it('override replaces any path, optionally per method and for N times', async () => {
      fake.override('/backend-api/wham/settings/user', { status: 502, times: 2 }, 'GET');
      const url = `${fake.chatgptBaseUrl}/wham/settings/user`;
      expect((await get(url)).status).toBe(502);
      expect((await get(url)).status).toBe(502);
      expect((await get(url)).status).toBe(200);
      fake.override(/^\/backend-api\/wham\//, { body: { custom: true } });
      expect(await (await get(url)).json()).toEqual({ custom: true });
      fake.clearOverrides();
      expect(await (await get(url)).json()).toEqual({});
    });

    it('waitForRequest resolves for a future request and times out otherwise', async () => {
      const waiting = fake.waitForRequest({ path: '/v1/me', method: 'GET' }, 2000);
      await get(`${fake.openaiBaseUrl}/me`);
      expect((await waiting).path).toBe('/v1/me');
      await expect(fake.waitForRequest({ path: '/never' }, 50)).rejects.toThrow(/no request matching/);
    });
  });
});
