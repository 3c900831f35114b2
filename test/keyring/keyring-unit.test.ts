/**
 * The keyring layer without a real keyring: injected backend doubles (hanging, failing, in-memory),
 * the D-Bus guard of the real backend against fake sockets, error mapping and messages, Codex's
 * account name, and the keyring/auto live-credential rules. The real Secret Service and the real
 * Codex CLI are in secret-service.test.ts and codex-keyring.test.ts.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  classifyKeyringError,
  CODEX_KEYRING_SERVICE,
  codexKeyringAccount,
  KEYRING_ENTRY_OPTIONS,
  KEYRING_SERVICE,
  KeyringClient,
  KeyringError,
  keyringErrorMessage,
  keyringScope,
  KeyringSecretStore,
  keyringTimeoutFromEnv,
  NapiKeyringBackend,
  parseBusAddress,
  probeKeyring,
  type KeyringBackend,
  type KeyringErrorReason,
} from '../../src/store/keyring.js';
import { AutoLiveCredentials, compactAuthJson, KeyringLiveCredentials } from '../../src/store/live-keyring.js';
import { resolvePaths, type Paths } from '../../src/store/paths.js';
import { CliError } from '../../src/errors.js';

const scratch = mkdtempSync(join(tmpdir(), 'codex-auth-keyring-unit-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
function freshDir(name: string): string {
  const d = join(scratch, `${name}-${++n}`);
  mkdirSync(d, { recursive: true, mode: 0o700 });
  return d;
}

/** An in-memory keyring that can be told to fail or hang. */
class MemoryBackend implements KeyringBackend {
  readonly name = 'Memory';
  readonly items = new Map<string, string>();
  fail: Error | null = null;
  hang = false;
  signals: AbortSignal[] = [];
  calls: string[] = [];
  private key(s: string, a: string): string {
    return `${s}\u0000${a}`;
  }
  private async gate(op: string, signal?: AbortSignal): Promise<void> {
    this.calls.push(op);
    if (signal) this.signals.push(signal);
    if (this.hang) await new Promise(() => {});
    if (this.fail) throw this.fail;
  }
  async get(s: string, a: string, signal?: AbortSignal): Promise<string | null> {
    await this.gate('get', signal);
    return this.items.get(this.key(s, a)) ?? null;
  }
  async set(s: string, a: string, v: string, signal?: AbortSignal): Promise<void> {
    await this.gate('set', signal);
    this.items.set(this.key(s, a), v);
  }
  async delete(s: string, a: string, signal?: AbortSignal): Promise<boolean> {
    await this.gate('delete', signal);
    return this.items.delete(this.key(s, a));
  }
  value(s: string, a: string): string | undefined {
    return this.items.get(this.key(s, a));
  }
}

async function caught(p: Promise<unknown>): Promise<KeyringError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(KeyringError);
    expect(e).toBeInstanceOf(CliError);
    return e as KeyringError;
  }
  throw new Error('expected a KeyringError, but the call succeeded');
}

const SECRET = 'sk-proj-THISISASECRETVALUE0123456789abcdefghij';

