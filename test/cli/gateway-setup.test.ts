/**
 * `gateway enable`, `disable` and `status`, and how every other command behaves while the gateway
 * is on: the built CLI in-process over a sandboxed HOME/CODEX_HOME, `gateway serve` as a subprocess,
 * the fake OpenAI on 127.0.0.1.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { cliSuite, fakeEnv } from '../support/cli-suite.js';
import { freePortPair, type GatewayProcess, startGatewayProcess } from '../support/gateway.js';
import type { ChatgptAuthDoc } from '../support/jwt.js';

let gw: GatewayProcess | null = null;
const { sb, fake, secrets } = cliSuite({
  built: true,
  env: fakeEnv.all,
  teardown: async () => {
    if (gw) sb.transcript.push(...Object.values(await gw.stop()));
    gw = null;
  },
});

const CONFIG = '# my Codex settings\nmodel = "gpt-5" # the good one\n\n[features]\n# keep this\nweb_search = true\n\n[tui]\nnotifications = true\n';

function account(tag: string): ChatgptAuthDoc {
  const a = fake.addChatgptAccount({ email: `${tag}@example.com`, userId: `user-${tag}`, accountId: `acc-${tag}` });
  secrets.push(a.tokens.access_token, a.tokens.refresh_token, a.tokens.id_token);
  return a;
}

/** Accounts A and B known to codex-auth, A the live (chosen) one; config.toml as the user wrote it. */
async function twoAccounts(): Promise<{ a: ChatgptAuthDoc; b: ChatgptAuthDoc }> {
  const a = account('a');
  const b = account('b');
  for (const doc of [b, a]) {
    sb.writeAuth(doc);
    const r = await sb.run(['list']);
    expect(r.code, r.stderr).toBe(0);
  }
  fs.writeFileSync(path.join(sb.codexHome, 'config.toml'), CONFIG);
  return { a, b };
}

