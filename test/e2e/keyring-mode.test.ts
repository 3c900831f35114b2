/**
 * The built binary with a real Secret Service (private D-Bus + gnome-keyring, see global-setup.ts)
 * and the real Codex CLI in its keyring and auto credential modes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { keyringEnv, requireKeyring, runBin } from '../support/bin.js';
import { codexExecArgs, codexSandbox, runCodex } from '../support/codex.js';
import { e2eSuite, explain, withRealCodex } from '../support/e2e.js';
import { freePortPair, startGatewayProcess } from '../support/gateway.js';
import { startKeyringSession } from '../support/keyring-session.js';
import { codexMaskedKey, fakeApiKey } from '../support/jwt.js';

const gate = requireKeyring();
const realCodex = withRealCodex('keyring e2e tests');


function filesContaining(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && fs.readFileSync(p).includes(needle)) hits.push(p);
    }
  };
  walk(dir);
  return hits;
}

describe.skipIf(gate.skip || !realCodex)('the OS keyring, for real', () => {
  const { fake, transcript, secrets } = e2eSuite();

  function tools(sb: { home: string; codexHome: string }, extraEnv: Record<string, string> = {}) {
    const auth = async (args: string[], input?: string) => {
      const r = await runBin(args, { home: sb.home, codexHome: sb.codexHome, env: { CODEX_AUTH_OPENAI_BASE_URL: fake.openaiBaseUrl, ...extraEnv }, ...(input !== undefined ? { input } : {}) });
      transcript.push(r.stdout, r.stderr);
      return r;
    };
    const codex = async (args: string[], input?: string) => {
      const r = await runCodex(args, { ...sb, env: { ...keyringEnv(), ...extraEnv }, ...(input !== undefined ? { input } : {}) });
      transcript.push(r.stdout, r.stderr);
      return r;
    };
    return { auth, codex };
  }

  it('add-api-key puts the key in the keyring and in no file; a fresh process reads it back', async () => {
    const sb = codexSandbox(onTestFinished);
    const { auth } = tools(sb);
    const key = fakeApiKey('kr-add');
    secrets.push(key);
    fake.addApiKey(key, { id: 'user-kr-add', email: 'kr-add@example.com' });
    const r = await auth(['add-api-key', '-'], key);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stderr).toContain('in the OS keyring');
    expect(filesContaining(sb.home, key)).toEqual([]);
    const st = await auth(['status', '--json']);
    expect(JSON.parse(st.stdout).secretStorage.apikey).toBe('OS keyring (Secret Service), service codex-auth');
    // Another process switches Codex to it: the key comes back out of the keyring into auth.json.
    const sw = await auth(['switch', 'kr-add']);
    expect(sw.code, explain(sw)).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(sb.codexHome, 'auth.json'), 'utf8')).OPENAI_API_KEY).toBe(key);
    // Removing it deletes the keyring entry: adding the key with the keyring gone would not find it.
    expect((await auth(['remove', 'kr-add', '--yes'])).code).toBe(0);
    const again = await auth(['add-api-key', '-', '--json'], key);
    expect(JSON.parse(again.stdout).added).toBe(true);
  });

  it('without any D-Bus: a clear error within the timeout, nothing written', async () => {
    const sb = codexSandbox(onTestFinished);
    const { auth } = tools(sb, { DBUS_SESSION_BUS_ADDRESS: `unix:path=${path.join(sb.home, 'no-such-bus')}` });
    const key = fakeApiKey('kr-nobus');
    secrets.push(key);
    fake.addApiKey(key);
    const r = await auth(['add-api-key', '-'], key);
    expect(r.code).toBe(1);
    expect(r.timedOut).toBe(false);
    expect(r.stderr).toContain('Cannot write to the OS keyring (unavailable): no Secret Service is running');
    expect(r.stderr).toContain('--insecure-storage');
    expect(fs.existsSync(path.join(sb.codexHome, 'codex-auth', 'registry.json'))).toBe(false);
    expect(filesContaining(sb.home, key)).toEqual([]);
  });

  it('a locked collection gives a clear error and stores nothing', async () => {
    const session = await startKeyringSession();
    onTestFinished(() => session.stop());
    await session.lock();
    const sb = codexSandbox(onTestFinished);
    const { auth } = tools(sb, { DBUS_SESSION_BUS_ADDRESS: session.busAddress, XDG_RUNTIME_DIR: session.env.XDG_RUNTIME_DIR ?? '' });
    const key = fakeApiKey('kr-locked');
    secrets.push(key);
    fake.addApiKey(key);
    const r = await auth(['add-api-key', '-'], key);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/locked/i);
    expect(r.stderr).toMatch(/unlock/i);
    expect(fs.existsSync(path.join(sb.codexHome, 'codex-auth', 'registry.json'))).toBe(false);
  });

  for (const mode of ['keyring', 'auto'] as const) {
    it(`Codex in ${mode} mode: import picks the login up from the keyring; a switch lands there, never in auth.json`, async () => {
      const sb = codexSandbox(onTestFinished);
      fs.writeFileSync(path.join(sb.codexHome, 'config.toml'), `cli_auth_credentials_store = "${mode}"\n`);
      const { auth, codex } = tools(sb);
      const key = fakeApiKey(`kr-${mode}`);
      secrets.push(key);
      fake.addApiKey(key, { id: `user-kr-${mode}`, email: `kr-${mode}@example.com` });
      const login = await codex(['login', '--with-api-key'], `${key}\n`);
      expect(login.code, explain(login)).toBe(0);
      expect(fs.existsSync(path.join(sb.codexHome, 'auth.json'))).toBe(false);

      const imp = await auth(['import']);
      expect(imp.code, explain(imp)).toBe(0);
      expect(imp.stdout).toMatch(new RegExp(`OS keyring entry "Codex Auth".*kr-${mode}@example\\.com`));
      const st = JSON.parse((await auth(['status', '--json'])).stdout);
      expect(st.credentialStore).toMatchObject({ mode, explicit: true });
      expect(st.active.email).toBe(`kr-${mode}@example.com`);

      const bob = fake.addChatgptAccount({ email: `bob-${mode}@example.com`, userId: `user-bob-${mode}`, accountId: `acc-bob-${mode}` });
      secrets.push(bob.tokens.refresh_token, bob.tokens.access_token);
      const bobFile = path.join(sb.home, 'bob.json');
      fs.writeFileSync(bobFile, JSON.stringify(bob));
      expect((await auth(['import', bobFile])).code).toBe(0);
      fs.rmSync(bobFile);

      let sw = await auth(['switch', `bob-${mode}`]);
      expect(sw.code, explain(sw)).toBe(0);
      let status = await codex(['login', 'status']);
      expect(status.stdout + status.stderr).toContain('Logged in using ChatGPT');
      expect(fs.existsSync(path.join(sb.codexHome, 'auth.json'))).toBe(false);
      fake.clearRequests();
      const exec = await codex(codexExecArgs(fake, { mode: 'chatgpt' }));
      expect(exec.code, explain(exec)).toBe(0);
      expect(fake.bearerTokensSeen(/\/responses$/)).toEqual([bob.tokens.access_token]);

      sw = await auth(['switch', '-']);
      expect(sw.code, explain(sw)).toBe(0);
      status = await codex(['login', 'status']);
      expect(status.stdout + status.stderr).toContain(`API key configured - ${codexMaskedKey(key)}`);
      expect(fs.existsSync(path.join(sb.codexHome, 'auth.json'))).toBe(false);
      expect(filesContaining(sb.home, key)).toEqual([]);
    });
  }

  it('gateway enable / disable with Codex in keyring mode: the placeholder in its keyring entry (no auth.json), Codex served through the gateway, the real login back in the entry', async () => {
    const sb = codexSandbox(onTestFinished);
    const CONFIG = '# mine\ncli_auth_credentials_store = "keyring"\nanalytics.enabled = false\ncheck_for_update_on_startup = false\n\n[features]\napps = false\nplugins = false\nremote_plugin = false\n';
    fs.writeFileSync(path.join(sb.codexHome, 'config.toml'), CONFIG);
    const authHome = path.join(sb.home, 'codex-auth-home');
    const env = { CODEX_AUTH_HOME: authHome, CODEX_AUTH_CHATGPT_BASE_URL: fake.chatgptBaseUrl, CODEX_REFRESH_TOKEN_URL_OVERRIDE: fake.refreshUrl };
    const { auth, codex } = tools(sb, env);
    const a = fake.addChatgptAccount({ email: 'kr-gw@example.com', userId: 'user-kr-gw', accountId: 'acc-kr-gw' });
    secrets.push(a.tokens.refresh_token, a.tokens.access_token, a.tokens.id_token);
    const aFile = path.join(sb.home, 'a.json');
    fs.writeFileSync(aFile, JSON.stringify(a));
    expect((await auth(['import', aFile])).code).toBe(0);
    fs.rmSync(aFile);
    const sw = await auth(['switch', 'kr-gw']);
    expect(sw.code, explain(sw)).toBe(0);
    expect(fs.existsSync(path.join(sb.codexHome, 'auth.json'))).toBe(false);

    const port = await freePortPair();
    const en = await auth(['gateway', 'enable', '--port', String(port)]);
    expect(en.code, explain(en)).toBe(0);
    expect(fs.existsSync(path.join(sb.codexHome, 'auth.json'))).toBe(false);
    for (const s of [a.tokens.refresh_token, a.tokens.access_token]) expect(filesContaining(sb.codexHome, s)).toEqual([]);
    const gw = await startGatewayProcess({ home: sb.home, codexAuthHome: authHome, env: { ...keyringEnv(), ...env, CODEX_AUTH_OPENAI_BASE_URL: fake.openaiBaseUrl }, port: null });
    try {
      secrets.push(gw.secret);
      fake.setResponses(a.tokens.access_token, { text: 'served from the keyring placeholder' });
      // Codex reads the placeholder from its keyring entry: the gateway lets it in, and serves A.
      const exec = await codex(['exec', '--skip-git-repo-check', 'say hi']);
      expect(exec.code, explain(exec)).toBe(0);
      expect(exec.stdout).toContain('served from the keyring placeholder');
      expect(fake.requests({ bearer: a.tokens.access_token, path: '/backend-api/codex/responses' }).length).toBeGreaterThan(0);
    } finally {
      const out = await gw.stop();
      transcript.push(out.stdout, out.stderr);
    }

    const dis = await auth(['gateway', 'disable']);
    expect(dis.code, explain(dis)).toBe(0);
    expect(fs.readFileSync(path.join(sb.codexHome, 'config.toml'), 'utf8')).toBe(CONFIG);
    expect(fs.existsSync(path.join(sb.codexHome, 'auth.json'))).toBe(false);
    // The real login is back in the keyring entry: Codex uses it directly.
    fake.clearRequests();
    const direct = await codex(codexExecArgs(fake, { mode: 'chatgpt' }));
    expect(direct.code, explain(direct)).toBe(0);
    expect(fake.bearerTokensSeen(/\/responses$/)).toEqual([a.tokens.access_token]);
  });
});
