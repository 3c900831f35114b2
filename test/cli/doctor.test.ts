/** `doctor` in-process: each check's verdict and fix, exit codes, --json, read-only, no secrets. */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliSuite, fakeEnv } from '../support/cli-suite.js';
import type { Captured } from '../support/inprocess.js';
import { chatgptAuth, fakeApiKey } from '../support/jwt.js';

const ALICE = { email: 'alice@example.com', userId: 'user-alice', accountId: 'acc-alice', plan: 'plus' };
const BOB = { email: 'bob@example.com', userId: 'user-bob', accountId: 'acc-bob', plan: 'pro' };
const IDS = ['codex_home', 'permissions', 'credential_store', 'keyring', 'env_overrides', 'codex_binary', 'registry', 'orphaned_secrets', 'stale_locks'];

interface Doc {
  schemaVersion: number;
  ok: boolean;
  checks: Array<{ id: string; status: 'ok' | 'warn' | 'fail'; message: string; fix: string | null }>;
}

let shimDir: string;
const { sb, fake, secrets, remember } = cliSuite({
  env: (f) => ({ ...fakeEnv.openai(f), CODEX_AUTH_HTTP_TIMEOUT_MS: '1500', CODEX_AUTH_CODEX_BIN: path.join(shimDir, 'codex') }),
});

const home = () => path.join(sb.codexHome, 'codex-auth');
const accountsDir = () => path.join(home(), 'accounts');

/** Runs `doctor --json` and returns the document (after checking it is exactly one JSON document). */
async function doctorJson(env: Record<string, string> = {}): Promise<{ r: Captured; doc: Doc; check: (id: string) => Doc['checks'][number] }> {
  const r = await sb.run(['doctor', '--json'], { env });
  const doc = JSON.parse(r.stdout) as Doc;
  const check = (id: string) => {
    const c = doc.checks.find((x) => x.id === id);
    if (!c) throw new Error(`no check ${id}`);
    return c;
  };
  return { r, doc, check };
}