const configText = () => fs.readFileSync(path.join(sb.codexHome, 'config.toml'), 'utf8');
const json = async (argv: string[]) => {
  const r = await sb.run([...argv, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, any>;
};

describe('gateway enable / disable', () => {
  it('enable points Codex at the gateway with a placeholder login, keeps every other byte of config.toml, and is idempotent', async () => {
    const { a } = await twoAccounts();
    const port = await freePortPair();
    const r = await sb.run(['gateway', 'enable', '--port', String(port)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('codex-auth gateway serve');
    const text = configText();
    const doc = parse(text) as Record<string, any>;
    expect(doc.chatgpt_base_url).toBe(`http://127.0.0.1:${port}/backend-api/`);
    expect(doc.openai_base_url).toBe(`http://127.0.0.1:${port + 1}/v1`);
    // Codex compresses with zstd; a Node that cannot decode it (20, 22 before 22.15) gets Codex's
    // request compression turned off, and the Nodes that can leave it as it is.
    const nodeHasZstd = typeof (zlib as unknown as Record<string, unknown>).zstdDecompressSync === 'function';
    expect(doc.features).toEqual(nodeHasZstd ? { web_search: true } : { web_search: true, enable_request_compression: false });
    for (const line of CONFIG.split('\n')) expect(text).toContain(line);
    // A backup of the config, and the settings, in codex-auth's home.
    const home = path.join(sb.codexHome, 'codex-auth');
    const backups = fs.readdirSync(path.join(home, 'backups')).filter((f) => f.startsWith('config-'));
    expect(backups.map((f) => fs.readFileSync(path.join(home, 'backups', f), 'utf8'))).toEqual([CONFIG]);
    expect(fs.statSync(path.join(home, 'gateway.json')).mode & 0o777).toBe(0o600);
    // Codex holds the placeholder: none of A's secrets, an account id of its own.
    const held = sb.readAuth() as string;
    for (const s of [a.tokens.access_token, a.tokens.refresh_token, a.tokens.id_token]) expect(held).not.toContain(s);
    expect(JSON.parse(held).tokens.account_id).toMatch(/^codex-auth-gateway-/);
    // Twice: nothing changes.
    const again = await sb.run(['gateway', 'enable']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('already enabled');
    expect(configText()).toBe(text);
    expect(sb.readAuth()).toBe(held);
  });

  it('while it is on: list/status neither import the placeholder nor lose the chosen account; switch changes only the gateway\'s account; disable restores config.toml and the real login exactly', async () => {
    const { a, b } = await twoAccounts();
    const port = await freePortPair();
    expect((await sb.run(['gateway', 'enable', '--port', String(port)])).code).toBe(0);
    const held = sb.readAuth();
    const list = await json(['list']);
    expect(list.accounts.map((x: { email: string }) => x.email).sort()).toEqual(['a@example.com', 'b@example.com']);
    expect(list.gateway).toEqual({ enabled: true, port, rotate: false, serving: list.active });
    expect(list.accounts.find((x: { id: string }) => x.id === list.active).email).toBe('a@example.com');
    const st = await sb.run(['status']);
    expect(st.stdout).toMatch(/Gateway\s+on .*a@example\.com/);
    expect((await json(['status'])).gateway).toMatchObject({ enabled: true, port });
    // switch: the registry's chosen account, not Codex's files.
    const sw = await sb.run(['switch', 'b@example.com']);
    expect(sw.code, sw.stderr).toBe(0);
    expect(sw.stderr).toContain('gateway now serves from');
    expect(sb.readAuth()).toBe(held);
    expect((await json(['list'])).accounts.find((x: { id: string }) => x.id === list.active)).toBeDefined();
    expect((await json(['status'])).active.email).toBe('b@example.com');
    // Nothing under CODEX_HOME holds a real secret (codex-auth's home is elsewhere in real setups).
    for (const s of [a.tokens.refresh_token, b.tokens.refresh_token]) expect(fs.readFileSync(path.join(sb.codexHome, 'config.toml'), 'utf8') + held).not.toContain(s);
    // disable: config.toml byte for byte, and B's real login where Codex reads it.
    const d = await sb.run(['gateway', 'disable']);
    expect(d.code, d.stderr).toBe(0);
    expect(configText()).toBe(CONFIG);
    expect(JSON.parse(sb.readAuth() as string).tokens.refresh_token).toBe(b.tokens.refresh_token);
    expect((await json(['list'])).gateway).toBeNull();
    const twice = await sb.run(['gateway', 'disable']);
    expect(twice.code).toBe(0);
    expect(twice.stderr).toContain('not enabled');
    expect(configText()).toBe(CONFIG);
  });

  it('disable keeps a key the user changed since enable, and says so; no config.toml before: none after', async () => {
    await twoAccounts();
    fs.rmSync(path.join(sb.codexHome, 'config.toml'));
    expect((await sb.run(['gateway', 'enable', '--port', String(await freePortPair())])).code).toBe(0);
    fs.writeFileSync(path.join(sb.codexHome, 'config.toml'), configText().replace(/^openai_base_url = .*$/m, 'openai_base_url = "https://mine.example/v1"'));
    const d = await sb.run(['gateway', 'disable']);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stderr).toMatch(/openai_base_url .*your value was kept/);
    expect(configText()).toBe('openai_base_url = "https://mine.example/v1"\n');
    // Without the user's change the file goes away as it came.
    fs.rmSync(path.join(sb.codexHome, 'config.toml'));
    expect((await sb.run(['gateway', 'enable'])).code).toBe(0);
    expect((await sb.run(['gateway', 'disable'])).code).toBe(0);
    expect(fs.existsSync(path.join(sb.codexHome, 'config.toml'))).toBe(false);
  });

  it('a real login put in while it is on ("codex login"): doctor says so with the fix, sync saves the login, enable gives Codex the placeholder again', async () => {
    await twoAccounts();
    expect((await sb.run(['gateway', 'enable', '--port', String(await freePortPair())])).code).toBe(0);
    const checks = async () => (JSON.parse((await sb.run(['doctor', '--json'])).stdout) as { checks: Array<{ id: string; status: string; message: string; fix: string }> }).checks;
    expect((await checks()).find((c) => c.id === 'gateway_login')).toBeUndefined();
    const c = account('c');
    sb.writeAuth(c); // what "codex login" writes
    const found = (await checks()).find((x) => x.id === 'gateway_login');
    expect(found).toMatchObject({ status: 'fail' });
    expect(found?.message).toContain('Codex holds a real login instead of its placeholder');
    expect(found?.fix).toContain('codex-auth gateway enable');
    const human = await sb.run(['doctor']);
    expect(human.stdout).toContain('Gateway login');
    // Sync saves it like any real login.
    const list = await json(['list']);
    expect(list.accounts.map((x: { email: string }) => x.email).sort()).toEqual(['a@example.com', 'b@example.com', 'c@example.com']);
    expect(JSON.parse(sb.readAuth() as string).tokens.refresh_token).toBe(c.tokens.refresh_token); // not touched by list
    // enable again: the placeholder back, the new login serving.
    const e = await json(['gateway', 'enable']);
    expect(e).toMatchObject({ changed: true, chosen: { email: 'c@example.com' } });
    const held = sb.readAuth() as string;
    for (const s of [c.tokens.access_token, c.tokens.refresh_token]) expect(held).not.toContain(s);
    expect(JSON.parse(held).tokens.account_id).toMatch(/^codex-auth-gateway-/);
    expect((await checks()).find((x) => x.id === 'gateway_login')).toBeUndefined();
  });

  it('enable keeps the rotation setting unless --rotate or --no-rotate is given', async () => {
    await twoAccounts();
    const port = String(await freePortPair());
    expect(await json(['gateway', 'enable', '--port', port])).toMatchObject({ rotate: false });
    expect(await json(['gateway', 'enable', '--rotate'])).toMatchObject({ rotate: true, changed: true });
    // Again without the flag: still on, nothing changed.
    expect(await json(['gateway', 'enable'])).toMatchObject({ rotate: true, changed: false });
    expect(await json(['gateway', 'status'])).toMatchObject({ rotate: true });
    expect(await json(['gateway', 'enable', '--no-rotate'])).toMatchObject({ rotate: false, changed: true });
    expect(await json(['gateway', 'enable'])).toMatchObject({ rotate: false, changed: false });
    const both = await sb.run(['gateway', 'enable', '--rotate', '--no-rotate']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('use either --rotate or --no-rotate');
  });

  it('refuses ports another program holds (either of its two), changing nothing; its own running gateway\'s ports are fine', async () => {
    const { a } = await twoAccounts();
    const port = await freePortPair();
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(port + 1, '127.0.0.1', resolve));
    try {
      const r = await sb.run(['gateway', 'enable', '--port', String(port)]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(`127.0.0.1:${port + 1} is in use by another program`);
      expect(r.stderr).toContain('--port N');
      expect(r.stderr).not.toContain(`127.0.0.1:${port} is`);
      const asJson = await sb.run(['gateway', 'enable', '--port', String(port), '--json']);
      expect(JSON.parse(asJson.stdout)).toMatchObject({ error: { code: 'port_unusable' } });
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
    // Nothing changed: config.toml as the user wrote it, Codex still on its real login, not enabled.
    expect(configText()).toBe(CONFIG);
    expect(JSON.parse(sb.readAuth() as string).tokens.refresh_token).toBe(a.tokens.refresh_token);
    expect(await json(['gateway', 'status'])).toMatchObject({ enabled: false });

    // Free now: enabled; with its own gateway serving on both ports, enable again is fine.
    expect((await sb.run(['gateway', 'enable', '--port', String(port)])).code).toBe(0);
    gw = await startGatewayProcess({ home: sb.home, codexAuthHome: path.join(sb.codexHome, 'codex-auth'), env: sb.env, port: null });
    secrets.push(gw.secret);
    expect(gw.backend).toBe(`http://127.0.0.1:${port}/backend-api/`);
    expect(await json(['gateway', 'enable', '--rotate'])).toMatchObject({ changed: true, port, rotate: true });
  });

  it('rejects a bad --port with the rule of each command: enable needs a real port, serve also takes 0', async () => {
    for (const bad of ['0', 'abc', '65535', '-1', '1.5']) {
      const r = await sb.run(['gateway', 'enable', `--port=${bad}`]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toContain(`--port must be a port number from 1 to 65534 (Codex needs to know it: not 0), not "${bad}"`);
      expect(r.stderr).not.toContain('any two free ports');
    }
    const serve = await sb.run(['gateway', 'serve', '--port', '70000']);
    expect(serve.code).toBe(2);
    expect(serve.stderr).toContain('--port must be a port number from 1 to 65534 (0: any two free ports), not "70000"');
  });

  it('refuses without an account to serve from, changing nothing', async () => {
    fs.writeFileSync(path.join(sb.codexHome, 'config.toml'), CONFIG);
    const r = await sb.run(['gateway', 'enable']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no account');
    expect(configText()).toBe(CONFIG);
    expect(sb.readAuth()).toBeNull();
  });
});

describe('gateway status and doctor', () => {
  it('not running: status says so, doctor fails with the fix; running: who serves, requests per account', async () => {
    const { b } = await twoAccounts();
    const port = await freePortPair();
    expect((await sb.run(['gateway', 'enable', '--port', String(port)])).code).toBe(0);
    const down = await json(['gateway', 'status']);
    expect(down).toMatchObject({ enabled: true, port, listening: false, accounts: [] });
    const doc = await sb.run(['doctor', '--json']);
    const check = (JSON.parse(doc.stdout) as { checks: Array<{ id: string; status: string; message: string; fix: string }> }).checks.find((c) => c.id === 'gateway');
    expect(check).toMatchObject({ status: 'fail' });
    expect(check?.message).toContain('workspace routing discovery failed');
    expect(check?.fix).toContain('codex-auth gateway serve');
    const human = await sb.run(['gateway', 'status']);
    expect(human.stderr).toContain('Not running');

    expect((await sb.run(['switch', 'b@example.com'])).code).toBe(0);
    gw = await startGatewayProcess({ home: sb.home, codexAuthHome: path.join(sb.codexHome, 'codex-auth'), env: sb.env, port: null });
    expect(gw.backend).toBe(`http://127.0.0.1:${port}/backend-api/`);
    secrets.push(gw.secret);
    fake.setResponses(b.tokens.access_token, { text: 'hi from B' });
    // Codex's own placeholder token is what gets it in.
    const placeholder = JSON.parse(sb.readAuth() as string).tokens.access_token as string;
    const res = await fetch(`${gw.model}/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${placeholder}`, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ model: 'gpt-5', stream: true, input: [] }),
    });
    expect(res.status).toBe(200);
    await res.text();
    const up = await json(['gateway', 'status']);
    expect(up).toMatchObject({ enabled: true, listening: true, error: null, serving: { label: expect.stringContaining('b@example.com') } });
    expect(up.accounts).toEqual([{ id: expect.any(String), label: expect.stringContaining('b@example.com'), requests: 1, failovers: 0, lastError: null }]);
    const okDoc = JSON.parse((await sb.run(['doctor', '--json'])).stdout) as { checks: Array<{ id: string; status: string }> };
    expect(okDoc.checks.find((c) => c.id === 'gateway')?.status).toBe('ok');
    // Without the secret: 403, and nothing reaches an account.
    const before = fake.requests().length;
    const denied = await fetch(`http://127.0.0.1:${port}/codex-auth/status`);
    expect(denied.status).toBe(403);
    expect(fake.requests().length).toBe(before);
  });
});

describe('gateway install-service / uninstall-service', () => {
  it('Linux: a systemd user unit running "gateway serve", the environment in a 0600 EnvironmentFile, beside watch\'s own service; uninstall removes both files', async () => {
    const xdg = path.join(sb.home, 'xdg');
    const proxy = 'http://proxyuser:pa%40ss$w0rd@proxy.internal:3128';
    const env = { XDG_CONFIG_HOME: xdg, CODEX_AUTH_HOME: path.join(sb.home, 'auth-home'), HTTPS_PROXY: proxy };
    const r = await sb.run(['gateway', 'install-service', '--json'], { env, platform: 'linux' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain('pa%40ss');
    const j = JSON.parse(r.stdout);
    expect(path.basename(j.installed)).toMatch(/^codex-auth-gateway-[0-9a-f]{8}\.service$/); // CODEX_HOME is set explicitly in the sandbox
    expect(j.environmentFile).toBe(j.installed.replace(/\.service$/, '.env'));
    expect(j.enabled).toBe(false);
    const unit = fs.readFileSync(j.installed, 'utf8');
    expect(unit).toMatch(/^ExecStart=".*node[^"]*" "--optimize-for-size" "--max-opt=1" ".*" "--codex-home" ".*\.codex" "gateway" "serve"$/m);
    // Those Node flags (memory over peak speed: README "The gateway") are ones this Node runs with.
    const flags = [...(unit.match(/^ExecStart=(.*)$/m)?.[1] ?? '').matchAll(/"(--[a-z-]+(?:=[^"]*)?)"/g)].map((m) => m[1] as string).filter((f) => f !== '--codex-home');
    expect(flags).toEqual(['--optimize-for-size', '--max-opt=1']);
    gw = await startGatewayProcess({ home: sb.home, codexAuthHome: path.join(sb.codexHome, 'codex-auth'), env: sb.env, nodeFlags: flags });
    secrets.push(gw.secret);
    expect(gw.proc.spawnargs.slice(1, 3)).toEqual(flags); // and it is listening (startGatewayProcess waited for it)
    expect(gw.proc.exitCode).toBeNull();
    expect(unit).toContain(`EnvironmentFile=-${j.environmentFile}`);
    expect(unit).toContain('Restart=on-failure');
    expect(unit).not.toContain('pa%40ss');
    expect(fs.statSync(j.installed).mode & 0o777).toBe(0o644);
    expect(fs.statSync(j.environmentFile).mode & 0o777).toBe(0o600);
    const envText = fs.readFileSync(j.environmentFile, 'utf8');
    expect(envText).toContain('HTTPS_PROXY="http://proxyuser:pa%40ss\\$w0rd@proxy.internal:3128"');
    expect(envText).toContain(`CODEX_AUTH_HOME="${env.CODEX_AUTH_HOME}"`);
    expect(j.start).toContain(`systemctl --user enable --now ${path.basename(j.installed)}`);
    // watch's service is another one; both live side by side.
    const w = await sb.run(['watch', '--install-service', '--json'], { env, platform: 'linux' });
    expect(w.code, w.stderr).toBe(0);
    const dir = path.dirname(j.installed);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.service')).sort().map((f) => f.replace(/-[0-9a-f]{8}/, ''))).toEqual(['codex-auth-gateway.service', 'codex-auth-watch.service']);
    // Human output: the commands to start it, and that Codex is not set up for it yet.
    const human = await sb.run(['gateway', 'install-service'], { env, platform: 'linux' });
    expect(human.stderr).toContain(`systemctl --user enable --now ${path.basename(j.installed)}`);
    expect(human.stderr).toContain('codex-auth gateway enable');
    // uninstall: the unit, its environment and the "enable" link; watch's service stays.
    fs.mkdirSync(path.join(dir, 'default.target.wants'));
    fs.symlinkSync(j.installed, path.join(dir, 'default.target.wants', path.basename(j.installed)));
    const u = await sb.run(['gateway', 'uninstall-service'], { env, platform: 'linux' });
    expect(u.code, u.stderr).toBe(0);
    expect(u.stderr).toContain(`systemctl --user stop ${path.basename(j.installed)}`);
    expect(fs.existsSync(j.installed) || fs.existsSync(j.environmentFile)).toBe(false);
    expect(fs.readdirSync(path.join(dir, 'default.target.wants'))).toEqual([]);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('codex-auth-watch')).length).toBe(2);
    const again = await sb.run(['gateway', 'uninstall-service', '--json'], { env, platform: 'linux' });
    expect(JSON.parse(again.stdout)).toMatchObject({ removed: null });
    // A value that would break the environment file is refused; nothing is written.
    const bad = await sb.run(['gateway', 'install-service'], { env: { ...env, HTTPS_PROXY: 'http://a\nb' }, platform: 'linux' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('HTTPS_PROXY holds a control character');
    expect(fs.existsSync(j.installed)).toBe(false);
  });

  it('uninstall warns while Codex is still set up to use the gateway', async () => {
    await twoAccounts();
    expect((await sb.run(['gateway', 'enable', '--port', String(await freePortPair())])).code).toBe(0);
    const env = { XDG_CONFIG_HOME: path.join(sb.home, 'xdg') };
    expect(JSON.parse((await sb.run(['gateway', 'install-service', '--json'], { env, platform: 'linux' })).stdout).enabled).toBe(true);
    const u = await sb.run(['gateway', 'uninstall-service'], { env, platform: 'linux' });
    expect(u.code).toBe(0);
    expect(u.stderr).toContain('cannot reach OpenAI without it');
  });

  it('macOS: a LaunchAgent running "gateway serve", the environment in the 0600 plist; other platforms refused', async () => {
    const env = { CODEX_AUTH_HOME: path.join(sb.home, 'auth & home'), HTTPS_PROXY: 'http://u:s3cret@proxy:3128' };
    const r = await sb.run(['gateway', 'install-service', '--json'], { env, platform: 'darwin' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain('s3cret');
    const j = JSON.parse(r.stdout);
    expect(j.installed).toMatch(/Library\/LaunchAgents\/com\.codex-auth\.gateway-[0-9a-f]{8}\.plist$/);
    expect(j.environmentFile).toBeNull();
    expect(fs.statSync(j.installed).mode & 0o777).toBe(0o600);
    const xml = fs.readFileSync(j.installed, 'utf8');
    expect(xml).toMatch(/<string>[^<]*node[^<]*<\/string>\s*<string>--optimize-for-size<\/string>\s*<string>--max-opt=1<\/string>\s*<string>[^<]*<\/string>\s*<string>--codex-home<\/string>\s*<string>[^<]*\.codex<\/string>\s*<string>gateway<\/string>\s*<string>serve<\/string>/);
    expect(xml).toContain(`<key>CODEX_AUTH_HOME</key>\n    <string>${path.join(sb.home, 'auth &amp; home')}</string>`);
    expect(xml).toContain('<key>HTTPS_PROXY</key>\n    <string>http://u:s3cret@proxy:3128</string>');
    expect(j.start[0]).toContain('launchctl bootstrap');
    expect((await sb.run(['gateway', 'uninstall-service'], { platform: 'darwin' })).code).toBe(0);
    expect(fs.existsSync(j.installed)).toBe(false);
    const win = await sb.run(['gateway', 'install-service'], { platform: 'win32' });
    expect(win.code).toBe(1);
    expect(win.stderr).toContain('"gateway install-service" supports Linux (systemd) and macOS (launchd)');
  });
});