describe('bounded calls', () => {
  it('cuts off a hanging backend at the timeout with reason "timeout", and aborts its signal', async () => {
    const backend = new MemoryBackend();
    backend.hang = true;
    const store = new KeyringSecretStore({ home: freshDir('hang'), backend, timeoutMs: 250 });
    const t0 = Date.now();
    const err = await caught(store.set('ref', SECRET));
    const ms = Date.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(240);
    expect(ms).toBeLessThan(1500);
    expect(err.reason).toBe('timeout');
    expect(err.code).toBe('keyring_timeout');
    expect(err.message).toMatch(/\(timeout\)/);
    expect(err.message).toContain('did not answer within 0.25 s');
    expect(err.message).toMatch(/--insecure-storage/);
    expect(err.message).not.toContain(SECRET);
    expect(JSON.stringify(err.details)).not.toContain(SECRET);
    expect(backend.signals.every((s) => s.aborted)).toBe(true);
  });

  it('uses 3 s by default, and CODEX_AUTH_KEYRING_TIMEOUT_MS when valid', () => {
    expect(new KeyringClient({ backend: new MemoryBackend() }).timeoutMs).toBe(3000);
    expect(keyringTimeoutFromEnv({})).toBe(3000);
    expect(keyringTimeoutFromEnv({ CODEX_AUTH_KEYRING_TIMEOUT_MS: '750' })).toBe(750);
    expect(keyringTimeoutFromEnv({ CODEX_AUTH_KEYRING_TIMEOUT_MS: 'soon' })).toBe(3000);
    expect(keyringTimeoutFromEnv({ CODEX_AUTH_KEYRING_TIMEOUT_MS: '-5' })).toBe(3000);
  });

  it('maps a backend failure to a typed error and redacts secrets from the native message', async () => {
    const backend = new MemoryBackend();
    backend.fail = new Error(`Platform failure: something echoed ${SECRET} and eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln back`);
    const store = new KeyringSecretStore({ home: freshDir('redact'), backend });
    const err = await caught(store.set('ref', SECRET));
    expect(err.reason).toBe('other');
    expect(err.message).not.toContain(SECRET);
    expect(err.message).not.toContain('eyJzdWIiOiJ4In0');
    expect(err.message).toMatch(/codex-auth doctor/);
  });

  it('turns a synchronous throw (like the pinned constructor) into a typed error', async () => {
    const backend: KeyringBackend = {
      name: 'Throwing',
      get: () => {
        throw new Error('Platform failure: DBus error: The name org.freedesktop.secrets was not provided by any .service files');
      },
      set: () => Promise.resolve(),
      delete: () => Promise.resolve(false),
      busAddress: () => 'unix:path=/run/user/1000/bus',
    };
    const err = await caught(new KeyringClient({ backend, platform: 'linux' }).get('s', 'a'));
    expect(err.reason).toBe('unavailable');
    expect(err.message).toMatch(/gnome-keyring or KeePassXC is not running/);
  });
});

