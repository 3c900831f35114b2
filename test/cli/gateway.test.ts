/**
 * `codex-auth gateway serve`, the built CLI as a subprocess, at the HTTP level: requests as Codex
 * sends them (CODEX-FACTS.md §10) go through the gateway to the fake OpenAI on 127.0.0.1. Accounts
 * are set up with the CLI itself (in-process, the same sandbox; the API key in a 0600 file so the
 * subprocess can read it).
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { cliSuite, fakeEnv } from '../support/cli-suite.js';
import { sseEvent } from '../support/fake-openai.js';
import { type GatewayProcess, liveChatgptAccount, startGatewayProcess } from '../support/gateway.js';
import { type ChatgptAuthDoc, fakeApiKey, makeJwt, nowSeconds } from '../support/jwt.js';

let gw: Gateway | null = null;
const { sb, fake, secrets } = cliSuite({
  built: true,
  env: fakeEnv.all,
  clearRequests: true,
  teardown: async () => {
    if (gw) await gw.stop();
    gw = null;
  },
});

type Gateway = GatewayProcess;

async function startGateway(): Promise<Gateway> {
  const g = await startGatewayProcess({ home: sb.home, codexAuthHome: path.join(sb.codexHome, 'codex-auth'), env: sb.env });
  secrets.push(g.secret);
  const stop = g.stop.bind(g);
  g.stop = async () => {
    const r = await stop();
    sb.transcript.push(r.stdout, r.stderr);
    return r;
  };
  return g;
}

const accountA = (): Promise<ChatgptAuthDoc> => liveChatgptAccount(sb, fake, secrets);

async function withKey(): Promise<string> {
  const key = fakeApiKey(`gw-${Math.random()}`);
  secrets.push(key);
  fake.addApiKey(key, { id: 'user-key', email: 'key@example.com' });
  const r = await sb.run(['add-api-key', '-', '--insecure-storage', '--alias', 'billing'], { input: key });
  expect(r.code, r.stderr).toBe(0);
  const e = await sb.run(['fallback', 'enable', '--no-rotate']);
  expect(e.code, e.stderr).toBe(0);
  return key;
}

const BODY = JSON.stringify({ model: 'gpt-5', stream: true, store: false, input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'say hi' }] }] });

function codexHeaders(g: Gateway, extra: Record<string, string> = {}): Record<string, string> {
  return {
    authorization: g.auth,
    'chatgpt-account-id': 'codex-auth-gateway-placeholder',
    'content-type': 'application/json',
    accept: 'text/event-stream',
    originator: 'codex_exec',
    'session-id': 'thread-1',
    'x-client-request-id': 'req-123',
    ...extra,
  };
}

function post(g: Gateway, body: string | Buffer = BODY, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${g.model}/responses?client_version=0.169.0`, { method: 'POST', headers: codexHeaders(g, headers), body });
}

function events(): string[] {
  const file = path.join(sb.codexHome, 'codex-auth', 'events.jsonl');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n') : [];
}

describe('gateway serve', () => {
  it('answers 403 without the installation secret and touches no account; 426 to a WebSocket upgrade', async () => {
    await accountA();
    gw = await startGateway();
    const wrong = `Bearer ${makeJwt({ 'https://codex-auth.invalid/gateway': { secret: 'not-the-secret-not-the-secret-00' } })}`;
    for (const authorization of [undefined, 'Bearer sk-whatever', wrong]) {
      const r = await fetch(`${gw.model}/responses`, { method: 'POST', headers: { ...(authorization ? { authorization } : {}), 'content-type': 'application/json' }, body: BODY });
      expect(r.status).toBe(403);
      expect(await r.text()).toContain('installation secret');
      const u = await fetch(`${gw.backend}wham/usage`, { headers: authorization ? { authorization } : {} });
      expect(u.status).toBe(403);
    }
    expect(fake.requests()).toEqual([]);
    const upgrade = (auth: string | null) =>
      new Promise<string>((resolve, reject) => {
        const { port } = new URL(gw!.model);
        const s = net.connect(Number(port), '127.0.0.1', () => {
          s.write(`GET /v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${auth ? `Authorization: ${auth}\r\n` : ''}\r\n`);
        });
        let data = '';
        s.on('data', (d) => (data += d.toString()));
        s.on('end', () => resolve(data));
        s.on('error', reject);
      });
    expect(await upgrade(gw.auth)).toMatch(/^HTTP\/1\.1 426 /);
    expect(await upgrade(null)).toMatch(/^HTTP\/1\.1 403 /);
    expect(fake.requests()).toEqual([]);
  });

  it('a real login sent by Codex (after "codex login" while the gateway is on) gets a 403 that says how to fix it, without echoing it', async () => {
    const a = await accountA();
    gw = await startGateway();
    const messages: string[] = [];
    for (const authorization of [`Bearer ${a.tokens.access_token}`, 'Bearer sk-proj-a-real-key']) {
      const r = await fetch(`${gw.model}/responses`, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: BODY });
      expect(r.status).toBe(403);
      const body = (await r.json()) as { error: { message: string } };
      messages.push(body.error.message);
      expect(body.error.message).toContain('Codex holds a real login instead of the gateway\'s placeholder');
      expect(body.error.message).toContain('Run "codex-auth gateway enable" again');
      expect(JSON.stringify(body)).not.toContain(authorization.slice(7));
      const u = await fetch(`${gw.backend}wham/accounts/check`, { headers: { authorization } });
      expect(u.status).toBe(403);
      expect(await u.text()).toContain('codex-auth gateway enable');
    }
    // Another installation's placeholder, and no credentials at all, are told apart.
    const other = `Bearer ${makeJwt({ 'https://codex-auth.invalid/gateway': { secret: 'not-the-secret-not-the-secret-00' } })}`;
    const r = await fetch(`${gw.model}/responses`, { method: 'POST', headers: { authorization: other, 'content-type': 'application/json' }, body: BODY });
    expect(((await r.json()) as { error: { message: string } }).error.message).toContain('placeholder login of another codex-auth installation');
    const none = await fetch(`${gw.model}/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY });
    expect(((await none.json()) as { error: { message: string } }).error.message).toContain('is Codex set up with "codex-auth gateway enable"?');
    expect(fake.requests()).toEqual([]);
  });

  it('passes a model request through unchanged except its credentials, and streams the answer back', async () => {
    const a = await accountA();
    gw = await startGateway();
    const r = await post(gw);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/event-stream');
    expect(r.headers.get('x-codex-primary-used-percent')).toBe('42');
    const text = await r.text();
    expect(text).toContain('"type":"response.completed"');
    const [up] = fake.requests({ path: '/backend-api/codex/responses' });
    expect(up).toBeDefined();
    expect(up!.method).toBe('POST');
    expect(up!.query.get('client_version')).toBe('0.169.0');
    expect(up!.body.toString('utf8')).toBe(BODY);
    expect(up!.bearer).toBe(a.tokens.access_token);
    expect(up!.headers['chatgpt-account-id']).toBe('acc-a');
    for (const h of ['originator', 'session-id', 'x-client-request-id', 'accept', 'content-type']) expect(up!.headers[h]).toBe(codexHeaders(gw)[h]);
  });

  it('answers wham/accounts/check itself and passes wham/usage through with the real account', async () => {
    const a = await accountA();
    fake.setUsage('acc-a', { primary: { usedPercent: 33 } });
    gw = await startGateway();
    const check = await fetch(`${gw.backend}wham/accounts/check`, { headers: { authorization: gw.auth } });
    expect(check.status).toBe(200);
    const doc = (await check.json()) as { accounts: { id: string; account_routing_override: string }[]; account_ordering: string[] };
    expect(doc.accounts[0]?.id).toMatch(/^codex-auth-gateway-/);
    expect(doc.account_ordering).toEqual([doc.accounts[0]?.id]);
    expect(fake.requests({ path: /accounts\/check/ })).toEqual([]);
    const usage = await fetch(`${gw.backend}wham/usage`, { headers: { authorization: gw.auth } });
    expect(usage.status).toBe(200);
    expect(((await usage.json()) as { rate_limit: { primary_window: { used_percent: number } } }).rate_limit.primary_window.used_percent).toBe(33);
    const [up] = fake.requests({ path: '/backend-api/wham/usage' });
    expect(up!.bearer).toBe(a.tokens.access_token);
    expect(up!.headers['chatgpt-account-id']).toBe('acc-a');
  });

  it('streams output as it arrives (no buffering of the whole answer)', async () => {
    const a = await accountA();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const item = { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'first part' }] };
    fake.setResponses(a.tokens.access_token, {
      stream: [sseEvent({ type: 'response.created', response: { id: 'r1' } }), sseEvent({ type: 'response.output_item.done', item }), { gate }, sseEvent({ type: 'response.completed', response: { id: 'r1' } })],
    });
    gw = await startGateway();
    const r = await post(gw);
    const reader = r.body!.getReader();
    let got = '';
    while (!got.includes('first part')) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended early: ${got}`);
      got += Buffer.from(value).toString('utf8');
    }
    // The output reached the client while the upstream still holds the rest back.
    expect(got).not.toContain('response.completed');
    release();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      got += Buffer.from(value).toString('utf8');
    }
    expect(got).toContain('response.completed');
  });

  it('fails over to the API key on a 429 usage_limit_reached before output, and logs it', async () => {
    const a = await accountA();
    const key = await withKey();
    const resetsAt = nowSeconds() + 7200;
    fake.setResponses(a.tokens.access_token, { usageLimit: { resetsAt } });
    gw = await startGateway();
    const r = await post(gw);
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('response.completed');
    const chatgpt = fake.requests({ path: '/backend-api/codex/responses' });
    const api = fake.requests({ path: '/v1/responses' });
    expect(chatgpt).toHaveLength(1);
    expect(api).toHaveLength(1);
    expect(api[0]!.bearer).toBe(key);
    expect(api[0]!.headers['chatgpt-account-id']).toBeUndefined();
    expect(api[0]!.body.toString('utf8')).toBe(BODY);
    // The next request goes straight to the key: A is exhausted until its reset.
    expect((await post(gw)).status).toBe(200);
    expect(fake.requests({ path: '/backend-api/codex/responses' })).toHaveLength(1);
    expect(fake.requests({ path: '/v1/responses' })).toHaveLength(2);
    const logged = events().map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ event: 'switch', kind: 'gateway-failover', from: null, reason: expect.stringContaining('usage limit') });
    expect(gw.lines().filter((l) => l.event === 'failover')).toHaveLength(1);
    const reg = JSON.parse(fs.readFileSync(path.join(sb.codexHome, 'codex-auth', 'registry.json'), 'utf8')) as { limitEvents: { accountId: string; resetsAt: string }[] };
    expect(reg.limitEvents).toEqual([expect.objectContaining({ accountId: 'chatgpt::user-a::acc-a', resetsAt: new Date(resetsAt * 1000).toISOString() })]);
  });

  it("honours the gateway's own rotate setting, not fallback's: on, another ChatGPT account serves before the key; off, the key", async () => {
    const a = await accountA();
    const b = fake.addChatgptAccount({ email: 'b@example.com', userId: 'user-b', accountId: 'acc-b' });
    secrets.push(b.tokens.access_token, b.tokens.refresh_token);
    const bFile = path.join(sb.root, 'b.json');
    fs.writeFileSync(bFile, JSON.stringify(b), { mode: 0o600 });
    expect((await sb.run(['import', bFile])).code).toBe(0);
    const key = await withKey(); // fallback's own rotation: off (--no-rotate)
    fake.setResponses(a.tokens.access_token, { usageLimit: { resetsAt: nowSeconds() + 7200 } });
    fake.setResponses(b.tokens.access_token, { text: 'from B' });
    fake.setResponses(key, { text: 'from the key' });
    const settingsFile = path.join(sb.codexHome, 'codex-auth', 'gateway.json');
    const setRotate = (rotate: boolean) => {
      const doc = JSON.parse(fs.readFileSync(settingsFile, 'utf8')) as Record<string, unknown>;
      fs.writeFileSync(settingsFile, JSON.stringify({ ...doc, rotate }), { mode: 0o600 });
    };
    gw = await startGateway();
    const count = () => ({
      a: fake.requests({ bearer: a.tokens.access_token, path: '/backend-api/codex/responses' }).length,
      b: fake.requests({ bearer: b.tokens.access_token, path: '/backend-api/codex/responses' }).length,
      key: fake.requests({ bearer: key, path: '/v1/responses' }).length,
    });
    // On: A's limit, then B, not the key.
    setRotate(true);
    const on = await post(gw);
    expect(on.status).toBe(200);
    expect(await on.text()).toContain('from B');
    expect(count()).toEqual({ a: 1, b: 1, key: 0 });
    // Off (the default): neither B nor A (exhausted); the key.
    setRotate(false);
    const off = await post(gw);
    expect(off.status).toBe(200);
    expect(await off.text()).toContain('from the key');
    expect(count()).toEqual({ a: 1, b: 1, key: 1 });
    // With fallback's rotation on but the gateway's off: still the key.
    expect((await sb.run(['fallback', 'enable'])).code).toBe(0);
    expect((await post(gw)).status).toBe(200);
    expect(count()).toEqual({ a: 1, b: 1, key: 2 });
  });

  it('fails over on a usage-limit error event inside a 200 stream before any output', async () => {
    const a = await accountA();
    await withKey();
    fake.setResponses(a.tokens.access_token, {
      stream: [
        sseEvent({ type: 'response.created', response: { id: 'r1' } }),
        sseEvent({ type: 'response.failed', response: { id: 'r1', error: { code: 'usage_limit_reached', message: 'limit', resets_at: nowSeconds() + 600 } } }),
      ],
    });
    gw = await startGateway();
    const r = await post(gw);
    const text = await r.text();
    expect(r.status).toBe(200);
    expect(text).not.toContain('response.failed');
    expect(text).toContain('response.completed');
    expect(fake.requests({ path: '/v1/responses' })).toHaveLength(1);
  });

  it('never splices: a stream cut after output started ends the answer, without trying another account', async () => {
    const a = await accountA();
    await withKey();
    const item = { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'half an answer' }] };
    fake.setResponses(a.tokens.access_token, { stream: [sseEvent({ type: 'response.output_item.done', item }), { delayMs: 50 }, { cut: true }] });
    gw = await startGateway();
    const r = await post(gw);
    expect(r.status).toBe(200);
    const reader = r.body!.getReader();
    let got = '';
    let broke = false;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        got += Buffer.from(value).toString('utf8');
      }
    } catch {
      broke = true;
    }
    expect(got).toContain('half an answer');
    expect(got).not.toContain('response.completed');
    expect(broke).toBe(true);
    expect(fake.requests({ path: '/v1/responses' })).toEqual([]);
  });

  it('on an upstream 401 refreshes the account with the token service and retries once; Codex never sees the 401', async () => {
    const a = await accountA();
    fake.setResponses(a.tokens.access_token, { fault: { status: 401 } });
    gw = await startGateway();
    const r = await post(gw);
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('response.completed');
    expect(fake.refreshCount('acc-a')).toBe(1);
    const latest = fake.latestTokens('acc-a');
    secrets.push(latest.access_token, latest.refresh_token);
    const ups = fake.requests({ path: '/backend-api/codex/responses' });
    expect(ups.map((u) => u.bearer)).toEqual([a.tokens.access_token, latest.access_token]);
    // The rotated tokens are saved where codex-auth keeps the account (and in Codex's live copy).
    const stored = fs.readFileSync(path.join(sb.codexHome, 'codex-auth', 'accounts', 'chatgpt__user-a__acc-a.json'), 'utf8');
    expect(JSON.parse(stored).tokens.refresh_token).toBe(latest.refresh_token);
  });

  it('answers 502 with a message when the refresh does not help (never a 401)', async () => {
    const a = await accountA();
    fake.setResponses(a.tokens.access_token, { fault: { status: 401 } });
    fake.invalidateRefreshTokens('acc-a');
    gw = await startGateway();
    const r = await post(gw);
    expect(r.status).toBe(502);
    expect(await r.text()).toContain('could not be refreshed');
  });

  it('decodes a compressed body for the API key; zstd it cannot decode gets 415 with the fix', async () => {
    const a = await accountA();
    const key = await withKey();
    fake.setResponses(a.tokens.access_token, { usageLimit: {} });
    gw = await startGateway();
    const r = await post(gw, zlib.gzipSync(BODY), { 'content-encoding': 'gzip' });
    expect(r.status).toBe(200);
    const [api] = fake.requests({ path: '/v1/responses' });
    expect(api!.bearer).toBe(key);
    expect(api!.body.toString('utf8')).toBe(BODY);
    expect(api!.headers['content-encoding']).toBeUndefined();
    const hasZstd = typeof (zlib as unknown as { zstdCompressSync?: unknown }).zstdCompressSync === 'function';
    if (!hasZstd) {
      const z = await post(gw, Buffer.from('not really zstd'), { 'content-encoding': 'zstd' });
      expect(z.status).toBe(415);
      expect(await z.text()).toContain('features.enable_request_compression');
    }
  });

  it('strips encrypted reasoning when the account changed within a thread, and retries once on a 400 about it', async () => {
    const a = await accountA();
    const key = await withKey();
    fake.setResponses(key, { rejectEncryptedReasoning: true });
    gw = await startGateway();
    const withReasoning = JSON.stringify({
      model: 'gpt-5',
      stream: true,
      input: [
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] },
        { type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: 'gAAAA-from-account-a' },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'hello' }] },
      ],
    });
    expect((await post(gw, withReasoning)).status).toBe(200); // served by A, as sent
    expect(fake.requests({ path: '/backend-api/codex/responses' })[0]!.body.toString('utf8')).toBe(withReasoning);
    fake.setResponses(a.tokens.access_token, { usageLimit: {} });
    const r = await post(gw, withReasoning);
    expect(r.status).toBe(200);
    const [api] = fake.requests({ path: '/v1/responses' });
    const sent = JSON.parse(api!.body.toString('utf8')) as { input: { type: string }[] };
    expect(sent.input.map((i) => i.type)).toEqual(['message', 'message']);
    // Another thread, never served before: sent as is, refused with a 400 about it, retried once without.
    const other = await post(gw, withReasoning, { 'session-id': 'thread-2' });
    expect(other.status).toBe(200);
    const apis = fake.requests({ path: '/v1/responses' });
    expect(apis).toHaveLength(3);
    expect(apis[1]!.body.toString('utf8')).toBe(withReasoning);
    expect((JSON.parse(apis[2]!.body.toString('utf8')) as { input: unknown[] }).input).toHaveLength(2);
  });

  it('switches back at a request boundary once the reset passed and the usage API confirms it', async () => {
    const a = await accountA();
    await withKey();
    fake.setResponses(a.tokens.access_token, { usageLimit: { resetsAt: nowSeconds() + 2 } });
    gw = await startGateway();
    expect((await post(gw)).status).toBe(200);
    expect(fake.requests({ path: '/v1/responses' })).toHaveLength(1);
    fake.setResponses(a.tokens.access_token, {});
    fake.setUsage('acc-a', { primary: { usedPercent: 5 } });
    await new Promise((r) => setTimeout(r, 3100));
    expect((await post(gw)).status).toBe(200);
    expect(fake.requests({ path: '/backend-api/wham/usage' })).toHaveLength(1); // the confirmation
    expect(fake.requests({ path: '/backend-api/codex/responses' })).toHaveLength(2);
    expect(fake.requests({ path: '/v1/responses' })).toHaveLength(1);
    const kinds = events().map((l) => (JSON.parse(l) as { kind: string }).kind);
    expect(kinds).toEqual(['gateway-failover', 'gateway-switch-back']);
    expect(gw.lines().map((l) => l.event)).toEqual(['listening', 'failover', 'switch-back']);
  });

  it('when every account is exhausted, Codex gets the usage-limit answer with the earliest reset', async () => {
    const a = await accountA();
    const key = await withKey();
    const resetsAt = nowSeconds() + 3000;
    fake.setResponses(a.tokens.access_token, { usageLimit: { resetsAt } });
    fake.setResponses(key, { usageLimit: { resetsAt: nowSeconds() + 9000 } });
    gw = await startGateway();
    const r = await post(gw);
    expect(r.status).toBe(429);
    const body = (await r.json()) as { error: { type: string; resets_at: number } };
    expect(body.error.type).toBe('usage_limit_reached');
    expect(body.error.resets_at).toBe(resetsAt);
  });
});

