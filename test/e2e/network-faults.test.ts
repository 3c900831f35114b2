/**
 * Network faults, end to end with the built binary, for each endpoint codex-auth calls:
 * - GET /v1/me (add-api-key --insecure-storage, import of an API-key auth.json),
 * - GET /wham/usage (list --refresh),
 * - POST /oauth/token (refresh --force).
 * Faults: connection refused (a closed port), a reset halfway through the body and a body that stalls
 * past CODEX_AUTH_HTTP_TIMEOUT_MS (a raw TCP server), 500s then success and 429 with Retry-After (the
 * fake OpenAI). Retries are bounded (requests counted: never more than 1 + 2 retries; a timeout is not
 * retried; the token POST is never retried), Retry-After is waited (from the fake's request
 * timestamps), errors name the problem, nothing half-done is stored, and no secret is printed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI } from '../support/fake-openai.js';
import { findSecrets } from '../support/inprocess.js';
import { apiKeyAuth, type ChatgptAuthDoc, fakeApiKey } from '../support/jwt.js';
import { closedPort, type FaultAction, FaultServer } from '../torture/fault-server.js';
import { assertBuilt, type BinRun, explain, ls, readRegistry, runNode } from '../torture/helpers.js';

const RETRIES = 2; // src/platform/http.ts: default extra attempts for 429/5xx and quick network errors
let fake: FakeOpenAI;
const transcript: string[] = [];
const secrets: string[] = [];
const roots: string[] = [];
const servers: FaultServer[] = [];
let n = 0;

beforeAll(async () => {
  assertBuilt();
  fake = await FakeOpenAI.start();
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});
afterAll(async () => {
  await fake.close();
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
  for (const a of fake.refreshAttempts()) for (const k of ['refresh_token', 'access_token', 'id_token']) secrets.push(String(a.body[k] ?? ''));
  expect(findSecrets(transcript, secrets.filter((s) => s.length > 8))).toEqual([]);
});

async function faulty(action: FaultAction | ((i: number) => FaultAction)): Promise<FaultServer> {
  const s = await FaultServer.start((i) => (typeof action === 'function' ? action(i) : action));
  servers.push(s);
  return s;
}

function world() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-net-'));
  roots.push(root);
  const home = path.join(root, 'home');
  const codexHome = path.join(home, '.codex');
  fs.mkdirSync(codexHome, { recursive: true, mode: 0o700 });
  const authHome = path.join(codexHome, 'codex-auth');
  const base = { CODEX_AUTH_OPENAI_BASE_URL: fake.openaiBaseUrl, CODEX_AUTH_CHATGPT_BASE_URL: fake.chatgptBaseUrl, CODEX_REFRESH_TOKEN_URL_OVERRIDE: fake.refreshUrl, CODEX_AUTH_HTTP_TIMEOUT_MS: '3000' };
  return {
    root,
    home,
    codexHome,
    authHome,
    async run(args: string[], env: Record<string, string> = {}, input?: string): Promise<BinRun> {
      const r = await runNode(args, { home, codexHome, env: { ...base, ...env }, ...(input !== undefined ? { input } : {}) });
      transcript.push(r.stdout, r.stderr);
      expect(r.stderr, 'no stack trace').not.toMatch(/\bat .*:\d+:\d+/);
      expect(r.stderr).not.toMatch(/unexpected error/);
      return r;
    },
    key(): string {
      n += 1;
      const k = fakeApiKey(`net-${n}`);
      secrets.push(k);
      return k;
    },
    chatgpt(): ChatgptAuthDoc {
      n += 1;
      const doc = fake.addChatgptAccount({ email: `net-${n}@example.com`, userId: `user-net-${n}`, accountId: `acc-net-${n}` });
      secrets.push(doc.tokens.refresh_token, doc.tokens.access_token, doc.tokens.id_token);
      return doc;
    },
    file(name: string, doc: unknown): string {
      const f = path.join(root, name);
      fs.writeFileSync(f, JSON.stringify(doc));
      return f;
    },
    /** Nothing about an API key was stored: no secret file, no registry entry. */
    nothingStored(key: string): void {
      expect(ls(path.join(authHome, 'accounts'))).toEqual([]);
      if (fs.existsSync(path.join(authHome, 'registry.json'))) expect(readRegistry(path.join(authHome, 'registry.json')).accounts.filter((a) => a.kind === 'apikey')).toEqual([]);
      for (const f of ls(authHome)) if (!fs.statSync(path.join(authHome, f)).isDirectory()) expect(fs.readFileSync(path.join(authHome, f), 'utf8')).not.toContain(key);
    },
  };
}