describe('error classification and messages', () => {
  const observed: Array<[string, KeyringErrorReason]> = [
    // Real messages of @napi-rs/keyring 2.1.2 (store pinned to the Secret Service) on Linux.
    ['Platform failure: DBus error: Failed to connect to socket /tmp/nonexistent-sock: No such file or directory', 'unavailable'],
    ['Platform failure: DBus error: Using X11 for dbus-daemon autolaunch was disabled at compile time, set your DBUS_SESSION_BUS_ADDRESS instead', 'unavailable'],
    ['Platform failure: DBus error: The name org.freedesktop.secrets was not provided by any .service files', 'unavailable'],
    ["Couldn't access platform storage: Secret Service: unlock prompt was dismissed", 'locked'],
    [
      'Platform failure: DBus error: Did not receive a reply. Possible causes include: the remote application did not send a reply, the message bus security policy blocked the reply, the reply timeout expired, or the network connection was broken.',
      'timeout',
    ],
    ["Couldn't access platform storage: AccessDenied", 'denied'],
    ['No matching entry found in secure storage', 'not_found'],
    ['Entry is matched by 2 credentials: [...]', 'other'],
    // macOS Keychain wording.
    ['User interaction is not allowed.', 'locked'],
  ];
  it.each(observed)('%s -> %s', (message, reason) => {
    expect(classifyKeyringError(new Error(message))).toBe(reason);
  });

  it('an AbortError is a timeout; a KeyringError keeps its reason', () => {
    expect(classifyKeyringError(Object.assign(new Error('aborted'), { name: 'AbortError' }))).toBe('timeout');
    expect(classifyKeyringError(new KeyringError('denied', { op: 'get' }))).toBe('denied');
  });

  it('every reason names itself and a fix', () => {
    const reasons: KeyringErrorReason[] = ['unavailable', 'locked', 'timeout', 'not_found', 'denied', 'other'];
    for (const reason of reasons) {
      const m = keyringErrorMessage(reason, { op: 'get', platform: 'linux', busAddress: 'unix:path=/x', service: 'codex-auth', account: 'abc|ref' });
      expect(m).toContain(`(${reason})`);
      expect(m).toMatch(/: [a-z`]/); // "...: <fix>"
      expect(m.split('\n')).toHaveLength(1);
    }
    expect(keyringErrorMessage('unavailable', { op: 'set', platform: 'linux', busAddress: null })).toMatch(
      /no Secret Service is running \(DBUS_SESSION_BUS_ADDRESS is unset\).*install and start gnome-keyring.*or use --insecure-storage/,
    );
    expect(keyringErrorMessage('unavailable', { op: 'set', platform: 'linux' })).toMatch(
      /no Secret Service is running \(DBUS_SESSION_BUS_ADDRESS is unset \/ gnome-keyring or KeePassXC not running\)/,
    );
    expect(keyringErrorMessage('locked', { op: 'get', platform: 'linux' })).toMatch(/the login keyring is locked.*gnome-keyring-daemon --unlock/);
    expect(keyringErrorMessage('timeout', { op: 'get', timeoutMs: 3000 })).toMatch(/did not answer within 3 s/);
    expect(keyringErrorMessage('unavailable', { op: 'get', platform: 'linux', alternative: 'switch Codex to file storage' })).toMatch(/or switch Codex to file storage\.$/);
    expect(keyringErrorMessage('unavailable', { op: 'get', platform: 'darwin' })).toMatch(/macOS Keychain/);
  });
});

describe('the real backend guards against a missing or hung D-Bus before touching the native binding', () => {
  const neverLoad = (): Promise<never> => Promise.reject(new Error('the native binding must not be loaded'));

  it('pins Linux entries to the Secret Service', () => {
    expect(KEYRING_ENTRY_OPTIONS).toEqual({ linux: { store: 'secret-service' } });
  });

  it('parses D-Bus addresses', () => {
    expect(parseBusAddress('unix:path=/run/user/1000/bus')).toEqual({ path: '/run/user/1000/bus' });
    expect(parseBusAddress('unix:abstract=/tmp/dbus-x,guid=1')).toEqual({ path: '\0/tmp/dbus-x' });
    expect(parseBusAddress('tcp:host=localhost,port=1;unix:path=/a%20b')).toEqual({ path: '/a b' });
    expect(parseBusAddress('autolaunch:')).toBeNull();
  });

  it('unset address: "unavailable" naming DBUS_SESSION_BUS_ADDRESS, at once', async () => {
    const backend = new NapiKeyringBackend({ env: { XDG_RUNTIME_DIR: freshDir('nort') }, platform: 'linux', load: neverLoad });
    const err = await caught(new KeyringClient({ backend, platform: 'linux' }).get(KEYRING_SERVICE, 'a'));
    expect(err.reason).toBe('unavailable');
    expect(err.message).toMatch(/DBUS_SESSION_BUS_ADDRESS is unset/);
  });

  it('uses $XDG_RUNTIME_DIR/bus when the address is unset, as Codex does', async () => {
    const runtime = freshDir('rt');
    const server = net.createServer(() => {});
    await new Promise<void>((r) => server.listen(join(runtime, 'bus'), r));
    try {
      const backend = new NapiKeyringBackend({ env: { XDG_RUNTIME_DIR: runtime }, platform: 'linux', load: neverLoad });
      expect(backend.busAddress()).toBe(`unix:path=${join(runtime, 'bus')}`);
    } finally {
      server.close();
    }
  });

  it('a socket that does not exist: "unavailable" within a few ms', async () => {
    const backend = new NapiKeyringBackend({ env: { DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(scratch, 'nope')}` }, platform: 'linux', load: neverLoad });
    const t0 = Date.now();
    const err = await caught(new KeyringClient({ backend, platform: 'linux' }).set(KEYRING_SERVICE, 'a', SECRET));
    expect(Date.now() - t0).toBeLessThan(500);
    expect(err.reason).toBe('unavailable');
    expect(err.message).toMatch(/nothing answers on the D-Bus session bus/);
    expect(err.message).not.toContain(SECRET);
  });

  it('a bus that accepts connections but never answers: "timeout" at the timeout, binding never loaded', async () => {
    const sockPath = join(freshDir('hungbus'), 'bus');
    const held: net.Socket[] = [];
    const server = net.createServer((s) => held.push(s)); // never replies to AUTH
    await new Promise<void>((r) => server.listen(sockPath, r));
    try {
      const backend = new NapiKeyringBackend({ env: { DBUS_SESSION_BUS_ADDRESS: `unix:path=${sockPath}` }, platform: 'linux', load: neverLoad });
      const t0 = Date.now();
      const err = await caught(new KeyringClient({ backend, platform: 'linux', timeoutMs: 300 }).get(KEYRING_SERVICE, 'a'));
      const ms = Date.now() - t0;
      expect(err.reason).toBe('timeout');
      expect(ms).toBeGreaterThanOrEqual(290);
      expect(ms).toBeLessThan(1500);
    } finally {
      for (const s of held) s.destroy();
      server.close();
    }
  });
});