/** Path, mode, mtime and content hash of everything under the sandbox: "doctor changed nothing". */
function snapshot(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      const st = fs.lstatSync(p);
      const hash = e.isFile() ? createHash('sha256').update(fs.readFileSync(p)).digest('hex') : '';
      out.push(`${path.relative(sb.root, p)} ${st.mode.toString(8)} ${st.mtimeMs} ${hash}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(sb.root);
  return out;
}

/** Two ChatGPT accounts imported (Alice live), so the registry, secrets and auth.json all exist. */
async function healthy(): Promise<void> {
  sb.writeAuth(remember(chatgptAuth(BOB)));
  expect((await sb.run(['list'])).code).toBe(0);
  sb.writeAuth(remember(chatgptAuth(ALICE)));
  expect((await sb.run(['list'])).code).toBe(0);
}

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  if (typeof r.pid !== 'number') throw new Error('no pid');
  return r.pid;
}

beforeAll(() => {
  shimDir = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-doctor-bin-'));
  fs.writeFileSync(path.join(shimDir, 'codex'), '#!/bin/sh\necho "codex-cli 0.169.0"\n', { mode: 0o755 });
  fs.writeFileSync(path.join(shimDir, 'codex-hangs'), '#!/bin/sh\nsleep 30\n', { mode: 0o755 });
});
afterAll(() => {
  fs.rmSync(shimDir, { recursive: true, force: true });
});

describe('doctor', () => {
  it('passes every check on a healthy setup, exit 0, one line per check, and changes nothing', async () => {
    await healthy();
    const before = snapshot();
    const keyringBefore = [...sb.keyring.entries];
    const r = await sb.run(['doctor']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.slice(0, IDS.length).every((l) => l.startsWith('✓ '))).toBe(true);
    expect(lines[IDS.length]).toBe('');
    expect(lines[IDS.length + 1]).toBe('Everything looks fine.');
    expect(r.stdout).not.toContain('Fixes:');
    expect(r.stdout).not.toMatch(/\x1b\[/); // no colors without a terminal
    expect(r.stdout).toMatch(/^✓ Codex credentials\s+file mode \(default\): Codex reads .*auth\.json: alice@example\.com \(plus\)$/m);
    expect(r.stdout).toMatch(/^✓ Codex CLI\s+codex-cli 0\.169\.0 \(/m);
    expect(r.stdout).toMatch(/^✓ Registry\s+.*registry\.json \(version 1\): 2 accounts, every secret present$/m);
    expect(r.stdout).toMatch(/^✓ OS keyring\s+memory reachable/m);
    // Read-only: no file or mode changed, nothing left in the keyring by the probe.
    expect(snapshot()).toEqual(before);
    expect([...sb.keyring.entries]).toEqual(keyringBefore);

    const j = await doctorJson();
    expect(j.r.code).toBe(0);
    expect(j.doc.ok).toBe(true);
    expect(j.doc.checks.map((c) => c.status)).toEqual(IDS.map(() => 'ok'));
  });

  it('colors the marks only on a terminal', async () => {
    await healthy();
    const r = await sb.run(['doctor'], { tty: true, env: { TERM: 'xterm' } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('\x1b[32m✓\x1b[39m');
    const plain = await sb.run(['doctor'], { tty: true, env: { TERM: 'xterm', NO_COLOR: '1' } });
    expect(plain.stdout).not.toMatch(/\x1b\[/);
  });

  it('has the --json shape: schemaVersion, every check with id/status/message/fix, ok', async () => {
    const { r, doc } = await doctorJson();
    expect(r.stderr).toBe('');
    expect(Object.keys(doc).sort()).toEqual(['checks', 'ok', 'schemaVersion']);
    expect(doc.schemaVersion).toBe(1);
    expect(doc.checks.map((c) => c.id)).toEqual(IDS);
    for (const c of doc.checks) {
      expect(Object.keys(c).sort()).toEqual(['fix', 'id', 'message', 'status']);
      expect(['ok', 'warn', 'fail']).toContain(c.status);
      expect(c.message).not.toContain('\n');
      if (c.status === 'ok') expect(c.fix).toBeNull();
      else expect(c.fix).toEqual(expect.any(String));
    }
    // An empty CODEX_HOME: not logged in (a warning), nothing failed.
    expect(doc.ok).toBe(true);
    expect(r.code).toBe(0);
    expect(doc.checks.find((c) => c.id === 'credential_store')).toMatchObject({ status: 'warn', fix: 'codex-auth login' });
  });

  it('warns when auth.json or a secret file can be read by others, with the chmod fix; exit stays 0', async () => {
    await healthy();
    fs.chmodSync(sb.authJsonPath, 0o644);
    const secret = path.join(accountsDir(), fs.readdirSync(accountsDir())[0] as string);
    fs.chmodSync(secret, 0o640);
    fs.chmodSync(home(), 0o755);
    const { r, doc, check } = await doctorJson();
    expect(r.code).toBe(0);
    expect(doc.ok).toBe(true);
    const perm = check('permissions');
    expect(perm.status).toBe('warn');
    expect(perm.message).toContain(`${sb.authJsonPath} (0644)`);
    expect(perm.message).toContain(`${secret} (0640)`);
    expect(perm.fix).toBe(`chmod 700 ${home()} && chmod 600 ${sb.authJsonPath} ${secret}`);
    // The text form lists the fix after the checks.
    const text = await sb.run(['doctor']);
    expect(text.stdout).toMatch(/^! Permissions\s+3 paths readable by other users: /m);
    expect(text.stdout).toContain(`Fixes:\n  ! Permissions: chmod 700 ${home()} && chmod 600 ${sb.authJsonPath} ${secret}\n`);
    // Following the fix clears it.
    fs.chmodSync(home(), 0o700);
    fs.chmodSync(sb.authJsonPath, 0o600);
    fs.chmodSync(secret, 0o600);
    expect((await doctorJson()).check('permissions').status).toBe('ok');
  });

  it('fails when the OS keyring holds secrets but is unavailable: the typed reason and the fix, exit 1', async () => {
    await healthy();
    const key = fakeApiKey('doctor-keyring');
    secrets.push(key);
    fake.addApiKey(key, { id: 'user-billing', email: 'billing@example.com' });
    expect((await sb.run(['add-api-key', '-', '--alias', 'billing'], { input: `${key}\n` })).code).toBe(0);
    expect(sb.keyring.values()).toHaveLength(1);
    sb.keyring.mode = 'unavailable';
    const { r, doc, check } = await doctorJson();
    expect(r.code).toBe(1);
    expect(doc.ok).toBe(false);
    const k = check('keyring');
    expect(k.status).toBe('fail');
    expect(k.message).toMatch(/^Cannot use the OS keyring \(unavailable\): no Secret Service is running .*; needed by 1 stored secret$/);
    expect(k.fix).toMatch(/^install and start gnome-keyring .* or store API keys with "codex-auth add-api-key --insecure-storage"/);
    expect(check('registry')).toMatchObject({ status: 'warn', message: expect.stringContaining('1 secret in the OS keyring could not be checked') });
    const text = await sb.run(['doctor']);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^✗ OS keyring\s+Cannot use the OS keyring \(unavailable\)/m);
    expect(text.stdout).toMatch(/^1 problem, \d+ warnings?\.$/m);
  });

  it('only warns about an unreachable keyring that nothing uses yet', async () => {
    await healthy();
    sb.keyring.mode = 'unavailable';
    const { r, check } = await doctorJson();
    expect(r.code).toBe(0);
    expect(check('keyring')).toMatchObject({ status: 'warn', message: expect.stringContaining('nothing uses it yet') });
  });

  it('bounds a hung keyring with the timeout and reports it as such', async () => {
    fs.writeFileSync(path.join(sb.codexHome, 'config.toml'), 'cli_auth_credentials_store = "keyring"\n');
    sb.keyring.mode = 'hang';
    const started = Date.now();
    const { r, check } = await doctorJson({ CODEX_AUTH_KEYRING_TIMEOUT_MS: '300' });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(r.code).toBe(1);
    expect(check('keyring')).toMatchObject({ status: 'fail', message: expect.stringContaining('(timeout)') });
    expect(check('keyring').fix).toContain('CODEX_AUTH_KEYRING_TIMEOUT_MS');
    expect(check('credential_store')).toMatchObject({ status: 'fail', message: expect.stringContaining('keyring mode (config.toml): Codex reads its credentials from the OS keyring, which is unreachable (timeout)') });
  });

  it('reports an orphaned secret file with its path and both fixes, and a leftover temporary file', async () => {
    await healthy();
    const orphan = path.join(accountsDir(), 'chatgpt__user-carol__acc-carol.json');
    fs.writeFileSync(orphan, JSON.stringify(remember(chatgptAuth({ email: 'carol@example.com', userId: 'user-carol', accountId: 'acc-carol' }))), { mode: 0o600 });
    const temp = path.join(accountsDir(), '.chatgpt__user-bob__acc-bob.json.4242.a1b2c3d4e5f6.tmp');
    fs.writeFileSync(temp, '{}', { mode: 0o600 });
    const young = path.join(accountsDir(), '.chatgpt__user-bob__acc-bob.json.4243.a1b2c3d4e5f7.tmp');
    fs.writeFileSync(young, '{}', { mode: 0o600 });
    const old = new Date(Date.now() - 10 * 60_000);
    fs.utimesSync(temp, old, old);
    const { r, check } = await doctorJson();
    expect(r.code).toBe(0);
    const o = check('orphaned_secrets');
    expect(o.status).toBe('warn');
    expect(o.message).toContain(`1 secret file no account refers to: ${orphan}`);
    expect(o.message).toContain(`1 temporary file left by an interrupted write (each may hold credentials): ${temp}`);
    expect(o.message).not.toContain(young); // may be a write in flight right now
    expect(o.fix).toBe(`codex-auth import ${accountsDir()} to register it again, or delete it: rm ${orphan}; rm ${temp}`);
    // The suggested import does register it.
    fs.unlinkSync(temp);
    fs.unlinkSync(young);
    expect((await sb.run(['import', accountsDir()])).code).toBe(0);
    expect((await doctorJson()).check('orphaned_secrets').status).toBe('ok');
  });

  it('locks: a dead owner\'s lock is just free (nothing stale, nothing to delete), a held one is shown with its process, a link at a lock path is a warning with the fix', async () => {
    await healthy();
    // What the former lock called stale: a dead owner's record, untouched for a day. With flock it
    // is a free lock, reported as nothing, and left as it is.
    const old = path.join(home(), 'registry.lock');
    fs.writeFileSync(old, JSON.stringify({ pid: deadPid(), host: os.hostname(), at: 0 }), { mode: 0o600 });
    const longAgo = new Date(Date.now() - 24 * 3600_000);
    fs.utimesSync(old, longAgo, longAgo);
    const before = fs.readFileSync(old, 'utf8');
    expect((await doctorJson()).check('stale_locks')).toMatchObject({ status: 'ok', message: 'no locks held', fix: null });
    expect(fs.readFileSync(old, 'utf8')).toBe(before);
    expect(Math.abs(fs.statSync(old).mtimeMs - longAgo.getTime())).toBeLessThan(1);

    // A token lock held by a running process (flock(1) here; codex-auth records its pid the same way).
    fs.mkdirSync(path.join(home(), 'locks'), { recursive: true, mode: 0o700 });
    const live = path.join(home(), 'locks', 'chatgpt__user-alice__acc-alice.lock');
    fs.writeFileSync(live, '', { mode: 0o600 });
    const holder = spawn('flock', ['-x', live, 'sh', '-c', 'echo held; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'ignore'] });
    const exited = new Promise<void>((r) => holder.once('exit', () => r()));
    try {
      await new Promise<void>((r) => holder.stdout.once('data', () => r()));
      fs.writeFileSync(live, `${holder.pid}\n`);
      const { r, check } = await doctorJson();
      expect(r.code).toBe(0);
      expect(check('stale_locks')).toMatchObject({
        status: 'ok',
        message: `1 lock held right now by running processes (each is free as soon as its process ends): ${live} (process ${holder.pid})`,
        fix: null,
      });
      // Only looked at: still held by that process.
      expect(spawnSync('flock', ['-n', '-x', live, 'true']).status).not.toBe(0);

      // A symbolic link at a lock path: codex-auth refuses to use it, so doctor says how to fix it.
      const watchLock = path.join(home(), 'watch.lock');
      fs.symlinkSync(path.join(sb.root, 'elsewhere'), watchLock);
      const l = (await doctorJson()).check('stale_locks');
      expect(l).toMatchObject({ status: 'warn', message: `1 lock path codex-auth refuses to use (commands that need it fail): ${watchLock} (a symbolic link)`, fix: `rm ${watchLock}` });
      expect(fs.existsSync(path.join(sb.root, 'elsewhere'))).toBe(false);
      fs.unlinkSync(watchLock);
    } finally {
      holder.stdin.end();
      await exited;
    }
    expect((await doctorJson()).check('stale_locks')).toMatchObject({ status: 'ok', message: 'no locks held' });
  });

  it('fails on a corrupt config.toml with the file to fix, exit 1', async () => {
    await healthy();
    const cfg = path.join(sb.codexHome, 'config.toml');
    fs.writeFileSync(cfg, 'cli_auth_credentials_store = "keyring\nmodel = 1\n');
    const { r, doc, check } = await doctorJson();
    expect(r.code).toBe(1);
    expect(doc.ok).toBe(false);
    const c = check('credential_store');
    expect(c.status).toBe('fail');
    expect(c.message).toContain(`${cfg} is not valid TOML`);
    expect(c.fix).toBe(`fix the syntax of ${cfg} (at the line the message names)`);
    // Nothing else breaks because of it.
    expect(check('registry').status).toBe('ok');
  });

  it('fails on a corrupt registry but leaves the file where it is (read-only)', async () => {
    await healthy();
    const file = path.join(home(), 'registry.json');
    fs.writeFileSync(file, '{"version": 1, "accounts": [', { mode: 0o600 });
    const before = snapshot();
    const { r, check } = await doctorJson();
    expect(r.code).toBe(1);
    expect(check('registry')).toMatchObject({ status: 'fail', message: `${file} is corrupt (it is not valid JSON)` });
    expect(check('registry').fix).toContain(`codex-auth import ${accountsDir()}`);
    expect(check('orphaned_secrets')).toMatchObject({ status: 'warn', fix: 'fix the registry first (see its fix)' });
    expect(snapshot()).toEqual(before);
  });

  it('fails when an account\'s stored secret is missing, naming the row to remove', async () => {
    await healthy();
    fs.unlinkSync(path.join(accountsDir(), 'chatgpt__user-bob__acc-bob.json'));
    const { r, check } = await doctorJson();
    expect(r.code).toBe(1);
    expect(check('registry')).toMatchObject({
      status: 'fail',
      // bob was added first: his number stays 1 after alice, who sorts before him, is added.
      message: '1 account cannot be switched to: #1 bob@example.com (pro) (no stored secret)',
      fix: 'codex-auth remove 1 --yes, then add it again (codex-auth login / codex-auth add-api-key)',
    });
  });

  it('warns about OPENAI_API_KEY / CODEX_API_KEY without showing their values', async () => {
    const key = fakeApiKey('doctor-env');
    secrets.push(key);
    const { r, check } = await doctorJson({ OPENAI_API_KEY: key, CODEX_API_KEY: key });
    expect(r.code).toBe(0);
    expect(check('env_overrides')).toEqual({
      id: 'env_overrides',
      status: 'warn',
      message: 'OPENAI_API_KEY and CODEX_API_KEY are set (value not shown): Codex may use them instead of the active account',
      fix: 'unset OPENAI_API_KEY CODEX_API_KEY (and remove them from your shell profile)',
    });
    const text = await sb.run(['doctor'], { env: { OPENAI_API_KEY: key } });
    expect(text.stdout + text.stderr).not.toContain(key);
  });

  it('warns when the codex binary is missing (with the install command) or does not answer in 5 s', async () => {
    delete sb.env.CODEX_AUTH_CODEX_BIN;
    const missing = await doctorJson({ PATH: path.join(sb.root, 'empty-path') });
    expect(missing.r.code).toBe(0);
    expect(missing.check('codex_binary')).toMatchObject({ status: 'warn', fix: 'npm install -g @openai/codex (or set CODEX_AUTH_CODEX_BIN to its path)' });

    const started = Date.now();
    const hung = await doctorJson({ CODEX_AUTH_CODEX_BIN: path.join(shimDir, 'codex-hangs') });
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(4900);
    expect(took).toBeLessThan(9000);
    expect(hung.check('codex_binary')).toMatchObject({ status: 'warn', message: `${path.join(shimDir, 'codex-hangs')} --version failed (no answer within 5 s)` });
  }, 20_000);

  it("takes codex's version from its standard output, never a warning it printed on stderr", async () => {
    const dir = path.join(sb.root, 'codex-shims');
    fs.mkdirSync(dir, { recursive: true });
    const warns = path.join(dir, 'codex-warns');
    fs.writeFileSync(warns, '#!/bin/sh\necho "WARNING: proceeding, even though we could not create PATH aliases" >&2\necho "codex-cli 0.169.0"\n', { mode: 0o755 });
    const noVersion = path.join(dir, 'codex-no-version');
    fs.writeFileSync(noVersion, '#!/bin/sh\nprintf "WARNING: \\033]0;pwned\\007something odd\\n" >&2\n', { mode: 0o755 });
    const good = await doctorJson({ CODEX_AUTH_CODEX_BIN: warns });
    expect(good.check('codex_binary')).toMatchObject({ status: 'ok', message: `codex-cli 0.169.0 (${warns})` });
    const bad = await doctorJson({ CODEX_AUTH_CODEX_BIN: noVersion });
    expect(bad.check('codex_binary')).toMatchObject({ status: 'warn' });
    expect(bad.check('codex_binary').message).toContain('printed no version');
    expect(bad.check('codex_binary').message).not.toMatch(/[\u0000-\u001f]/);
  });

  it('in keyring mode, warns about an auth.json Codex ignores and points at the import', async () => {
    await healthy();
    fs.writeFileSync(path.join(sb.codexHome, 'config.toml'), 'cli_auth_credentials_store = "keyring"\n');
    const none = await doctorJson();
    expect(none.check('credential_store')).toMatchObject({
      status: 'warn',
      message: expect.stringMatching(/^keyring mode \(config\.toml\): no "Codex Auth" keyring entry for this CODEX_HOME, so Codex is not logged in; .*auth\.json exists but Codex ignores it in keyring mode$/),
      fix: 'codex-auth switch QUERY (see codex-auth list)',
    });
    // Switching writes Codex's keyring entry (and removes auth.json); a stray auth.json then reappears.
    expect((await sb.run(['switch', 'bob'])).code).toBe(0);
    expect(fs.existsSync(sb.authJsonPath)).toBe(false);
    expect((await doctorJson()).check('credential_store')).toMatchObject({ status: 'ok', message: 'keyring mode (config.toml): Codex reads its OS keyring entry: bob@example.com (pro)' });
    sb.writeAuth(remember(chatgptAuth(ALICE)));
    const { r, check } = await doctorJson();
    expect(r.code).toBe(0);
    expect(check('credential_store')).toEqual({
      id: 'credential_store',
      status: 'warn',
      message: `keyring mode (config.toml): Codex reads its keyring entry (bob@example.com (pro)); ${sb.authJsonPath} also exists and is ignored while that entry exists`,
      fix: `codex-auth import ${sb.authJsonPath} && rm ${sb.authJsonPath}`,
    });
    expect(check('keyring').status).toBe('ok');
  });

  it('fails on a CODEX_HOME that does not exist, and still runs the other checks', async () => {
    const missing = path.join(sb.root, 'no-such-dir');
    const { r, doc, check } = await doctorJson({ CODEX_HOME: missing });
    expect(r.code).toBe(1);
    expect(doc.checks.map((c) => c.id)).toEqual(IDS);
    expect(check('codex_home')).toEqual({
      id: 'codex_home',
      status: 'fail',
      message: `CODEX_HOME points to ${missing}, which does not exist`,
      fix: `mkdir -p ${missing} (or point CODEX_HOME at the right directory)`,
    });
    expect(fs.existsSync(missing)).toBe(false);
  });
});
