/**
 * Codex's own keyring entry, proven against the REAL Codex CLI (@openai/codex 0.169.0) and a REAL
 * Secret Service (private gnome-keyring): what KeyringLiveCredentials / AutoLiveCredentials write is
 * what `codex login status` reports, what `codex login --with-api-key` writes is what they read, and
 * the auto-mode rules documented in src/store/live-keyring.ts hold.
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { CODEX_KEYRING_SERVICE, codexKeyringAccount } from '../../src/store/keyring.js';
import { CODEX_BIN, codexAvailable, codexSandbox, runCodex, type RunResult } from '../support/codex.js';
import { apiKeyAuth, chatgptAuth, codexMaskedKey, fakeApiKey } from '../support/jwt.js';
import { keyringGate, startKeyringSession, type KeyringSession } from '../support/keyring-session.js';
import { buildDriver, type Driver, type DriverRun } from './run-driver.js';

const gate = keyringGate([{ ok: codexAvailable(), why: `the real Codex CLI is missing at ${CODEX_BIN} (npm install installs @openai/codex)` }]);

const QUIET = ['-c', 'analytics.enabled=false', '-c', 'check_for_update_on_startup=false'];
const storeArg = (mode: 'keyring' | 'auto'): string[] => ['-c', `cli_auth_credentials_store="${mode}"`];

function explainCodex(r: RunResult): string {
  return `exit=${String(r.code)} timedOut=${String(r.timedOut)}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}
function explain(run: DriverRun): string {
  return `${JSON.stringify(run.response, null, 2)}\n--- stderr\n${run.stderr}`;
}
function expectNoSecretIn(texts: string[], secrets: string[]): void {
  for (const t of texts) for (const s of secrets) expect(t.includes(s), `a secret leaked into output:\n${t}`).toBe(false);
}

describe.skipIf(gate.skip)("Codex's keyring entry, with the real Codex CLI", () => {
  let session: KeyringSession;
  let driver: Driver;

  beforeAll(async () => {
    [session, driver] = await Promise.all([startKeyringSession(), buildDriver()]);
  });
  afterAll(async () => {
    driver?.dispose();
    await session?.stop();
  });

  function codex(args: string[], box: { home: string; codexHome: string }, opts: { input?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
    return runCodex([...QUIET, ...args], {
      home: box.home,
      codexHome: box.codexHome,
      env: { DBUS_SESSION_BUS_ADDRESS: session.busAddress, ...opts.env },
      ...(opts.input !== undefined ? { input: opts.input } : {}),
      timeoutMs: 20_000,
    });
  }

  it('a value written with KeyringLiveCredentials is what `codex login status` reports; auth.json is removed', async () => {
    const box = codexSandbox(onTestFinished);
    const key = fakeApiKey('keyring-write');
    const stale = fakeApiKey('stale-file');
    writeFileSync(join(box.codexHome, 'auth.json'), JSON.stringify(apiKeyAuth(stale), null, 2), { mode: 0o600 });
    const text = `${JSON.stringify(apiKeyAuth(key), null, 2)}\n`;

    const w = await driver.run({ op: 'live-write', codexHome: box.codexHome, mode: 'keyring', value: text }, session.env);
    expect(w.response.ok, explain(w)).toBe(true);
    expectNoSecretIn([w.stdout, w.stderr], [key, stale]);
    // Codex's rule after a keyring save: no auth.json (and its locks were taken: the lock files exist).
    expect(existsSync(join(box.codexHome, 'auth.json'))).toBe(false);
    expect(existsSync(join(box.codexHome, 'auth.lock'))).toBe(true);
    expect(existsSync(join(box.codexHome, 'auth.json.lock'))).toBe(true);
    // One item, under Codex's service and account.
    const account = codexKeyringAccount(box.codexHome);
    expect(await session.searchItems({ service: CODEX_KEYRING_SERVICE, username: account })).toHaveLength(1);
    if (w.response.ok) expect(w.response.result).toMatchObject({ location: `OS keyring entry "Codex Auth" / ${account}` });

    const status = await codex([...storeArg('keyring'), 'login', 'status'], box);
    expect(status.code, explainCodex(status)).toBe(0);
    expect(status.stdout + status.stderr).toContain(`API key configured - ${codexMaskedKey(key)}`);
    expectNoSecretIn([status.stdout, status.stderr], [key, stale]);

    // The stored value is compact JSON of the same document.
    const r = await driver.run({ op: 'live-read', codexHome: box.codexHome, mode: 'keyring' }, session.env);
    expect(r.response.ok, explain(r)).toBe(true);
    if (r.response.ok) expect((r.response.result as { text: string }).text).toBe(JSON.stringify(apiKeyAuth(key)));
  });

  it('a ChatGPT login (a value far over 1200 chars) written by us is accepted by Codex as one entry', async () => {
    const box = codexSandbox(onTestFinished);
    const doc = chatgptAuth({ email: 'kr@example.com', userId: 'user-kr', accountId: 'acct-kr', plan: 'plus' });
    const text = JSON.stringify(doc, null, 2);
    expect(JSON.stringify(doc).length).toBeGreaterThan(1200);
    const w = await driver.run({ op: 'live-write', codexHome: box.codexHome, mode: 'keyring', value: text }, session.env);
    expect(w.response.ok, explain(w)).toBe(true);
    const status = await codex([...storeArg('keyring'), 'login', 'status'], box);
    expect(status.code, explainCodex(status)).toBe(0);
    expect(status.stdout + status.stderr).toContain('Logged in using ChatGPT');
    expectNoSecretIn([status.stdout, status.stderr, w.stdout, w.stderr], [doc.tokens.access_token, doc.tokens.refresh_token, doc.tokens.id_token]);
  });

  it('`codex login --with-api-key` in keyring mode writes an entry KeyringLiveCredentials reads back, and no auth.json', async () => {
    const box = codexSandbox(onTestFinished);
    const key = fakeApiKey('codex-login');
    const login = await codex([...storeArg('keyring'), 'login', '--with-api-key'], box, { input: `${key}\n` });
    expect(login.code, explainCodex(login)).toBe(0);
    expectNoSecretIn([login.stdout, login.stderr], [key]);
    expect(existsSync(join(box.codexHome, 'auth.json'))).toBe(false);
    expect(await session.searchItems({ service: CODEX_KEYRING_SERVICE, username: codexKeyringAccount(box.codexHome) })).toHaveLength(1);

    const r = await driver.run({ op: 'live-read', codexHome: box.codexHome, mode: 'keyring' }, session.env);
    expect(r.response.ok, explain(r)).toBe(true);
    if (!r.response.ok) return;
    const text = (r.response.result as { text: string | null }).text;
    expect(text).not.toBeNull();
    expect(JSON.parse(text ?? 'null')).toEqual({ auth_mode: 'apikey', OPENAI_API_KEY: key });
  });

  it('finds the entry of a CODEX_HOME reached through a symlink (Codex hashes the canonical path)', async () => {
    const box = codexSandbox(onTestFinished);
    const link = join(box.home, 'codex-link');
    symlinkSync(box.codexHome, link);
    const key = fakeApiKey('symlink');
    const login = await codex([...storeArg('keyring'), 'login', '--with-api-key'], { home: box.home, codexHome: `${link}/` }, { input: key });
    expect(login.code, explainCodex(login)).toBe(0);
    expect(codexKeyringAccount(`${link}/`)).toBe(codexKeyringAccount(box.codexHome));
    const r = await driver.run({ op: 'live-read', codexHome: box.codexHome, mode: 'keyring' }, session.env);
    expect(r.response.ok && JSON.parse((r.response.result as { text: string }).text)).toEqual({ auth_mode: 'apikey', OPENAI_API_KEY: key });
  });

  it('keyring mode ignores auth.json: no entry reads as "not logged in" for Codex and null for us', async () => {
    const box = codexSandbox(onTestFinished);
    writeFileSync(join(box.codexHome, 'auth.json'), JSON.stringify(apiKeyAuth(fakeApiKey('ignored'))), { mode: 0o600 });
    const status = await codex([...storeArg('keyring'), 'login', 'status'], box);
    expect(status.code, explainCodex(status)).toBe(1);
    expect(status.stdout + status.stderr).toContain('Not logged in');
    const r = await driver.run({ op: 'live-read', codexHome: box.codexHome, mode: 'keyring' }, session.env);
    expect(r.response.ok && (r.response.result as { text: unknown }).text).toBeNull();
  });

  describe('auto mode', () => {
    it('when both the entry and auth.json exist, the keyring wins (Codex and AutoLiveCredentials agree)', async () => {
      const box = codexSandbox(onTestFinished);
      const inKeyring = fakeApiKey('auto-keyring');
      const inFile = fakeApiKey('auto-file');
      const w = await driver.run({ op: 'live-write', codexHome: box.codexHome, mode: 'keyring', value: JSON.stringify(apiKeyAuth(inKeyring)) }, session.env);
      expect(w.response.ok, explain(w)).toBe(true);
      writeFileSync(join(box.codexHome, 'auth.json'), JSON.stringify(apiKeyAuth(inFile), null, 2), { mode: 0o600 });

      const status = await codex([...storeArg('auto'), 'login', 'status'], box);
      expect(status.stdout + status.stderr, explainCodex(status)).toContain(codexMaskedKey(inKeyring));
      const r = await driver.run({ op: 'live-read', codexHome: box.codexHome, mode: 'auto' }, session.env);
      expect(r.response.ok, explain(r)).toBe(true);
      if (r.response.ok) {
        const res = r.response.result as { text: string; source: string };
        expect(res.source).toBe('keyring');
        expect(JSON.parse(res.text).OPENAI_API_KEY).toBe(inKeyring);
      }
    });

    it('with no entry both read auth.json; an auto write goes to the keyring and removes auth.json, as `codex login` does', async () => {
      const box = codexSandbox(onTestFinished);
      const inFile = fakeApiKey('auto-only-file');
      writeFileSync(join(box.codexHome, 'auth.json'), JSON.stringify(apiKeyAuth(inFile), null, 2), { mode: 0o600 });
      const status = await codex([...storeArg('auto'), 'login', 'status'], box);
      expect(status.stdout + status.stderr, explainCodex(status)).toContain(codexMaskedKey(inFile));
      const r = await driver.run({ op: 'live-read', codexHome: box.codexHome, mode: 'auto' }, session.env);
      expect(r.response.ok && (r.response.result as { source: string }).source).toBe('file');

      const next = fakeApiKey('auto-switched');
      const w = await driver.run({ op: 'live-write', codexHome: box.codexHome, mode: 'auto', value: JSON.stringify(apiKeyAuth(next), null, 2) }, session.env);
      expect(w.response.ok, explain(w)).toBe(true);
      if (w.response.ok) expect((w.response.result as { source: string }).source).toBe('keyring');
      expect(existsSync(join(box.codexHome, 'auth.json'))).toBe(false);
      const after = await codex([...storeArg('auto'), 'login', 'status'], box);
      expect(after.stdout + after.stderr, explainCodex(after)).toContain(codexMaskedKey(next));

      // Codex's own auto-mode login behaves the same: keyring entry written, auth.json removed.
      const box2 = codexSandbox(onTestFinished);
      writeFileSync(join(box2.codexHome, 'auth.json'), JSON.stringify(apiKeyAuth(inFile)), { mode: 0o600 });
      const key2 = fakeApiKey('auto-codex-login');
      const login = await codex([...storeArg('auto'), 'login', '--with-api-key'], box2, { input: key2 });
      expect(login.code, explainCodex(login)).toBe(0);
      expect(existsSync(join(box2.codexHome, 'auth.json'))).toBe(false);
      const r2 = await driver.run({ op: 'live-read', codexHome: box2.codexHome, mode: 'auto' }, session.env);
      expect(r2.response.ok && JSON.parse((r2.response.result as { text: string }).text).OPENAI_API_KEY).toBe(key2);
    });

    it('with the keyring unreachable both fall back to auth.json, for reading and for writing', async () => {
      const box = codexSandbox(onTestFinished);
      const noBus = { DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(box.home, 'no-such-bus')}` };
      const inFile = fakeApiKey('auto-nobus');
      writeFileSync(join(box.codexHome, 'auth.json'), JSON.stringify(apiKeyAuth(inFile), null, 2), { mode: 0o600 });
      const status = await codex([...storeArg('auto'), 'login', 'status'], box, { env: noBus });
      expect(status.stdout + status.stderr, explainCodex(status)).toContain(codexMaskedKey(inFile));

      const env = { ...session.env, ...noBus };
      const r = await driver.run({ op: 'live-read', codexHome: box.codexHome, mode: 'auto' }, env);
      expect(r.response.ok, explain(r)).toBe(true);
      if (r.response.ok) {
        expect((r.response.result as { source: string }).source).toBe('file');
        expect(r.response.warnings.join('\n')).toMatch(/could not be read \(unavailable\)/);
      }

      const next = fakeApiKey('auto-nobus-write');
      const w = await driver.run({ op: 'live-write', codexHome: box.codexHome, mode: 'auto', value: JSON.stringify(apiKeyAuth(next), null, 2) }, env);
      expect(w.response.ok, explain(w)).toBe(true);
      if (w.response.ok) expect((w.response.result as { source: string }).source).toBe('file');
      expect(JSON.parse(readFileSync(join(box.codexHome, 'auth.json'), 'utf8')).OPENAI_API_KEY).toBe(next);
      expectNoSecretIn([w.stdout, w.stderr, r.stderr], [next, inFile]);
      const after = await codex([...storeArg('auto'), 'login', 'status'], box, { env: noBus });
      expect(after.stdout + after.stderr, explainCodex(after)).toContain(codexMaskedKey(next));
    });
  });

  it('keyring mode with the keyring unreachable is an error for Codex and a typed error for us (no file fallback)', async () => {
    const box = codexSandbox(onTestFinished);
    mkdirSync(box.codexHome, { recursive: true });
    writeFileSync(join(box.codexHome, 'auth.json'), JSON.stringify(apiKeyAuth(fakeApiKey('unused'))), { mode: 0o600 });
    const noBus = { DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(box.home, 'no-such-bus')}` };
    const status = await codex([...storeArg('keyring'), 'login', 'status'], box, { env: noBus });
    expect(status.code, explainCodex(status)).not.toBe(0);
    expect(status.stderr).toMatch(/failed to load CLI auth from keyring/);
    const r = await driver.run({ op: 'live-read', codexHome: box.codexHome, mode: 'keyring' }, { ...session.env, ...noBus });
    expect(r.response.ok, explain(r)).toBe(false);
    if (!r.response.ok) {
      expect(r.response.error.reason).toBe('unavailable');
      expect(r.response.error.message).toContain('cli_auth_credentials_store = "file"');
    }
  });
});
