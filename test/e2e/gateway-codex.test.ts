/**
 * The real Codex CLI (0.169.0, `codex exec`) through `codex-auth gateway serve` to the fake OpenAI
 * (CODEX-FACTS.md §10). Codex has its own CODEX_HOME holding only a placeholder login (built here);
 * codex-auth's home, with the real accounts, is elsewhere (CODEX_AUTH_HOME).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { assertBuilt } from '../support/bin.js';
import { CODEX_BIN, codexAvailable, codexSandbox, runCodex } from '../support/codex.js';
import { explain, secretScan } from '../support/e2e.js';
import { FakeOpenAI } from '../support/fake-openai.js';
import { type GatewayProcess, startGatewayProcess } from '../support/gateway.js';
import { makeSandbox } from '../support/inprocess.js';
import { fakeApiKey, makeJwt, nowSeconds } from '../support/jwt.js';

if (!codexAvailable()) {
  const why = `the real Codex CLI is missing at ${CODEX_BIN} (npm install installs @openai/codex)`;
  if (process.env.CI) throw new Error(why);
  console.warn(`\n*** SKIPPING gateway e2e tests: ${why} ***\n`);
}

describe.skipIf(!codexAvailable())('the real Codex through the gateway', () => {
  let fake: FakeOpenAI;
  const { transcript, secrets } = secretScan();

  beforeAll(async () => {
    assertBuilt();
    fake = await FakeOpenAI.start();
  });
  afterAll(async () => {
    await fake.close();
  });

  /** codex-auth's accounts (A, and the fallback API key), a running gateway, and Codex's own home. */
  async function setup(tag: string) {
    const sb = makeSandbox();
    onTestFinished(() => sb.cleanup());
    const authHome = path.join(sb.root, 'codex-auth-home');
    Object.assign(sb.env, {
      CODEX_AUTH_HOME: authHome,
      CODEX_AUTH_OPENAI_BASE_URL: fake.openaiBaseUrl,
      CODEX_AUTH_CHATGPT_BASE_URL: fake.chatgptBaseUrl,
      CODEX_REFRESH_TOKEN_URL_OVERRIDE: fake.refreshUrl,
    });
    const a = fake.addChatgptAccount({ email: `${tag}@example.com`, userId: `user-${tag}`, accountId: `acc-${tag}` });
    secrets.push(a.tokens.access_token, a.tokens.refresh_token);
    sb.writeAuth(a);
    const key = fakeApiKey(`gateway-e2e-${tag}`);
    secrets.push(key);
    fake.addApiKey(key, { id: `user-key-${tag}`, email: `key-${tag}@example.com` });
    for (const [args, input] of [[['list']], [['add-api-key', '-', '--insecure-storage'], key], [['fallback', 'enable', '--no-rotate']]] as Array<[string[], string?]>) {
      const r = await sb.run(args, input !== undefined ? { input } : {});
      expect(r.code, r.stderr).toBe(0);
    }
    // The Codex under test runs in a home of its own that holds only the placeholder login.
    const gw = await startGatewayProcess({ home: sb.home, codexAuthHome: authHome, env: sb.env });
    onTestFinished(async () => {
      const r = await gw.stop();
      transcript.push(r.stdout, r.stderr);
    });
    secrets.push(gw.secret);
    const codexSb = codexSandbox(onTestFinished);
    const check = (await (await fetch(`${gw.backend}wham/accounts/check`, { headers: { authorization: gw.auth } })).json()) as { account_ordering: string[] };
    writePlaceholder(codexSb.codexHome, gw, check.account_ordering[0] as string);
    return { a, key, gw, codexSb };
  }

  function writePlaceholder(codexHome: string, gw: GatewayProcess, accountId: string): void {
    const claims = {
      exp: 4_102_444_800,
      'https://api.openai.com/auth': { chatgpt_plan_type: 'plus', chatgpt_user_id: 'gw', user_id: 'gw', chatgpt_account_id: accountId },
      'https://codex-auth.invalid/gateway': { secret: gw.secret },
    };
    const doc = {
      auth_mode: 'chatgpt',
      OPENAI_API_KEY: null,
      tokens: { id_token: makeJwt({ ...claims, email: 'gw@example.invalid' }), access_token: makeJwt(claims), refresh_token: 'placeholder', account_id: accountId },
      last_refresh: new Date().toISOString(),
    };
    fs.writeFileSync(path.join(codexHome, 'auth.json'), JSON.stringify(doc), { mode: 0o600 });
  }

  /** `compression`: Codex's zstd request bodies on (they pass through to a ChatGPT account as they are). */
  const exec = async (gw: GatewayProcess, sb: { home: string; codexHome: string }, prompt: string, compression = false) => {
    const r = await runCodex(
      [
        'exec',
        '--skip-git-repo-check',
        '-c',
        `chatgpt_base_url="${gw.backend}"`,
        '-c',
        `openai_base_url="${gw.model}"`,
        '-c',
        'analytics.enabled=false',
        '-c',
        'check_for_update_on_startup=false',
        '-c',
        `features.enable_request_compression=${compression}`,
        '--disable',
        'apps',
        '--disable',
        'plugins',
        '--disable',
        'remote_plugin',
        prompt,
      ],
      { ...sb, timeoutMs: 60_000 },
    );
    transcript.push(r.stdout, r.stderr);
    return r;
  };

  it('(a) a normal turn is served by the chosen account', async () => {
    const { a, gw, codexSb } = await setup('gwa');
    fake.setResponses(a.tokens.access_token, { text: 'served by A' });
    const r = await exec(gw, codexSb, 'say hi', true);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toContain('served by A');
    const model = fake.requests({ bearer: a.tokens.access_token, path: '/backend-api/codex/responses' });
    expect(model.length).toBeGreaterThan(0);
    expect(model[0]!.headers['chatgpt-account-id']).toBe('acc-gwa');
    expect(model[0]!.headers['content-encoding']).toBe('zstd'); // Codex's body, passed through as it came
    // Codex never held a real secret, and never called the token endpoint.
    const held = fs.readFileSync(path.join(codexSb.codexHome, 'auth.json'), 'utf8');
    expect(held).not.toContain(a.tokens.access_token);
    expect(fake.refreshAttempts().some((x) => x.refreshToken === 'placeholder')).toBe(false);
  });

  it('(b) a usage limit is served from the API key in the same turn: exit 0, no usage-limit message', async () => {
    const { a, key, gw, codexSb } = await setup('gwb');
    fake.setResponses(a.tokens.access_token, { usageLimit: { resetsAt: nowSeconds() + 3600 } });
    fake.setResponses(key, { text: 'served by the key' });
    const r = await exec(gw, codexSb, 'say hi');
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toContain('served by the key');
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/usage limit/i);
    expect(fake.requests({ bearer: key, path: '/v1/responses' }).length).toBeGreaterThan(0);
    expect(gw.lines().some((l) => l.event === 'failover')).toBe(true);
  });
});
