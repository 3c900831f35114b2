/** fallback enable/disable/status, watch --install-service, and run's argument handling, in-process. */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { classifyRun } from '../../src/commands/run.js';
import { FakeOpenAI } from '../support/fake-openai.js';
import { findSecrets, makeSandbox, type Sandbox } from '../support/inprocess.js';
import { chatgptAuth, fakeApiKey } from '../support/jwt.js';

let fake: FakeOpenAI;
let sb: Sandbox;
const secrets: string[] = [];

beforeAll(async () => {
  fake = await FakeOpenAI.start();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  sb = makeSandbox();
  sb.env.CODEX_AUTH_OPENAI_BASE_URL = fake.openaiBaseUrl;
  sb.env.CODEX_AUTH_CHATGPT_BASE_URL = fake.chatgptBaseUrl;
});
afterEach(() => {
  expect(findSecrets(sb.transcript, secrets)).toEqual([]);
  sb.cleanup();
});

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
  it('enable needs a stored API key and names add-api-key', async () => {
    sb.writeAuth(chatgptAuth({ email: 'a@example.com', userId: 'user-a', accountId: 'acc-a' }));
    const r = await sb.run(['fallback', 'enable', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'no_api_key', message: expect.stringContaining('codex-auth add-api-key') });
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

describe('watch --install-service', () => {
  it('writes a systemd user unit under XDG_CONFIG_HOME and removes it again', async () => {
    const xdg = path.join(sb.home, 'xdg');
    const r = await sb.run(['watch', '--install-service', '--interval', '120'], { env: { XDG_CONFIG_HOME: xdg }, platform: 'linux' });
    expect(r.code).toBe(0);
    const dir = path.join(xdg, 'systemd', 'user');
    const files = fs.readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^codex-auth-watch-[0-9a-f]{8}\.service$/); // CODEX_HOME is set explicitly in the sandbox
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
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.service'))).toEqual([]);
    expect(fs.readdirSync(path.join(dir, 'default.target.wants'))).toEqual([]);
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