type World = ReturnType<typeof world>;

// ------------------------------------------------------------------------------------------ /v1/me

describe('GET /v1/me: add-api-key --insecure-storage and import of an API-key auth.json', () => {
  const add = (w: World, key: string, env: Record<string, string>) => w.run(['add-api-key', '-', '--insecure-storage'], env, key);

  it('connection refused: a clear error naming the address, nothing stored', async () => {
    const w = world();
    const key = w.key();
    const port = await closedPort();
    const env = { CODEX_AUTH_OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1` };
    const r = await add(w, key, env);
    expect(r.code, explain(r)).toBe(1);
    expect(r.stderr).toBe(`error: Could not verify the API key with OpenAI: connection refused by http://127.0.0.1:${port}; nothing was stored. Use --skip-verify to store it without checking.\n`);
    w.nothingStored(key);
    const imp = await w.run(['import', w.file('key.json', apiKeyAuth(key))], env);
    expect(imp.code, explain(imp)).toBe(1);
    expect(imp.stdout).toContain(`(Could not verify the API key with OpenAI: connection refused by http://127.0.0.1:${port})`);
    expect(imp.stderr).toContain('0 imported, 0 updated, 0 unchanged, 1 skipped.');
    w.nothingStored(key);
  });

  it('reset halfway through the body: retried at most twice, then a clear error; nothing stored', async () => {
    const w = world();
    const key = w.key();
    const srv = await faulty({ kind: 'reset-mid-body' });
    const r = await add(w, key, { CODEX_AUTH_OPENAI_BASE_URL: `${srv.origin}/v1` });
    expect(r.code, explain(r)).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^error: Could not verify the API key with OpenAI: connection to http://127\\.0\\.0\\.1:${srv.port} was reset( mid-answer)?; nothing was stored\\.`));
    expect(srv.requests.length).toBe(1 + RETRIES);
    expect(srv.requests.every((q) => q.method === 'GET' && q.path === '/v1/me')).toBe(true);
    w.nothingStored(key);
  });

  it('a body that stalls past the timeout: one attempt only (a timeout is not multiplied), a clear error', async () => {
    const w = world();
    const key = w.key();
    const srv = await faulty({ kind: 'stall-body' });
    const r = await add(w, key, { CODEX_AUTH_OPENAI_BASE_URL: `${srv.origin}/v1`, CODEX_AUTH_HTTP_TIMEOUT_MS: '700' });
    expect(r.code, explain(r)).toBe(1);
    expect(r.stderr).toContain(`Could not verify the API key with OpenAI: no answer from http://127.0.0.1:${srv.port}/v1/me within 0.7s; nothing was stored.`);
    expect(srv.requests.length).toBe(1);
    expect(r.durationMs).toBeGreaterThanOrEqual(700);
    w.nothingStored(key);
  });

  it('500 twice then success: retried, stored; 500 forever: exactly 1 + 2 attempts, then a clear error', async () => {
    const w = world();
    const key = w.key();
    fake.addApiKey(key, { id: 'user-net-500', email: 'net-500@example.com' }, { status: 500, times: 2 });
    const r = await add(w, key, {});
    expect(r.code, explain(r)).toBe(0);
    expect(fake.requests({ path: '/v1/me', bearer: key }).length).toBe(3);
    expect(readRegistry(path.join(w.authHome, 'registry.json')).accounts.filter((a) => a.kind === 'apikey')).toHaveLength(1);

    const w2 = world();
    const key2 = w2.key();
    fake.addApiKey(key2, { id: 'user-net-500b', email: 'net-500b@example.com' }, { status: 500 });
    const r2 = await add(w2, key2, {});
    expect(r2.code, explain(r2)).toBe(1);
    expect(r2.stderr).toBe('error: OpenAI answered HTTP 500 to GET /v1/me (try again later); nothing was stored.\n');
    expect(fake.requests({ path: '/v1/me', bearer: key2 }).length).toBe(1 + RETRIES);
    w2.nothingStored(key2);
  });

  it('429 with Retry-After: 1 waits about a second before the retry, then succeeds', async () => {
    const w = world();
    const key = w.key();
    fake.addApiKey(key, { id: 'user-net-429', email: 'net-429@example.com' }, { status: 429, headers: { 'retry-after': '1' }, times: 1 });
    const r = await add(w, key, {});
    expect(r.code, explain(r)).toBe(0);
    const reqs = fake.requests({ path: '/v1/me', bearer: key });
    expect(reqs.length).toBe(2);
    expect(reqs[1]!.at.getTime() - reqs[0]!.at.getTime(), 'the retry waited for Retry-After').toBeGreaterThanOrEqual(990);
  });
});

// ---------------------------------------------------------------------------------- /wham/usage

describe('GET /wham/usage: list --refresh', () => {
  async function withAccount(): Promise<{ w: World; doc: ChatgptAuthDoc }> {
    const w = world();
    const doc = w.chatgpt();
    fs.writeFileSync(path.join(w.codexHome, 'auth.json'), JSON.stringify(doc), { mode: 0o600 });
    expect((await w.run(['list'])).code).toBe(0);
    return { w, doc };
  }
  async function usageOf(w: World, env: Record<string, string>): Promise<{ r: BinRun; usage: { error: string | null; fiveHour: unknown } }> {
    const r = await w.run(['list', '--refresh', '--json'], env);
    expect(r.code, explain(r)).toBe(0);
    return { r, usage: JSON.parse(r.stdout).accounts[0].usage };
  }

  it('connection refused: the account shows "refused", the list still works', async () => {
    const { w } = await withAccount();
    const port = await closedPort();
    const { usage } = await usageOf(w, { CODEX_AUTH_CHATGPT_BASE_URL: `http://127.0.0.1:${port}/backend-api` });
    expect(usage.error).toBe('refused');
    const table = await w.run(['list']);
    expect(table.stdout).toContain('refused');
  });

  it('reset halfway through the body: "reset", at most 1 + 2 attempts', async () => {
    const { w } = await withAccount();
    const srv = await faulty({ kind: 'reset-mid-body' });
    const { usage } = await usageOf(w, { CODEX_AUTH_CHATGPT_BASE_URL: `${srv.origin}/backend-api` });
    expect(usage.error).toBe('reset');
    expect(srv.requests.length).toBe(1 + RETRIES);
    expect(srv.requests[0]?.path).toBe('/backend-api/wham/usage');
  });

  it('a body that stalls past the timeout: "timeout" after one attempt', async () => {
    const { w } = await withAccount();
    const srv = await faulty({ kind: 'stall-body' });
    const { usage } = await usageOf(w, { CODEX_AUTH_CHATGPT_BASE_URL: `${srv.origin}/backend-api`, CODEX_AUTH_HTTP_TIMEOUT_MS: '700' });
    expect(usage.error).toBe('timeout');
    expect(srv.requests.length).toBe(1);
  });

  it('500 twice then success: the usage arrives; 500 forever: "500" after exactly 1 + 2 attempts', async () => {
    const { w, doc } = await withAccount();
    fake.setUsage(doc.tokens.account_id, { primary: { usedPercent: 30 }, fault: { status: 500, times: 2 } });
    const { usage } = await usageOf(w, {});
    expect(usage.error).toBeNull();
    expect(usage.fiveHour).toMatchObject({ usedPercent: 30, remainingPercent: 70 });
    expect(fake.requests({ path: '/backend-api/wham/usage', bearer: doc.tokens.access_token }).length).toBe(3);

    const second = await withAccount();
    fake.setUsage(second.doc.tokens.account_id, { fault: { status: 500 } });
    const again = await usageOf(second.w, {});
    expect(again.usage.error).toBe('500');
    expect(fake.requests({ path: '/backend-api/wham/usage', bearer: second.doc.tokens.access_token }).length).toBe(1 + RETRIES);
  });

  it('429 with Retry-After: 1 waits about a second, then the usage arrives', async () => {
    const { w, doc } = await withAccount();
    fake.setUsage(doc.tokens.account_id, { primary: { usedPercent: 55 }, fault: { status: 429, headers: { 'retry-after': '1' }, times: 1 } });
    const { usage } = await usageOf(w, {});
    expect(usage.error).toBeNull();
    const reqs = fake.requests({ path: '/backend-api/wham/usage', bearer: doc.tokens.access_token });
    expect(reqs.length).toBe(2);
    expect(reqs[1]!.at.getTime() - reqs[0]!.at.getTime()).toBeGreaterThanOrEqual(990);
  });
});

// --------------------------------------------------------------------------------- /oauth/token

describe('POST /oauth/token: refresh --force (never retried: a retried POST could reuse a rotated token)', () => {
  async function withAccount(): Promise<{ w: World; doc: ChatgptAuthDoc }> {
    const w = world();
    const doc = w.chatgpt();
    fs.writeFileSync(path.join(w.codexHome, 'auth.json'), JSON.stringify(doc), { mode: 0o600 });
    expect((await w.run(['list'])).code).toBe(0);
    return { w, doc };
  }
  /** The failure left everything as it was: same token, still accepted, not marked "login required". */
  function untouched(w: World, doc: ChatgptAuthDoc): void {
    const reg = readRegistry(path.join(w.authHome, 'registry.json'));
    expect(reg.accounts[0]?.loginRequired ?? null).toBeNull();
    const stored = JSON.parse(fs.readFileSync(path.join(w.authHome, 'accounts', `${reg.accounts[0]?.secret.ref}.json`), 'utf8')) as ChatgptAuthDoc;
    expect(stored.tokens.refresh_token).toBe(doc.tokens.refresh_token);
    expect(JSON.parse(fs.readFileSync(path.join(w.codexHome, 'auth.json'), 'utf8'))).toEqual(doc);
    expect(fake.refreshTokenState(doc.tokens.refresh_token)).toBe('current');
  }
  const failedLine = (doc: ChatgptAuthDoc, reason: string) => `failed ${doc.tokens.account_id.replace('acc-', '')}@example.com (plus) (${reason})\n`;

  it('connection refused: "failed" with the reason, the token untouched', async () => {
    const { w, doc } = await withAccount();
    const port = await closedPort();
    const r = await w.run(['refresh', '--force'], { CODEX_REFRESH_TOKEN_URL_OVERRIDE: `http://127.0.0.1:${port}/oauth/token` });
    expect(r.code, explain(r)).toBe(1);
    expect(r.stdout).toBe(failedLine(doc, `connection refused by http://127.0.0.1:${port}`));
    untouched(w, doc);
  });

  it('reset halfway through the body: exactly one POST, "failed", nothing stored', async () => {
    const { w, doc } = await withAccount();
    const srv = await faulty({ kind: 'reset-mid-body' });
    const r = await w.run(['refresh', '--force'], { CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${srv.origin}/oauth/token` });
    expect(r.code, explain(r)).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^failed ${doc.tokens.account_id.replace('acc-', '')}@example\\.com \\(plus\\) \\(connection to http://127\\.0\\.0\\.1:${srv.port} was reset( mid-answer)?\\)\\n$`));
    expect(srv.requests.length).toBe(1);
    expect(srv.requests[0]).toMatchObject({ method: 'POST', path: '/oauth/token' });
    untouched(w, doc);
  });

  it('a body that stalls past the timeout: exactly one POST, "failed" naming the timeout', async () => {
    const { w, doc } = await withAccount();
    const srv = await faulty({ kind: 'stall-body' });
    const r = await w.run(['refresh', '--force'], { CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${srv.origin}/oauth/token`, CODEX_AUTH_HTTP_TIMEOUT_MS: '700' });
    expect(r.code, explain(r)).toBe(1);
    expect(r.stdout).toBe(failedLine(doc, `no answer from http://127.0.0.1:${srv.port}/oauth/token within 0.7s`));
    expect(srv.requests.length).toBe(1);
    untouched(w, doc);
  });

  it('500: exactly one POST, "failed" (transient, not "login required"); the next refresh succeeds', async () => {
    const { w, doc } = await withAccount();
    fake.setRefreshFault(doc.tokens.account_id, { status: 500, times: 1 });
    const before = fake.requests({ path: '/oauth/token' }).length;
    const r = await w.run(['refresh', '--force']);
    expect(r.code, explain(r)).toBe(1);
    expect(r.stdout).toBe(failedLine(doc, 'the token refresh failed (HTTP 500, http_500)'));
    expect(fake.requests({ path: '/oauth/token' }).length - before).toBe(1);
    untouched(w, doc);
    const ok = await w.run(['refresh', '--force']);
    expect(ok.code, explain(ok)).toBe(0);
    expect(fake.refreshTokenState(doc.tokens.refresh_token)).toBe('used');
  });

  it('429 with Retry-After: exactly one POST, no retry, "failed" with the status', async () => {
    const { w, doc } = await withAccount();
    fake.setRefreshFault(doc.tokens.account_id, { status: 429, headers: { 'retry-after': '1' }, times: 1 });
    const before = fake.requests({ path: '/oauth/token' }).length;
    const r = await w.run(['refresh', '--force']);
    expect(r.code, explain(r)).toBe(1);
    expect(r.stdout).toBe(failedLine(doc, 'the token refresh failed (HTTP 429, rate_limit_exceeded)'));
    expect(fake.requests({ path: '/oauth/token' }).length - before).toBe(1);
    untouched(w, doc);
  });
});
