/**
 * fallback enable/disable/status, rotation that checks a candidate's usage before moving (watch --once
 * against the fake usage API), watch --install-service, and run's argument handling, in-process.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { classifyRun } from '../../src/commands/run.js';
import { cliSuite, fakeEnv } from '../support/cli-suite.js';
import { type ChatgptAuthDoc, chatgptAuth, fakeApiKey, nowSeconds } from '../support/jwt.js';

const { sb, fake, secrets } = cliSuite({ env: (f) => ({ ...fakeEnv.openai(f), ...fakeEnv.chatgpt(f) }) });

async function withAccounts(): Promise<string> {
  const a = chatgptAuth({ email: 'a@example.com', userId: 'user-a', accountId: 'acc-a' });
  secrets.push(a.tokens.refresh_token, a.tokens.access_token);
  sb.writeAuth(a);
  const key = fakeApiKey('fb');
  secrets.push(key);
  fake.addApiKey(key, { id: 'user-fb', email: 'fb@example.com' });
  expect((await sb.run(['add-api-key', '-', '--no-fallback', '--alias', 'billing'], { input: key })).code).toBe(0);
  return key;
}

describe('fallback', () => {
  it('enable without a stored API key: rotation between ChatGPT accounts only, and it says so', async () => {
    sb.writeAuth(chatgptAuth({ email: 'a@example.com', userId: 'user-a', accountId: 'acc-a' }));
    let r = await sb.run(['fallback', 'enable']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Automatic fallback enabled, rotation only: at 100% used, switch Codex to another ChatGPT account with headroom (its usage checked first); switch back when the window resets.');
    expect(r.stderr).toContain('It never switches to an API key: none is stored.');
    expect(r.stderr).toContain('add it with "codex-auth add-api-key"');
    expect(r.stderr).not.toContain('billed per token.\n'); // no per-token API usage promised
    r = await sb.run(['fallback', 'status', '--json']);
    expect(JSON.parse(r.stdout).fallback).toMatchObject({ enabled: true, mode: 'rotate-only', key: null, rotate: true });
    r = await sb.run(['fallback', 'status']);
    expect(r.stdout).toMatch(/Fallback\s+enabled \(rotation only: other ChatGPT accounts, never an API key \(none stored\)\)/);
    expect(r.stdout).toMatch(/Fallback key\s+none \(codex-auth add-api-key\)/);
    // An API key added later becomes the fallback key, and add-api-key says what that now means.
    const key = fakeApiKey('later');
    secrets.push(key);
    fake.addApiKey(key, { id: 'user-later', email: 'later@example.com' });
    r = await sb.run(['add-api-key', '-'], { input: key });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('automatic fallback (enabled) switches Codex to it when no ChatGPT account has headroom');
    expect(JSON.parse((await sb.run(['fallback', 'status', '--json'])).stdout).fallback.mode).toBe('rotate-then-key');
  });

  it('enable --no-rotate without a stored API key: nothing to fall back to, exit 1, nothing changed', async () => {
    sb.writeAuth(chatgptAuth({ email: 'a@example.com', userId: 'user-a', accountId: 'acc-a' }));
    const r = await sb.run(['fallback', 'enable', '--no-rotate', '--json']);
    expect(r.code).toBe(1);
    const err = JSON.parse(r.stdout).error;
    expect(err).toMatchObject({ code: 'no_api_key', message: expect.stringContaining('Nothing to fall back to') });
    expect(err.message).toContain('codex-auth add-api-key');
    expect(JSON.parse((await sb.run(['fallback', 'status', '--json'])).stdout).fallback.enabled).toBe(false);
  });

  it('enable, status (a dry run that explains itself) and disable', async () => {
    await withAccounts();
    let r = await sb.run(['fallback', 'enable', '--threshold', '95', '--no-rotate']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('Automatic fallback enabled: at 95% used, fall back to billing');
    r = await sb.run(['fallback', 'status', '--json']);
    const st = JSON.parse(r.stdout);
    expect(st).toMatchObject({ schemaVersion: 1, fallback: { enabled: true, threshold: 95, rotate: false, switchBack: true, key: { alias: 'billing' } }, state: null, next: { action: 'none' } });
    expect(st.next.reason).toContain('has headroom');
    // Make the active account look exhausted: the dry run says it would fall back, and changes nothing.
    const regFile = path.join(sb.codexHome, 'codex-auth', 'registry.json');
    const reg = JSON.parse(fs.readFileSync(regFile, 'utf8'));
    const active = reg.accounts.find((a: { id: string }) => a.id === reg.activeId);
    active.usage = { fiveHour: { usedPercent: 96, resetsAt: new Date(Date.now() + 3600_000).toISOString() }, weekly: null, fetchedAt: new Date().toISOString(), source: 'api' };
    fs.writeFileSync(regFile, JSON.stringify(reg));
    r = await sb.run(['fallback', 'status']);
    expect(r.stdout).toMatch(/Next evaluation\s+switch to billing — fb@example\.com .*\(fallback-key\): a@example\.com \(plus\) is exhausted \(5h window 96% used\)/);
    expect(JSON.parse(fs.readFileSync(regFile, 'utf8')).activeId).toBe(reg.activeId);
    r = await sb.run(['fallback', 'disable']);
    expect(r.code).toBe(0);
    expect(JSON.parse((await sb.run(['fallback', 'status', '--json'])).stdout).fallback.enabled).toBe(false);
  });

  it('rejects a ChatGPT account as --key and a bad --threshold', async () => {
    await withAccounts();
    let r = await sb.run(['fallback', 'enable', '--key', 'a@example.com']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('must be an API key');
    r = await sb.run(['fallback', 'enable', '--threshold', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--threshold must be a percentage from 1 to 100');
  });

  it('a manual switch ends an automatic fallback', async () => {
    await withAccounts();
    expect((await sb.run(['fallback', 'enable'])).code).toBe(0);
    const regFile = path.join(sb.codexHome, 'codex-auth', 'registry.json');
    const reg = JSON.parse(fs.readFileSync(regFile, 'utf8'));
    const key = reg.accounts.find((a: { kind: string }) => a.kind === 'apikey');
    expect((await sb.run(['switch', 'billing'])).code).toBe(0);
    const r2 = JSON.parse(fs.readFileSync(regFile, 'utf8'));
    r2.fallbackState = { fromId: 'chatgpt::user-a::acc-a', toId: key.id, reason: 'x', since: new Date().toISOString(), until: null };
    fs.writeFileSync(regFile, JSON.stringify(r2));
    expect(JSON.parse((await sb.run(['fallback', 'status', '--json'])).stdout).state).not.toBeNull();
    expect((await sb.run(['switch', 'a@example.com'])).code).toBe(0);
    expect(JSON.parse((await sb.run(['fallback', 'status', '--json'])).stdout).state).toBeNull();
  });
});

describe('rotation checks a candidate before moving', () => {
  let n = 0;
  const USAGE = '/backend-api/wham/usage';
  const regFile = () => path.join(sb.codexHome, 'codex-auth', 'registry.json');

  beforeEach(() => {
    sb.env.CODEX_REFRESH_TOKEN_URL_OVERRIDE = fake.refreshUrl;
    sb.env.CODEX_AUTH_HTTP_TIMEOUT_MS = '1000';
  });

  function chatgpt(name: string): ChatgptAuthDoc {
    n += 1;
    const doc = fake.addChatgptAccount({ email: `${name}-${n}@example.com`, userId: `user-${name}-${n}`, accountId: `acc-${name}-${n}` });
    secrets.push(doc.tokens.refresh_token, doc.tokens.access_token);
    return doc;
  }
  const idOf = (doc: ChatgptAuthDoc) => `chatgpt::user-${doc.tokens.account_id.slice(4)}::${doc.tokens.account_id}`;
  const exhausted = (doc: ChatgptAuthDoc) => fake.setUsage(doc.tokens.account_id, { primary: { usedPercent: 100, resetAt: nowSeconds() + 3600 }, secondary: { usedPercent: 40 } });
  const headroom = (doc: ChatgptAuthDoc, used = 10) => fake.setUsage(doc.tokens.account_id, { primary: { usedPercent: used }, secondary: { usedPercent: used } });
  /** Usage requests the fake saw for this account. */
  const asked = (doc: ChatgptAuthDoc) => fake.requests({ path: USAGE }).filter((r) => r.headers['chatgpt-account-id'] === doc.tokens.account_id).length;
  const active = () => JSON.parse(fs.readFileSync(regFile(), 'utf8')).activeId as string;
  const events = (): Array<{ kind: string; to: string }> => {
    const f = path.join(sb.codexHome, 'codex-auth', 'events.jsonl');
    return fs.existsSync(f) ? fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : [];
  };

  /** `a` live, the others imported; every one with headroom in the usage cache (a list --refresh), then `setup`. */
  async function world(docs: ChatgptAuthDoc[], opts: { key?: boolean } = {}): Promise<string | null> {
    const [a, ...others] = docs as [ChatgptAuthDoc, ...ChatgptAuthDoc[]];
    sb.writeAuth(a);
    for (const d of others) {
      const f = path.join(sb.root, `${d.tokens.account_id}.json`);
      fs.writeFileSync(f, JSON.stringify(d));
      expect((await sb.run(['import', f])).code).toBe(0);
    }
    let key: string | null = null;
    if (opts.key) {
      n += 1;
      key = fakeApiKey(`rot-${n}`);
      secrets.push(key);
      fake.addApiKey(key, { id: `user-key-${n}`, email: `key-${n}@example.com` });
      expect((await sb.run(['add-api-key', '-', '--alias', 'billing'], { input: key })).code).toBe(0);
    }
    for (const d of docs) headroom(d);
    expect((await sb.run(['list', '--refresh'])).code).toBe(0); // the cache: headroom everywhere
    expect((await sb.run(['fallback', 'enable'])).code).toBe(0);
    fake.clearRequests();
    return key;
  }

  it.each([
    ['with an API key: one fallback to the key, never a rotation to an exhausted account', true],
    ['without an API key (rotation only): no switch at all', false],
  ])('every account exhausted on the server, the cache still showing headroom, four watch --once: %s', async (_name, withKey) => {
    const [a, b, c] = [chatgpt('a'), chatgpt('b'), chatgpt('c')];
    await world([a, b, c], { key: withKey });
    for (const d of [a, b, c]) exhausted(d);
    const outs: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      const r = await sb.run(['watch', '--once', '--json']);
      expect(r.code, r.stderr).toBe(0);
      outs.push(r.stdout);
      expect([idOf(b), idOf(c)]).not.toContain(active());
    }
    expect(events().map((e) => e.kind)).toEqual(withKey ? ['fallback-key'] : []);
    if (!withKey) {
      expect(active()).toBe(idOf(a));
      expect(outs.every((o) => /^\{"schemaVersion":1,"action":"warn","reason":"[^"]*no ChatGPT account with headroom or fallback API key[^\n]*\n$/.test(o))).toBe(true);
    }
    // Each candidate was asked about once, in the first run; later runs knew from the saved answers.
    expect([asked(b), asked(c)]).toEqual([1, 1]);
    const reg = JSON.parse(fs.readFileSync(regFile(), 'utf8'));
    for (const d of [b, c]) expect(reg.accounts.find((x: { id: string }) => x.id === idOf(d)).usage).toMatchObject({ source: 'api', fiveHour: { usedPercent: 100 } });
  });

  it('a candidate with headroom is switched to, after the exhausted one before it: one usage request each', async () => {
    const [a, b, c] = [chatgpt('a'), chatgpt('b'), chatgpt('c')];
    await world([a, b, c], { key: true });
    exhausted(a);
    exhausted(b); // b has the most headroom in the cache, but not on the server
    headroom(c, 30);
    const reg = JSON.parse(fs.readFileSync(regFile(), 'utf8'));
    reg.accounts.find((x: { id: string }) => x.id === idOf(c)).usage.fiveHour.usedPercent = 30;
    fs.writeFileSync(regFile(), JSON.stringify(reg));
    const r = await sb.run(['watch', '--once', '--json']);
    expect(r.code, r.stderr).toBe(0);
    // watch --once --json: exactly one document.
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ action: 'switch', kind: 'rotate', to: idOf(c) });
    expect(active()).toBe(idOf(c));
    expect([asked(a), asked(b), asked(c)]).toEqual([1, 1, 1]);
    expect(events()).toMatchObject([{ kind: 'rotate', to: idOf(c) }]);
  });

  it('rotation only: a candidate with headroom is switched to', async () => {
    const [a, b] = [chatgpt('a'), chatgpt('b')];
    await world([a, b]);
    exhausted(a);
    const r = await sb.run(['watch', '--once', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(active()).toBe(idOf(b));
    expect(asked(b)).toBe(1);
  });

  it('while the gateway is on, watch writes no credentials for Codex: it warns instead, the placeholder stays, nothing is switched', async () => {
    const [a, b] = [chatgpt('a'), chatgpt('b')];
    await world([a, b], { key: true });
    const en = await sb.run(['gateway', 'enable', '--port', '47990']);
    expect(en.code, en.stderr).toBe(0);
    const held = sb.readAuth() as string;
    expect(JSON.parse(held).tokens.account_id).toMatch(/^codex-auth-gateway-/);
    exhausted(a);
    for (const argv of [['watch', '--once', '--json'], ['watch', '--once']]) {
      const r = await sb.run(argv);
      expect(r.code, r.stderr).toBe(0);
      if (argv.includes('--json')) expect(JSON.parse(r.stdout)).toMatchObject({ action: 'warn', reason: expect.stringContaining('but the gateway is on') });
      else expect(r.stdout + r.stderr).toContain('watch writes no credentials for Codex');
      expect(sb.readAuth()).toBe(held);
      expect(active()).toBe(idOf(a));
      expect(events()).toEqual([]);
    }
  });

  it('bounded: at most three candidates asked per evaluation, a hanging one costing one timeout; the rest wait', async () => {
    const docs = [chatgpt('a'), chatgpt('b'), chatgpt('c'), chatgpt('d'), chatgpt('e')];
    const [a, b, c, d, e] = docs as [ChatgptAuthDoc, ChatgptAuthDoc, ChatgptAuthDoc, ChatgptAuthDoc, ChatgptAuthDoc];
    await world(docs, { key: true });
    exhausted(a);
    fake.setUsage(b.tokens.account_id, { fault: { hang: true } });
    exhausted(c);
    exhausted(d);
    headroom(e);
    const t0 = Date.now();
    const r = await sb.run(['watch', '--once', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(Date.now() - t0).toBeLessThan(8000);
    const asks = [asked(b), asked(c), asked(d), asked(e)];
    expect(asks.reduce((x, y) => x + y, 0)).toBe(3);
    expect(Math.max(...asks)).toBe(1);
    // A candidate that could not be checked in time is not moved to blindly: the policy goes on (here
    // to the key, billed per token), and says which accounts it could not check.
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const sw = JSON.parse(r.stdout);
    expect(sw.errors).toContainEqual(expect.objectContaining({ account: idOf(b), reason: 'timeout' }));
    expect(sw).toMatchObject({ action: 'switch', kind: 'fallback-key' });
    expect(sw.reason).toContain('could not check the usage of');
    fake.setUsage(b.tokens.account_id, {});
  });
});

describe('watch --install-service', () => {
  it('writes a systemd user unit under XDG_CONFIG_HOME and removes it again', async () => {
    const xdg = path.join(sb.home, 'xdg');
    const r = await sb.run(['watch', '--install-service', '--interval', '120'], { env: { XDG_CONFIG_HOME: xdg }, platform: 'linux' });
    expect(r.code).toBe(0);
    const dir = path.join(xdg, 'systemd', 'user');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.service'));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^codex-auth-watch-[0-9a-f]{8}\.service$/); // CODEX_HOME is set explicitly in the sandbox
    expect(fs.readdirSync(dir).sort()).toEqual([files[0], (files[0] as string).replace(/\.service$/, '.env')].sort());
    const text = fs.readFileSync(path.join(dir, files[0] as string), 'utf8');
    expect(text).toContain('[Service]');
    expect(text).toMatch(/^ExecStart=".*node[^"]*" ".*" "--codex-home" ".*\.codex" "watch" "--interval" "120"$/m);
    expect(text).toContain('WantedBy=default.target');
    expect(r.stderr).toContain(`systemctl --user enable --now ${files[0]}`);
    // The "enable" link systemd would create is removed too.
    fs.mkdirSync(path.join(dir, 'default.target.wants'));
    fs.symlinkSync(path.join(dir, files[0] as string), path.join(dir, 'default.target.wants', files[0] as string));
    const u = await sb.run(['watch', '--uninstall-service'], { env: { XDG_CONFIG_HOME: xdg }, platform: 'linux' });
    expect(u.code).toBe(0);
    expect(u.stderr).toContain(`systemctl --user stop ${files[0]}`);
    expect(fs.readdirSync(dir).filter((f) => f !== 'default.target.wants')).toEqual([]); // the environment file too
    expect(fs.readdirSync(path.join(dir, 'default.target.wants'))).toEqual([]);
  });

  it('gives the systemd service the environment in a 0600 EnvironmentFile, never in the 0644 unit', async () => {
    const xdg = path.join(sb.home, 'xdg');
    const proxy = 'http://proxyuser:pa%40ss$w0rd`x"y\\z@proxy.internal:3128';
    const env = { XDG_CONFIG_HOME: xdg, CODEX_AUTH_HOME: path.join(sb.home, 'auth-home'), HTTPS_PROXY: proxy, no_proxy: 'localhost' };
    const r = await sb.run(['watch', '--install-service', '--json'], { env, platform: 'linux' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain('pa%40ss');
    const j = JSON.parse(r.stdout);
    expect(j.environmentFile).toBe(j.installed.replace(/\.service$/, '.env'));
    const unit = fs.readFileSync(j.installed, 'utf8');
    expect(unit).not.toContain('pa%40ss');
    expect(unit).not.toMatch(/^Environment=/m);
    expect(unit).toContain(`EnvironmentFile=-${j.environmentFile}`);
    expect(fs.statSync(j.installed).mode & 0o777).toBe(0o644);
    expect(fs.statSync(j.environmentFile).mode & 0o777).toBe(0o600);
    const envText = fs.readFileSync(j.environmentFile, 'utf8');
    // systemd.exec(5): double quotes, with \ " $ ` escaped.
    expect(envText).toContain('HTTPS_PROXY="http://proxyuser:pa%40ss\\$w0rd\\`x\\"y\\\\z@proxy.internal:3128"');
    expect(envText).toContain(`CODEX_AUTH_HOME="${env.CODEX_AUTH_HOME}"`);
    expect(envText).toContain('no_proxy="localhost"');
    // A value that would break the file is refused; nothing is written.
    fs.rmSync(xdg, { recursive: true });
    const bad = await sb.run(['watch', '--install-service'], { env: { ...env, HTTPS_PROXY: 'http://a\nb' }, platform: 'linux' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('HTTPS_PROXY holds a control character');
    expect(fs.existsSync(xdg)).toBe(false);
  });

  it('doubles % and $ in ExecStart, so systemd expands no specifier or variable of a path', async () => {
    const xdg = path.join(sb.home, 'xdg');
    const home = path.join(sb.home, 'co%dex$HOME');
    fs.mkdirSync(home);
    const r = await sb.run(['--codex-home', home, 'watch', '--install-service', '--json'], { env: { XDG_CONFIG_HOME: xdg }, platform: 'linux' });
    expect(r.code, r.stderr).toBe(0);
    const unit = fs.readFileSync(JSON.parse(r.stdout).installed, 'utf8');
    expect(unit).toContain(`"--codex-home" "${path.join(sb.home, 'co%%dex$$HOME')}" "watch"`);
  });

  it('gives the macOS LaunchAgent the same environment, in a 0600 plist', async () => {
    const env = { CODEX_AUTH_HOME: path.join(sb.home, 'auth & home'), HTTPS_PROXY: 'http://u:s3cret@proxy:3128' };
    const r = await sb.run(['watch', '--install-service', '--json'], { env, platform: 'darwin' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain('s3cret');
    const j = JSON.parse(r.stdout);
    expect(j.environmentFile).toBeNull();
    expect(fs.statSync(j.installed).mode & 0o777).toBe(0o600);
    const xml = fs.readFileSync(j.installed, 'utf8');
    expect(xml).toMatch(/<key>EnvironmentVariables<\/key>\s*<dict>[\s\S]*<\/dict>/);
    expect(xml).toContain(`<key>CODEX_AUTH_HOME</key>\n    <string>${path.join(sb.home, 'auth &amp; home')}</string>`);
    expect(xml).toContain('<key>HTTPS_PROXY</key>\n    <string>http://u:s3cret@proxy:3128</string>');
  });

  it('writes a macOS LaunchAgent plist', async () => {
    const r = await sb.run(['watch', '--install-service', '--json'], { platform: 'darwin' });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.installed).toMatch(/Library\/LaunchAgents\/com\.codex-auth\.watch-[0-9a-f]{8}\.plist$/);
    const xml = fs.readFileSync(j.installed, 'utf8');
    expect(xml).toContain('<key>ProgramArguments</key>');
    expect(xml).toMatch(/<string>--codex-home<\/string>\s*<string>[^<]*\.codex<\/string>\s*<string>watch<\/string>/);
    expect(xml).toContain('<key>RunAtLoad</key>');
    expect(j.start[0]).toContain('launchctl bootstrap');
    expect((await sb.run(['watch', '--uninstall-service'], { platform: 'darwin' })).code).toBe(0);
    expect(fs.existsSync(j.installed)).toBe(false);
  });

  it('refuses other platforms and bad intervals', async () => {
    expect((await sb.run(['watch', '--install-service'], { platform: 'win32' })).stderr).toContain('supports Linux (systemd) and macOS (launchd)');
    const r = await sb.run(['watch', '--once', '--interval', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--interval must be a number of seconds from 5 to 86400');
  });
});

describe('run', () => {
  it('tells exec runs from interactive ones, keeping codex options for resume', () => {
    expect(classifyRun(['exec', '--json', 'hi'])).toEqual({ kind: 'exec', leading: [] });
    expect(classifyRun(['-c', 'model="o3"', 'e', 'hi'])).toEqual({ kind: 'exec', leading: ['-c', 'model="o3"'] });
    expect(classifyRun(['-m', 'gpt-5', 'refactor utils.ts'])).toEqual({ kind: 'interactive', leading: ['-m', 'gpt-5'] });
    expect(classifyRun([])).toEqual({ kind: 'interactive', leading: [] });
    expect(classifyRun(['--search'])).toEqual({ kind: 'interactive', leading: ['--search'] });
    expect(classifyRun(['login', 'status'])).toEqual({ kind: 'other', leading: [] });
  });
});
