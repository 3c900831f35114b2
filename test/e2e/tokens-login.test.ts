/**
 * Token rotation and isolated login with the REAL Codex CLI against a fake OpenAI that rejects reused
 * refresh tokens (refresh_token_reused), as OpenAI does.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { BIN, runBin } from '../support/bin.js';
import { CODEX_BIN, codexExecArgs, codexSandbox, isolatedEnv, readAuthJson, runCodex } from '../support/codex.js';
import { e2eSuite, explain, withRealCodex } from '../support/e2e.js';
import { fakeApiKey, nowSeconds } from '../support/jwt.js';

const realCodex = withRealCodex('token and login e2e tests');


describe.skipIf(!realCodex)('tokens and login with the real Codex CLI', () => {
  const { fake, transcript, secrets } = e2eSuite();

  function tools(sb: { home: string; codexHome: string }) {
    const env = { CODEX_AUTH_OPENAI_BASE_URL: fake.openaiBaseUrl, CODEX_AUTH_CHATGPT_BASE_URL: fake.chatgptBaseUrl, CODEX_REFRESH_TOKEN_URL_OVERRIDE: fake.refreshUrl, CODEX_AUTH_CODEX_BIN: CODEX_BIN };
    const auth = async (args: string[], input?: string) => {
      const r = await runBin(args, { home: sb.home, codexHome: sb.codexHome, env, ...(input !== undefined ? { input } : {}) });
      transcript.push(r.stdout, r.stderr);
      return r;
    };
    const codex = async (args: string[]) => {
      const r = await runCodex(args, { ...sb, env: { CODEX_REFRESH_TOKEN_URL_OVERRIDE: fake.refreshUrl } });
      transcript.push(r.stdout, r.stderr);
      return r;
    };
    return { auth, codex, env };
  }

  it('keeps the refresh token Codex rotated across switching away and back', async () => {
    const sb = codexSandbox(onTestFinished);
    const { auth, codex } = tools(sb);
    const a = fake.addChatgptAccount({ email: 'rot-a@example.com', userId: 'user-rot-a', accountId: 'acc-rot-a', accessExp: nowSeconds() - 60, lastRefresh: '2026-01-01T00:00:00Z' });
    const b = fake.addChatgptAccount({ email: 'rot-b@example.com', userId: 'user-rot-b', accountId: 'acc-rot-b' });
    secrets.push(a.tokens.refresh_token, a.tokens.access_token, b.tokens.refresh_token, b.tokens.access_token);
    fs.writeFileSync(path.join(sb.codexHome, 'auth.json'), JSON.stringify(a, null, 2));
    const bFile = path.join(sb.home, 'b.json');
    fs.writeFileSync(bFile, JSON.stringify(b));
    expect((await auth(['import', bFile])).code).toBe(0); // also imports A (the live login) on first sync

    // 1. Codex refreshes A's expired token and writes a rotated refresh token into the live auth.json.
    let exec = await codex(codexExecArgs(fake, { mode: 'chatgpt' }));
    expect(exec.code, explain(exec)).toBe(0);
    const rotated = readAuthJson(sb.codexHome).tokens as { refresh_token: string; access_token: string };
    secrets.push(rotated.refresh_token, rotated.access_token);
    expect(rotated.refresh_token).not.toBe(a.tokens.refresh_token);
    expect(fake.refreshTokenState(a.tokens.refresh_token)).toBe('used');

    // 2. Switch to B and back to A: the switch saved the rotated token before leaving A.
    expect((await auth(['switch', 'rot-b'])).code).toBe(0);
    expect((await auth(['switch', 'rot-a'])).code).toBe(0);
    expect((readAuthJson(sb.codexHome).tokens as { refresh_token: string }).refresh_token).toBe(rotated.refresh_token);

    // 3. The server now rejects A's access token (revoked early): Codex recovers by refreshing with the
    //    rotated token we restored, and succeeds; nothing was ever reused.
    fake.setResponses(rotated.access_token, { fault: { status: 401 } });
    exec = await codex(codexExecArgs(fake, { mode: 'chatgpt' }));
    expect(exec.code, explain(exec)).toBe(0);
    const latest = fake.latestTokens('acc-rot-a');
    secrets.push(latest.refresh_token, latest.access_token);
    expect(fake.refreshTokenState(rotated.refresh_token)).toBe('used');
    expect(fake.refreshAttempts().filter((x) => x.error === 'refresh_token_reused')).toEqual([]);
    expect(fake.bearerTokensSeen('/backend-api/codex/responses').at(-1)).toBe(latest.access_token);
  });

  it('login --with-api-key runs codex in a scratch home: the new account is imported, the active one untouched', async () => {
    const sb = codexSandbox(onTestFinished);
    const { auth } = tools(sb);
    const a = fake.addChatgptAccount({ email: 'login-a@example.com', userId: 'user-login-a', accountId: 'acc-login-a' });
    secrets.push(a.tokens.refresh_token, a.tokens.access_token);
    fs.writeFileSync(path.join(sb.codexHome, 'auth.json'), JSON.stringify(a, null, 2));
    expect((await auth(['list'])).code).toBe(0);
    const liveBefore = fs.readFileSync(path.join(sb.codexHome, 'auth.json'));
    const key = fakeApiKey('login-key');
    secrets.push(key);
    fake.addApiKey(key, { id: 'user-login-key', email: 'login-key@example.com' });
    const r = await auth(['login', '--with-api-key', '--alias', 'billing'], `${key}\n`);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toMatch(/^imported\s+codex login\s+billing — login-key@example\.com \(API key sk-proj-\*\*\*/m);
    expect(fs.readFileSync(path.join(sb.codexHome, 'auth.json')).equals(liveBefore)).toBe(true);
    const list = JSON.parse((await auth(['list', '--json'])).stdout);
    expect(list.active).toBe('chatgpt::user-login-a::acc-login-a');
    expect(list.accounts.find((x: { alias: string }) => x.alias === 'billing')).toMatchObject({ kind: 'apikey', email: 'login-key@example.com' });
    expect(fs.readdirSync(path.join(sb.codexHome, 'codex-auth')).filter((f) => f.startsWith('login-'))).toEqual([]);
    expect(fake.revokedTokens()).toEqual([]);

    // An alias that is already an account's email or id is refused before codex is started (no
    // login to go through for nothing); another account's alias is only known after the login.
    for (const alias of ['LOGIN-A@example.com', 'chatgpt::user-login-a::acc-login-a']) {
      const clash = await auth(['login', '--with-api-key', '--alias', alias], `${key}\n`);
      expect(clash.code, explain(clash)).toBe(2);
      expect(clash.stderr).toContain('cannot be used: it is the');
      expect(clash.stderr).not.toContain('Starting "codex login"');
      expect(clash.stderr).not.toContain('Reading the API key');
    }
    expect(JSON.parse((await auth(['list', '--json'])).stdout).accounts).toHaveLength(2);
  });

  it('a failed or interrupted login leaves no scratch home and changes nothing', async () => {
    const sb = codexSandbox(onTestFinished);
    const { auth, env } = tools(sb);
    const failed = await auth(['login', '--with-api-key'], '');
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('"codex login" failed');
    const home = path.join(sb.codexHome, 'codex-auth');
    expect(fs.readdirSync(home).filter((f) => f.startsWith('login-'))).toEqual([]);
    expect(fs.existsSync(path.join(home, 'registry.json'))).toBe(false);

    // The browser flow waits for a callback that never comes: Ctrl-C (SIGINT to the group) ends it.
    const child = spawn(process.execPath, [BIN, 'login'], { env: isolatedEnv(sb.home, { CODEX_HOME: sb.codexHome, ...env, BROWSER: 'true' }), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    for (let i = 0; i < 100 && fs.readdirSync(home).filter((f) => f.startsWith('login-')).length === 0; i += 1) await new Promise((r) => setTimeout(r, 50));
    expect(fs.readdirSync(home).filter((f) => f.startsWith('login-'))).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 500));
    process.kill(-(child.pid as number), 'SIGINT');
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('hung'), 15_000))]);
    transcript.push(err);
    if (code === 'hung') process.kill(-(child.pid as number), 'SIGKILL');
    expect(code).not.toBe('hung');
    expect(code).not.toBe(0);
    expect(fs.readdirSync(home).filter((f) => f.startsWith('login-'))).toEqual([]);
  });
});
