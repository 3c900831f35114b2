/**
 * codex-auth and the REAL Codex CLI (@openai/codex, pinned devDependency) on the same CODEX_HOME:
 * Codex writes what we import, and Codex uses what we switch to — proven by the bearer token the
 * fake OpenAI receives.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { runBin } from '../support/bin.js';
import { codexExecArgs, codexSandbox, runCodex } from '../support/codex.js';
import { e2eSuite, explain, withRealCodex } from '../support/e2e.js';
import { codexMaskedKey, fakeApiKey } from '../support/jwt.js';

const realCodex = withRealCodex('Codex interop tests');


describe.skipIf(!realCodex)('interop with the real Codex CLI', () => {
  const { fake, transcript, secrets } = e2eSuite();

  function tools(sb: { home: string; codexHome: string }) {
    const auth = async (args: string[], input?: string) => {
      const r = await runBin(args, { home: sb.home, codexHome: sb.codexHome, env: { CODEX_AUTH_OPENAI_BASE_URL: fake.openaiBaseUrl }, ...(input !== undefined ? { input } : {}) });
      transcript.push(r.stdout, r.stderr);
      return r;
    };
    const codex = async (args: string[], input?: string) => {
      const r = await runCodex(args, { ...sb, ...(input !== undefined ? { input } : {}) });
      transcript.push(r.stdout, r.stderr);
      return r;
    };
    return { auth, codex };
  }

  it('(a) imports what `codex login --with-api-key` wrote, with the identity from /v1/me', async () => {
    const sb = codexSandbox(onTestFinished);
    const { auth, codex } = tools(sb);
    const key = fakeApiKey('interop-a');
    secrets.push(key);
    fake.addApiKey(key, { id: 'user-interop-a', email: 'dev-a@example.com', name: 'Dev A' });
    const login = await codex(['login', '--with-api-key'], `${key}\n`);
    expect(login.code, explain(login)).toBe(0);
    const imp = await auth(['import']);
    expect(imp.code, explain(imp)).toBe(0);
    expect(imp.stdout).toMatch(/^(imported|unchanged)\s+.*auth\.json\s+dev-a@example\.com \(API key sk-proj-\*\*\*/m);
    const list = JSON.parse((await auth(['list', '--json'])).stdout);
    expect(list.accounts).toHaveLength(1);
    expect(list.accounts[0]).toMatchObject({ kind: 'apikey', email: 'dev-a@example.com', plan: 'API_KEY', active: true, keyMask: `${key.slice(0, 8)}***${key.slice(-4)}` });
    expect(list.accounts[0].id).toMatch(/^apikey::user-interop-a::[0-9a-f]{64}$/);
    expect(fake.requests({ path: '/v1/me', bearer: key }).length).toBeGreaterThan(0);
  });

  it('(b, c) after a switch Codex reports and uses exactly the switched account', async () => {
    const sb = codexSandbox(onTestFinished);
    const { auth, codex } = tools(sb);
    const alice = fake.addChatgptAccount({ email: 'alice@example.com', userId: 'user-alice', accountId: 'acc-alice', plan: 'plus' });
    const bob = fake.addChatgptAccount({ email: 'bob@example.com', userId: 'user-bob', accountId: 'acc-bob', plan: 'pro' });
    const key = fakeApiKey('interop-b');
    fake.addApiKey(key, { id: 'user-interop-b', email: 'dev-b@example.com' });
    secrets.push(key, alice.tokens.refresh_token, alice.tokens.access_token, bob.tokens.refresh_token, bob.tokens.access_token);
    const dir = path.join(sb.home, 'in');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'alice.json'), JSON.stringify(alice));
    fs.writeFileSync(path.join(dir, 'bob.json'), JSON.stringify(bob));
    fs.writeFileSync(path.join(dir, 'key.json'), JSON.stringify({ auth_mode: 'apikey', OPENAI_API_KEY: key }));
    expect((await auth(['import', dir])).code).toBe(0);

    // ChatGPT account: Codex says so, and its model call carries bob's access token.
    let sw = await auth(['switch', 'bob']);
    expect(sw.code, explain(sw)).toBe(0);
    let status = await codex(['login', 'status']);
    expect(status.code, explain(status)).toBe(0);
    expect(status.stdout + status.stderr).toContain('Logged in using ChatGPT');
    fake.clearRequests();
    let exec = await codex(codexExecArgs(fake, { mode: 'chatgpt' }));
    expect(exec.code, explain(exec)).toBe(0);
    expect(exec.stdout).toContain('hi');
    expect(fake.bearerTokensSeen(/\/responses$/)).toEqual([bob.tokens.access_token]);
    expect(fake.requests({ path: /\/responses$/, method: 'POST' }).at(-1)?.headers['chatgpt-account-id']).toBe('acc-bob');

    // API-key account: Codex prints that key's masked form, and its model call carries the key.
    sw = await auth(['switch', 'dev-b']);
    expect(sw.code, explain(sw)).toBe(0);
    status = await codex(['login', 'status']);
    expect(status.code, explain(status)).toBe(0);
    expect(status.stdout + status.stderr).toContain(`API key configured - ${codexMaskedKey(key)}`);
    fake.clearRequests();
    exec = await codex(codexExecArgs(fake, { mode: 'apikey' }));
    expect(exec.code, explain(exec)).toBe(0);
    expect(fake.bearerTokensSeen(/\/responses$/)).toEqual([key]);

    // And to the other ChatGPT account.
    sw = await auth(['switch', 'alice']);
    expect(sw.code).toBe(0);
    fake.clearRequests();
    exec = await codex(codexExecArgs(fake, { mode: 'chatgpt' }));
    expect(exec.code, explain(exec)).toBe(0);
    expect(fake.bearerTokensSeen(/\/responses$/)).toEqual([alice.tokens.access_token]);
    expect(fake.revokedTokens()).toEqual([]);
  });
});