describe('probeKeyring', () => {
  it('writes, reads back and deletes a throw-away entry', async () => {
    const backend = new MemoryBackend();
    const r = await probeKeyring(backend, 1000);
    expect(r.ok).toBe(true);
    expect(backend.calls).toEqual(['set', 'get', 'delete']);
    expect(backend.items.size).toBe(0);
  });

  it('reports a hanging keyring as a timeout within the budget', async () => {
    const backend = new MemoryBackend();
    backend.hang = true;
    const r = await probeKeyring(backend, 200);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.reason).toBe('timeout');
      expect(r.error.op).toBe('probe');
      expect(r.ms).toBeLessThan(1500);
    }
  });

  it('reports a keyring that returns something else', async () => {
    const backend = new MemoryBackend();
    backend.get = async () => 'not what was written';
    const r = await probeKeyring(backend, 1000);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.reason).toBe('other');
  });
});

describe('names: scopes and Codex account', () => {
  const sha16 = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 16);

  it('codexKeyringAccount hashes the canonical CODEX_HOME (symlinks resolved, trailing slash dropped)', () => {
    const real = freshDir('codexhome');
    const link = join(scratch, `link-${n}`);
    symlinkSync(real, link);
    const expected = `cli|${sha16(realpathSync(real))}`;
    expect(codexKeyringAccount(real)).toBe(expected);
    expect(codexKeyringAccount(`${link}/`)).toBe(expected);
    expect(codexKeyringAccount(join(link, '..', `link-${n}`))).toBe(expected);
    expect(codexKeyringAccount('/tmp/kr3/home/.codex')).toMatch(/^cli\|[0-9a-f]{16}$/);
    // Not existing: the canonical parent plus the last component (compute_store_key's fallback).
    expect(codexKeyringAccount(join(link, 'not-yet'))).toBe(`cli|${sha16(join(realpathSync(real), 'not-yet'))}`);
  });

  it('two homes get different scopes; a home gets the same scope before and after it exists', () => {
    const a = freshDir('home-a');
    const b = freshDir('home-b');
    expect(keyringScope(a)).toMatch(/^[0-9a-f]{16}$/);
    expect(keyringScope(a)).not.toBe(keyringScope(b));
    const later = join(freshDir('parent'), 'deep', 'codex-auth');
    const before = keyringScope(later);
    mkdirSync(later, { recursive: true });
    expect(keyringScope(later)).toBe(before);
  });

  it('KeyringSecretStore: service codex-auth, account <scope>|<ref>, and a description', async () => {
    const backend = new MemoryBackend();
    const home = freshDir('store');
    const store = new KeyringSecretStore({ home, backend });
    expect(store.kind).toBe('keyring');
    await store.set('apikey__me__abc', 'v1');
    expect(backend.value(KEYRING_SERVICE, `${keyringScope(home)}|apikey__me__abc`)).toBe('v1');
    expect(await store.get('apikey__me__abc')).toBe('v1');
    expect(await store.delete('apikey__me__abc')).toBe(true);
    expect(await store.delete('apikey__me__abc')).toBe(false);
    expect(await store.get('apikey__me__abc')).toBeNull();
    expect(store.describe()).toBe('OS keyring (Memory), service codex-auth');
    expect(new KeyringSecretStore({ home, backend: new NapiKeyringBackend({ platform: 'linux' }) }).describe()).toBe(
      'OS keyring (Secret Service), service codex-auth',
    );
  });
});

