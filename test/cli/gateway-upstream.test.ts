/**
 * The gateway's two upstream clients (src/gateway/upstream.ts), through the built CLI as a
 * subprocess: node:http without a proxy (undici never loaded: it costs 20–30 MB of an idle
 * gateway's RSS), undici through a real local proxy when HTTP_PROXY applies per NO_PROXY. Which
 * modules the gateway loaded is read from require.cache by a --require hook when it exits.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt } from '../support/bin.js';
import { FakeOpenAI, sseEvent } from '../support/fake-openai.js';
import { type GatewayProcess, liveChatgptAccount, startGatewayProcess } from '../support/gateway.js';
import { findSecrets, makeSandbox, type Sandbox } from '../support/inprocess.js';
import { tunnelConnects } from '../support/tunnel.js';
import { type ChatgptAuthDoc } from '../support/jwt.js';

let fake: FakeOpenAI;
let sb: Sandbox;
let gw: GatewayProcess | null = null;
const secrets: string[] = [];

/** A proxy that records what goes through it: CONNECT tunnels and absolute-URI forward requests. */
let proxy: http.Server;
let proxyUrl = '';
const proxied: string[] = [];

beforeAll(async () => {
  assertBuilt();
  fake = await FakeOpenAI.start();
  proxy = http.createServer((req, res) => {
    proxied.push(`${req.method} ${req.url}`);
    const target = new URL(req.url ?? '');
    const up = http.request(target, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  tunnelConnects(proxy, (target) => proxied.push(`CONNECT ${target}`));
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
});
afterAll(async () => {
  proxy.closeAllConnections();
  await new Promise((r) => proxy.close(r));
  await fake.close();
});
beforeEach(() => {
  sb = makeSandbox();
  sb.env.CODEX_AUTH_OPENAI_BASE_URL = fake.openaiBaseUrl;
  sb.env.CODEX_AUTH_CHATGPT_BASE_URL = fake.chatgptBaseUrl;
  sb.env.CODEX_REFRESH_TOKEN_URL_OVERRIDE = fake.refreshUrl;
  fake.clearRequests();
  proxied.length = 0;
});
afterEach(async () => {
  if (gw) await gw.stop();
  gw = null;
  expect(findSecrets(sb.transcript, secrets)).toEqual([]);
  sb.cleanup();
});

const LOADED = () => path.join(sb.home, 'loaded.json');

async function startGateway(env: Record<string, string> = {}): Promise<GatewayProcess> {
  const hook = path.join(sb.home, 'hook.cjs');
  fs.writeFileSync(hook, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(LOADED())}, JSON.stringify(Object.keys(require.cache))));\n`);
  const g = await startGatewayProcess({ home: sb.home, codexAuthHome: path.join(sb.codexHome, 'codex-auth'), env: { ...sb.env, NODE_OPTIONS: `--require ${hook}`, ...env } });
  secrets.push(g.secret);
  return g;
}

/** Stops the gateway; whether it had loaded undici. */
async function stopAndCheckUndici(): Promise<boolean> {
  const r = await gw!.stop();
  gw = null;
  sb.transcript.push(r.stdout, r.stderr);
  const loaded = JSON.parse(fs.readFileSync(LOADED(), 'utf8')) as string[];
  return loaded.some((p) => /[\\/]node_modules[\\/]undici[\\/]/.test(p));
}

const accountA = (): Promise<ChatgptAuthDoc> => liveChatgptAccount(sb, fake, secrets);

const BODY = JSON.stringify({ model: 'gpt-5', stream: true, store: false, input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'say hi' }] }] });

function post(g: GatewayProcess, signal?: AbortSignal): Promise<Response> {
  return fetch(`${g.model}/responses?client_version=0.169.0`, {
    method: 'POST',
    headers: { authorization: g.auth, 'chatgpt-account-id': 'codex-auth-gateway-placeholder', 'content-type': 'application/json', accept: 'text/event-stream', 'session-id': 'thread-1' },
    body: BODY,
    ...(signal ? { signal } : {}),
  });
}

const fakeHost = () => new URL(fake.chatgptBaseUrl).host;

describe('gateway upstream client', () => {
  it('without a proxy: node:http, undici never loaded; the request and its answer pass unchanged', async () => {
    const a = await accountA();
    gw = await startGateway();
    for (let i = 0; i < 3; i++) {
      const r = await post(gw);
      expect(r.status).toBe(200);
      expect(await r.text()).toContain('response.completed');
    }
    const seen = fake.requests({ path: '/backend-api/codex/responses' });
    expect(seen).toHaveLength(3);
    expect(seen[0]!.bearer).toBe(a.tokens.access_token);
    expect(seen[0]!.body.toString('utf8')).toBe(BODY);
    expect(seen[0]!.headers['content-length']).toBe(String(Buffer.byteLength(BODY)));
    expect(seen[0]!.headers['transfer-encoding']).toBeUndefined();
    expect(proxied).toEqual([]);
    expect(await stopAndCheckUndici()).toBe(false);
  });

  it('without a proxy, a token refresh (after an upstream 401) and a usage call go through node:http too: undici never loaded', async () => {
    const a = await accountA();
    fake.setResponses(a.tokens.access_token, { fault: { status: 401 } });
    gw = await startGateway();
    // (test/cli/gateway.test.ts checks the 401 -> refresh -> retry itself; here: which client made it)
    expect((await post(gw)).status).toBe(200);
    const latest = fake.latestTokens('acc-a');
    secrets.push(latest.access_token, latest.refresh_token);
    const refresh = fake.requests({ path: new URL(fake.refreshUrl).pathname });
    expect(refresh).toHaveLength(1);
    expect(refresh[0]!.headers['user-agent']).toBe('codex-auth');
    // wham/usage is answered with the serving account's real numbers
    const usage = await fetch(`${gw.backend}wham/usage`, { headers: { authorization: gw.auth, 'chatgpt-account-id': 'codex-auth-gateway-placeholder' } });
    expect(usage.status).toBe(200);
    expect(fake.requests({ path: '/backend-api/wham/usage' }).at(-1)?.bearer).toBe(latest.access_token);
    expect(await stopAndCheckUndici()).toBe(false);
  });

  it('upstreams straight but the token service behind the proxy: the refresh goes through the proxy (undici)', async () => {
    const a = await accountA();
    fake.setResponses(a.tokens.access_token, { fault: { status: 401 } });
    const viaLocalhost = fake.refreshUrl.replace('127.0.0.1', 'localhost');
    gw = await startGateway({ HTTP_PROXY: proxyUrl, NO_PROXY: '127.0.0.1', CODEX_REFRESH_TOKEN_URL_OVERRIDE: viaLocalhost });
    expect((await post(gw)).status).toBe(200);
    const latest = fake.latestTokens('acc-a');
    secrets.push(latest.access_token, latest.refresh_token);
    // the refresh only (a tunnel or a forwarded request, as undici chooses); the model requests went straight
    const refreshHost = new URL(viaLocalhost).host;
    expect(proxied).toHaveLength(1);
    expect([`CONNECT ${refreshHost}`, `POST ${viaLocalhost}`]).toContain(proxied[0]);
    expect(await stopAndCheckUndici()).toBe(true);
  });

  it('with HTTP_PROXY: undici through the proxy; NO_PROXY naming the upstream host: straight, without undici', async () => {
    await accountA();
    gw = await startGateway({ HTTP_PROXY: proxyUrl });
    const r = await post(gw);
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('response.completed');
    expect(fake.requests({ path: '/backend-api/codex/responses' })).toHaveLength(1);
    expect(proxied.some((p) => p === `CONNECT ${fakeHost()}` || p.startsWith(`POST ${fake.chatgptBaseUrl}`))).toBe(true);
    expect(await stopAndCheckUndici()).toBe(true);

    proxied.length = 0;
    gw = await startGateway({ http_proxy: proxyUrl, NO_PROXY: 'example.com, 127.0.0.1' });
    const s = await post(gw);
    expect(s.status).toBe(200);
    expect(await s.text()).toContain('response.completed');
    expect(proxied).toEqual([]);
    expect(await stopAndCheckUndici()).toBe(false);
  });

  it.each([
    ['node:http', {}],
    ['undici', { HTTP_PROXY: 'proxy' }],
  ])('%s: Codex going away mid-stream closes the upstream request', async (_name, extra) => {
    // An upstream of its own that streams the first output and then holds: it sees the close.
    let closed!: () => void;
    const upstreamClosed = new Promise<void>((r) => (closed = r));
    const upstream = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sseEvent({ type: 'response.created', response: { id: 'r1' } }));
      res.write(sseEvent({ type: 'response.output_item.done', item: { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'first part' }] } }));
      res.on('close', () => closed());
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    try {
      await accountA();
      const env: Record<string, string> = { CODEX_AUTH_CHATGPT_BASE_URL: `http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}/backend-api` };
      if ('HTTP_PROXY' in extra) env.HTTP_PROXY = proxyUrl;
      gw = await startGateway(env);
      const ac = new AbortController();
      const r = await post(gw, ac.signal);
      const reader = r.body!.getReader();
      let got = '';
      while (!got.includes('first part')) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended early: ${got}`);
        got += Buffer.from(value).toString('utf8');
      }
      ac.abort();
      await expect(Promise.race([upstreamClosed.then(() => 'closed'), new Promise((r) => setTimeout(() => r('still open'), 5000))])).resolves.toBe('closed');
      expect(await stopAndCheckUndici()).toBe('HTTP_PROXY' in extra);
    } finally {
      upstream.closeAllConnections();
      await new Promise((r) => upstream.close(r));
    }
  });
});
