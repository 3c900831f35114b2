/**
 * codex-auth's keyring store against a REAL Secret Service (gnome-keyring in a private D-Bus session,
 * test/support/keyring-session.ts). Keyring code runs in child processes (./run-driver.ts) because
 * libdbus binds to one bus address per process.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYRING_SERVICE, keyringScope } from '../../src/store/keyring.js';
import { keyringGate, startKeyringSession, type KeyringSession } from '../support/keyring-session.js';
import { buildDriver, type Driver, type DriverRun } from './run-driver.js';

const gate = keyringGate();

function secretValue(tag: string): string {
  return `{"auth_mode":"apikey","OPENAI_API_KEY":"sk-proj-${tag}-${Math.random().toString(36).slice(2)}${'Q'.repeat(24)}"}`;
}

function expectNoSecret(run: DriverRun, secret: string): void {
  expect(run.stdout).not.toContain(secret);
  expect(run.stderr).not.toContain(secret);
  const key = /sk-proj-[^"]+/.exec(secret)?.[0];
  if (key) {
    expect(run.stdout).not.toContain(key);
    expect(run.stderr).not.toContain(key);
  }
}

function explain(run: DriverRun): string {
  return JSON.stringify(run.response, null, 2) + `\n--- stderr\n${run.stderr}`;
}

describe.skipIf(gate.skip)('codex-auth secrets in a real Secret Service', () => {
  let session: KeyringSession;
  let driver: Driver;
  let scratch: string;

  beforeAll(async () => {
    [session, driver] = await Promise.all([startKeyringSession(), buildDriver()]);
    scratch = mkdtempSync(join(tmpdir(), 'codex-auth-keyring-homes-'));
  });

  afterAll(async () => {
    driver?.dispose();
    await session?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  function home(name: string): string {
    const dir = join(scratch, name);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  it('probes the keyring (write, read back, delete) and names the Secret Service', async () => {
    const run = await driver.run({ op: 'probe' }, session.env);
    expect(run.response.ok, explain(run)).toBe(true);
    if (run.response.ok) expect(run.response.result).toEqual({ backend: 'Secret Service' });
    // The probe leaves nothing behind.
    expect(await session.searchItems({ service: KEYRING_SERVICE })).toEqual([]);
  });

  it('round-trips a secret through the Secret Service, and a fresh process reads it back', async () => {
    const h = home('roundtrip');
    const value = secretValue('roundtrip');
    const set = await driver.run({ op: 'store-set', home: h, ref: 'apikey__u1__abc', value }, session.env);
    expect(set.response.ok, explain(set)).toBe(true);
    expectNoSecret(set, value);

    // It really is an item of the private gnome-keyring, under service codex-auth and a scoped account.
    const account = `${keyringScope(h)}|apikey__u1__abc`;
    expect(await session.searchItems({ service: KEYRING_SERVICE, username: account })).toHaveLength(1);

    const get = await driver.run({ op: 'store-get', home: h, ref: 'apikey__u1__abc' }, session.env);
    expect(get.response.ok, explain(get)).toBe(true);
    if (get.response.ok) expect(get.response.result).toBe(value);

    const del = await driver.run({ op: 'store-delete', home: h, ref: 'apikey__u1__abc' }, session.env);
    expect(del.response.ok && del.response.result).toBe(true);
    const again = await driver.run({ op: 'store-delete', home: h, ref: 'apikey__u1__abc' }, session.env);
    expect(again.response.ok && again.response.result).toBe(false);
    const gone = await driver.run({ op: 'store-get', home: h, ref: 'apikey__u1__abc' }, session.env);
    expect(gone.response.ok, explain(gone)).toBe(true);
    if (gone.response.ok) expect(gone.response.result).toBeNull();
  });

  it('keeps two homes apart, and one home reached through a symlink is the same home', async () => {
    const h1 = home('one');
    const h2 = home('two');
    const link = join(scratch, 'one-link');
    symlinkSync(h1, link);
    const v1 = secretValue('one');
    const v2 = secretValue('two');
    const [a, b] = await Promise.all([
      driver.run({ op: 'store-set', home: h1, ref: 'same-ref', value: v1 }, session.env),
      driver.run({ op: 'store-set', home: h2, ref: 'same-ref', value: v2 }, session.env),
    ]);
    expect(a.response.ok, explain(a)).toBe(true);
    expect(b.response.ok, explain(b)).toBe(true);
    expect(keyringScope(h1)).not.toBe(keyringScope(h2));
    expect(await session.searchItems({ service: KEYRING_SERVICE, username: `${keyringScope(h2)}|same-ref` })).toHaveLength(1);

    const [g1, g2, viaLink] = await Promise.all([
      driver.run({ op: 'store-get', home: h1, ref: 'same-ref' }, session.env),
      driver.run({ op: 'store-get', home: h2, ref: 'same-ref' }, session.env),
      driver.run({ op: 'store-get', home: `${link}/`, ref: 'same-ref' }, session.env),
    ]);
    expect(g1.response.ok && g1.response.result).toBe(v1);
    expect(g2.response.ok && g2.response.result).toBe(v2);
    expect(viaLink.response.ok && viaLink.response.result).toBe(v1);

    const d1 = await driver.run({ op: 'store-delete', home: h1, ref: 'same-ref' }, session.env);
    expect(d1.response.ok && d1.response.result).toBe(true);
    const still = await driver.run({ op: 'store-get', home: h2, ref: 'same-ref' }, session.env);
    expect(still.response.ok && still.response.result).toBe(v2);
  });

  it("with no D-Bus at all (a socket that doesn't exist) fails 'unavailable' at once, naming the fix", async () => {
    const value = secretValue('nobus');
    const env = { ...session.env, DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(scratch, 'no-such-bus')}` };
    const run = await driver.run({ op: 'store-set', home: home('nobus'), ref: 'r', value, timeoutMs: 3000 }, env);
    expect(run.response.ok, explain(run)).toBe(false);
    if (run.response.ok) return;
    expect(run.response.error.reason).toBe('unavailable');
    expect(run.response.error.code).toBe('keyring_unavailable');
    expect(run.response.ms).toBeLessThan(3000);
    expect(run.response.error.message).toMatch(/\(unavailable\)/);
    expect(run.response.error.message).toMatch(/no Secret Service is running/);
    expect(run.response.error.message).toMatch(/install and start gnome-keyring/);
    expect(run.response.error.message).toMatch(/--insecure-storage/);
    expectNoSecret(run, value);
  });

  it("with DBUS_SESSION_BUS_ADDRESS unset says so ('unavailable')", async () => {
    const env: Record<string, string> = { ...session.env };
    delete env.DBUS_SESSION_BUS_ADDRESS;
    env.XDG_RUNTIME_DIR = join(scratch, 'no-runtime-dir');
    const run = await driver.run({ op: 'store-get', home: home('unset'), ref: 'r' }, env);
    expect(run.response.ok, explain(run)).toBe(false);
    if (run.response.ok) return;
    expect(run.response.error.reason).toBe('unavailable');
    expect(run.response.error.message).toMatch(/DBUS_SESSION_BUS_ADDRESS is unset/);
    expect(run.response.ms).toBeLessThan(1000);
  });

  it("with a bus but no Secret Service on it fails 'unavailable' naming gnome-keyring/KeePassXC", async () => {
    const bare = await startKeyringSession({ secretService: false });
    try {
      const run = await driver.run({ op: 'store-get', home: home('bare'), ref: 'r' }, bare.env);
      expect(run.response.ok, explain(run)).toBe(false);
      if (run.response.ok) return;
      expect(run.response.error.reason).toBe('unavailable');
      expect(run.response.error.message).toMatch(/gnome-keyring or KeePassXC is not running/);
      expect(run.response.ms).toBeLessThan(3000);
    } finally {
      await bare.stop();
    }
  });

  it("a locked login keyring gives 'locked' with the unlock fix, for reads and writes", async () => {
    const own = await startKeyringSession();
    try {
      const h = home('locked');
      const value = secretValue('locked');
      const set = await driver.run({ op: 'store-set', home: h, ref: 'r', value }, own.env);
      expect(set.response.ok, explain(set)).toBe(true);
      await own.lock();
      expect(await own.isLocked()).toBe(true);

      const get = await driver.run({ op: 'store-get', home: h, ref: 'r' }, own.env);
      expect(get.response.ok, explain(get)).toBe(false);
      if (!get.response.ok) {
        expect(get.response.error.reason).toBe('locked');
        expect(get.response.error.message).toMatch(/the login keyring is locked/);
        expect(get.response.error.message).toMatch(/gnome-keyring-daemon --unlock/);
      }
      expectNoSecret(get, value);

      const value2 = secretValue('locked2');
      const set2 = await driver.run({ op: 'store-set', home: h, ref: 'r', value: value2 }, own.env);
      expect(set2.response.ok, explain(set2)).toBe(false);
      if (!set2.response.ok) expect(set2.response.error.reason).toBe('locked');
      expectNoSecret(set2, value2);
    } finally {
      await own.stop();
    }
  });
});