describe('live credentials in keyring and auto mode (in-memory keyring)', () => {
  function setup(): { paths: Paths; backend: MemoryBackend; warnings: string[]; opts: ConstructorParameters<typeof KeyringLiveCredentials>[1] } {
    const home = freshDir('live');
    const codexHome = join(home, '.codex');
    mkdirSync(codexHome, { mode: 0o700 });
    const env = { CODEX_HOME: codexHome, PATH: process.env.PATH ?? '' };
    const paths = resolvePaths({ env, homedir: home, cwd: home });
    const backend = new MemoryBackend();
    const warnings: string[] = [];
    return { paths, backend, warnings, opts: { env, backend, timeoutMs: 500, warn: (m) => warnings.push(m) } };
  }
  const doc = (key: string): string => JSON.stringify({ auth_mode: 'apikey', OPENAI_API_KEY: key, future_field: { kept: true } }, null, 2);

  it('keyring mode: writes compact JSON to "Codex Auth"/cli|<hash> and removes auth.json', async () => {
    const { paths, backend, opts } = setup();
    writeFileSync(paths.authJson, doc('sk-old'));
    const live = new KeyringLiveCredentials(paths, opts);
    expect(live.mode).toBe('keyring');
    expect(live.location).toBe(`OS keyring entry "Codex Auth" / ${codexKeyringAccount(paths.codexHome)}`);
    await live.withLock(() => live.write(doc('sk-new')));
    expect(backend.value(CODEX_KEYRING_SERVICE, codexKeyringAccount(paths.codexHome))).toBe(
      '{"auth_mode":"apikey","OPENAI_API_KEY":"sk-new","future_field":{"kept":true}}',
    );
    expect(existsSync(paths.authJson)).toBe(false);
    expect(await live.read()).toBe('{"auth_mode":"apikey","OPENAI_API_KEY":"sk-new","future_field":{"kept":true}}');
  });

  it('keyring mode: no entry is null even with auth.json present; errors are typed and offer file storage', async () => {
    const { paths, backend, opts } = setup();
    writeFileSync(paths.authJson, doc('sk-file'));
    const live = new KeyringLiveCredentials(paths, opts);
    expect(await live.read()).toBeNull();
    backend.fail = new Error("Couldn't access platform storage: Secret Service: unlock prompt was dismissed");
    const err = await caught(live.read());
    expect(err.reason).toBe('locked');
    expect(err.message).toContain(`cli_auth_credentials_store = "file" in ${paths.configToml}`);
    // A failed write changes nothing.
    await caught(live.write(doc('sk-new')));
    expect(readFileSync(paths.authJson, 'utf8')).toBe(doc('sk-file'));
  });

  it('refuses invalid JSON without echoing it', async () => {
    const { paths, opts, backend } = setup();
    const live = new KeyringLiveCredentials(paths, opts);
    await expect(live.write(`{"OPENAI_API_KEY":"${SECRET}"`)).rejects.toThrow(/not valid JSON/);
    await expect(live.write(`{"OPENAI_API_KEY":"${SECRET}"`)).rejects.not.toThrow(SECRET);
    expect(() => compactAuthJson('[1]')).toThrow(/not a JSON object/);
    expect(backend.items.size).toBe(0);
  });

  it('reassembles a chunked value (CODEX_CHUNKED:<n>:<first> + <account>:<i>)', async () => {
    const { paths, backend, opts } = setup();
    const account = codexKeyringAccount(paths.codexHome);
    const full = doc('sk-chunked-value-0123456789');
    const compact = JSON.stringify(JSON.parse(full));
    await backend.set(CODEX_KEYRING_SERVICE, account, `CODEX_CHUNKED:3:${compact.slice(0, 20)}`);
    await backend.set(CODEX_KEYRING_SERVICE, `${account}:1`, compact.slice(20, 40));
    await backend.set(CODEX_KEYRING_SERVICE, `${account}:2`, compact.slice(40));
    expect(await new KeyringLiveCredentials(paths, opts).read()).toBe(compact);
  });

  it('auto mode: the keyring entry wins over auth.json', async () => {
    const { paths, backend, opts } = setup();
    await backend.set(CODEX_KEYRING_SERVICE, codexKeyringAccount(paths.codexHome), '{"OPENAI_API_KEY":"sk-keyring"}');
    writeFileSync(paths.authJson, doc('sk-file'));
    const live = new AutoLiveCredentials(paths, opts);
    expect(live.mode).toBe('auto');
    expect(await live.read()).toBe('{"OPENAI_API_KEY":"sk-keyring"}');
    expect(live.lastSource).toBe('keyring');
    expect(live.location).toMatch(/^OS keyring entry "Codex Auth"/);
  });

  it('auto mode: no entry -> auth.json; keyring error -> auth.json with a warning', async () => {
    const { paths, backend, opts, warnings } = setup();
    writeFileSync(paths.authJson, doc('sk-file'));
    const live = new AutoLiveCredentials(paths, opts);
    expect(await live.read()).toBe(doc('sk-file'));
    expect(live.lastSource).toBe('file');
    expect(warnings).toEqual([]);
    backend.hang = true;
    expect(await live.read()).toBe(doc('sk-file'));
    expect(warnings.join('\n')).toMatch(/could not be read \(timeout\)/);
    expect(live.location).toContain(paths.authJson);
  });

  it('auto mode: a write goes to the keyring and removes auth.json; if the keyring fails, to auth.json', async () => {
    const { paths, backend, opts, warnings } = setup();
    writeFileSync(paths.authJson, doc('sk-file'));
    const live = new AutoLiveCredentials(paths, opts);
    await live.withLock(() => live.write(doc('sk-a')));
    expect(live.lastSource).toBe('keyring');
    expect(existsSync(paths.authJson)).toBe(false);
    expect(backend.value(CODEX_KEYRING_SERVICE, codexKeyringAccount(paths.codexHome))).toContain('sk-a');

    backend.fail = new Error('Platform failure: DBus error: Failed to connect to socket /x: No such file or directory');
    await live.withLock(() => live.write(doc('sk-b')));
    expect(live.lastSource).toBe('file');
    expect(JSON.parse(readFileSync(paths.authJson, 'utf8')).OPENAI_API_KEY).toBe('sk-b');
    expect(warnings.join('\n')).toMatch(/could not be written \(unavailable\).*Codex will prefer it/);
    expect(warnings.join('\n')).not.toContain('sk-b');
  });

  it("withLock takes Codex's flocks: it waits while another process holds auth.lock", async () => {
    const { paths, opts } = setup();
    const live = new KeyringLiveCredentials(paths, opts);
    const lockFile = join(paths.codexHome, 'auth.lock');
    writeFileSync(lockFile, '');
    // The holder marks that it is about to let go; the write under our lock must come after that.
    const marker = join(paths.codexHome, 'holder-done');
    const holder = spawn('flock', ['-x', lockFile, 'sh', '-c', 'echo held; sleep 0.6; : > "$1"', 'sh', marker], { stdio: ['ignore', 'pipe', 'ignore'] });
    const exited = new Promise((r) => holder.once('exit', r));
    await new Promise<void>((r) => holder.stdout.once('data', () => r()));
    let holderDoneBeforeWrite: boolean | undefined;
    await live.withLock(() => {
      holderDoneBeforeWrite = existsSync(marker);
      return live.write(doc('sk-locked'));
    });
    expect(holderDoneBeforeWrite).toBe(true);
    await exited;
  });
});
