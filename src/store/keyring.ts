/**
 * The OS keyring: typed errors, a bounded (timed-out) client around a small backend interface, the
 * real backend on @napi-rs/keyring, codex-auth's own secret store, and the name of Codex's entry.
 *
 * Facts this file relies on (observed with @napi-rs/keyring 2.1.2, gnome-keyring 42 and
 * @openai/codex 0.169.0 on Linux; pinned by test/keyring/*):
 * - `{ linux: { store: 'secret-service' } }` pins an entry to the Secret Service. Without it the
 *   binding silently falls back to the kernel keyutils store, which loses everything at reboot.
 * - With the store pinned, the entry CONSTRUCTOR connects to D-Bus synchronously and throws when no
 *   Secret Service is reachable. A D-Bus daemon that accepts connections but never answers blocks it
 *   forever (nothing async can interrupt a blocked main thread), so the real backend first checks
 *   the bus with an asynchronous, timed D-Bus AUTH handshake of its own.
 * - The AbortSignal the async methods accept does not interrupt a D-Bus call already in flight; the
 *   Promise.race in `KeyringClient` is what bounds every call.
 * - libdbus reads DBUS_SESSION_BUS_ADDRESS once per process (on the first connection).
 * - Entries written by the Rust `keyring` crate inside Codex carry the attributes service, username,
 *   target=default and application=rust-keyring; @napi-rs/keyring looks items up by service and
 *   username, so each side reads and updates the other's item in place (no duplicates).
 */
import { createHash, randomBytes } from 'node:crypto';
import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import type { AsyncEntry, EntryOptions } from '@napi-rs/keyring';
import { CliError } from '../errors.js';
import type { SecretStore } from './secrets.js';
import type { KeyringBackend } from '../platform/keyring-backend.js';

// ---------------------------------------------------------------------------------------------
// Constants

/** Service name of codex-auth's own entries. */
export const KEYRING_SERVICE = 'codex-auth';
/** Service name of Codex's CLI credentials entry (codex-rs/login/src/auth/storage.rs). */
export const CODEX_KEYRING_SERVICE = 'Codex Auth';
export const DEFAULT_KEYRING_TIMEOUT_MS = 3000;
/** Linux: the Secret Service, never the kernel keyutils store. */
export const KEYRING_ENTRY_OPTIONS: EntryOptions = { linux: { store: 'secret-service' } };

/** `CODEX_AUTH_KEYRING_TIMEOUT_MS` (a positive integer), else 3000. */
export function keyringTimeoutFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env.CODEX_AUTH_KEYRING_TIMEOUT_MS;
  if (raw === undefined || raw.trim() === '') return DEFAULT_KEYRING_TIMEOUT_MS;
  const n = Number(raw);
  return Number.isInteger(n) && n > 0 ? n : DEFAULT_KEYRING_TIMEOUT_MS;
}

// ---------------------------------------------------------------------------------------------
// Errors

export type KeyringErrorReason = 'unavailable' | 'locked' | 'timeout' | 'not_found' | 'denied' | 'other';
export type KeyringOp = 'get' | 'set' | 'delete' | 'probe';

export interface KeyringErrorContext {
  op: KeyringOp;
  platform?: NodeJS.Platform;
  /** Effective DBUS_SESSION_BUS_ADDRESS on Linux: null = unset, undefined = not known. */
  busAddress?: string | null | undefined;
  timeoutMs?: number;
  service?: string;
  account?: string;
  /** The alternative offered at the end of every fix, e.g. "use --insecure-storage". */
  alternative?: string;
  /** A short, already sanitized native message. */
  detail?: string;
}

const DEFAULT_ALTERNATIVE = 'use --insecure-storage';

/** A keyring failure the user can act on. Its message names the reason and the fix, never a secret. */
export class KeyringError extends CliError {
  readonly reason: KeyringErrorReason;
  readonly op: KeyringOp;
  readonly detail: string | undefined;

  constructor(reason: KeyringErrorReason, ctx: KeyringErrorContext) {
    super(`keyring_${reason}`, keyringErrorMessage(reason, ctx), 1, {
      reason,
      op: ctx.op,
      ...(ctx.detail !== undefined ? { detail: ctx.detail } : {}),
    });
    this.name = 'KeyringError';
    this.reason = reason;
    this.op = ctx.op;
    this.detail = ctx.detail;
  }
}

const VERB: Record<KeyringOp, string> = {
  get: 'read from',
  set: 'write to',
  delete: 'delete from',
  probe: 'use',
};

/** The one-line message for a reason: what happened, why, and the fix. */
export function keyringErrorMessage(reason: KeyringErrorReason, ctx: KeyringErrorContext): string {
  const platform = ctx.platform ?? process.platform;
  const alt = ctx.alternative ?? DEFAULT_ALTERNATIVE;
  const head = `Cannot ${VERB[ctx.op]} the OS keyring (${reason})`;
  const detail = ctx.detail ? ` [${ctx.detail}]` : '';
  const secs = formatSeconds(ctx.timeoutMs ?? DEFAULT_KEYRING_TIMEOUT_MS);
  switch (reason) {
    case 'unavailable': {
      if (platform === 'darwin') {
        return `${head}: the macOS Keychain could not be reached${detail}: run codex-auth inside your logged-in user session, or ${alt}.`;
      }
      if (platform === 'win32') {
        return `${head}: Windows Credential Manager could not be reached${detail}: run codex-auth inside your logged-in user session, or ${alt}.`;
      }
      const why =
        ctx.busAddress === null || ctx.busAddress === ''
          ? 'DBUS_SESSION_BUS_ADDRESS is unset'
          : ctx.busAddress === undefined
            ? 'DBUS_SESSION_BUS_ADDRESS is unset / gnome-keyring or KeePassXC not running'
            : /no such file|connection refused|econnrefused|enoent|failed to connect/i.test(ctx.detail ?? '')
              ? `nothing answers on the D-Bus session bus ${ctx.busAddress}`
              : 'gnome-keyring or KeePassXC is not running on the D-Bus session bus';
      const extra = ctx.detail && !why.includes(ctx.detail) ? detail : '';
      return `${head}: no Secret Service is running (${why})${extra}: install and start gnome-keyring (or enable KeePassXC's Secret Service integration) in your desktop/D-Bus session, or ${alt}.`;
    }
    case 'locked':
      if (platform === 'darwin') {
        return `${head}: the login keychain is locked${detail}: unlock it (e.g. \`security unlock-keychain\`), then retry, or ${alt}.`;
      }
      return `${head}: the login keyring is locked${detail}: unlock it (e.g. log in to the desktop, or \`gnome-keyring-daemon --unlock\`), then retry, or ${alt}.`;
    case 'timeout':
      return `${head}: the keyring did not answer within ${secs} s (it may be hung or waiting for an unlock prompt)${detail}: answer or dismiss any keyring prompt, restart the keyring service (e.g. \`gnome-keyring-daemon --replace\`), raise CODEX_AUTH_KEYRING_TIMEOUT_MS, or ${alt}.`;
    case 'denied':
      return `${head}: access was denied${detail}: allow codex-auth when the keyring asks (or in your keyring manager's settings), then retry, or ${alt}.`;
    case 'not_found': {
      const what = ctx.service ? ` "${ctx.service}"${ctx.account ? ` / ${ctx.account}` : ''}` : '';
      return `${head}: the entry${what} does not exist${detail}: add the account again (e.g. \`codex-auth add-api-key\` or \`codex-auth import\`).`;
    }
    default:
      return `${head}: the keyring failed${detail}: run \`codex-auth doctor\` to check the keyring, or ${alt}.`;
  }
}

function formatSeconds(ms: number): string {
  return String(Math.round(ms / 10) / 100);
}

/** Which reason a native (or any) keyring error stands for. */
export function classifyKeyringError(err: unknown): KeyringErrorReason {
  if (err instanceof KeyringError) return err.reason;
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) return 'timeout';
  const text = errorText(err).toLowerCase();
  if (/did not receive a reply|timed? ?out|timeout|noreply/.test(text)) return 'timeout';
  if (
    /failed to connect to socket|dbus_session_bus_address|autolaunch|not provided by any \.service files|serviceunknown|service ?unknown|no secret service|no default credential store|no such file or directory|connection refused|econnrefused|could not be loaded|platform secure storage failure|not supported on this platform/.test(
      text,
    )
  ) {
    return 'unavailable';
  }
  if (/\block(ed)?\b|unlock|prompt was dismissed|dismissed|interaction (is )?not allowed|errsecinteractionnotallowed/.test(text)) return 'locked';
  if (/access ?denied|accessdenied|permission denied|not authori[sz]ed|notallowed|errsecauthfailed|-25293|eacces/.test(text)) return 'denied';
  if (/no matching entry|no entry|not found|itemnotfound|-25300/.test(text)) return 'not_found';
  return 'other';
}

function errorText(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let i = 0; i < 4 && cur !== undefined && cur !== null; i++) {
    if (cur instanceof Error) {
      parts.push(cur.message);
      const code = (cur as { code?: unknown }).code;
      if (typeof code === 'string' && code !== 'GenericFailure') parts.push(code);
      cur = (cur as { cause?: unknown }).cause;
    } else {
      parts.push(String(cur));
      break;
    }
  }
  return parts.join(' | ');
}

/** Remove anything secret-looking (and the given secrets) from a message; one line, bounded. */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) {
    if (s.length >= 4) out = out.split(s).join('***');
  }
  out = out
    .replace(/sk-[A-Za-z0-9_-]{6,}/g, 'sk-***')
    .replace(/eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*)?/g, '<jwt>')
    .replace(/("(?:access_token|refresh_token|id_token|OPENAI_API_KEY)"\s*:\s*)"[^"]*"/g, '$1"***"')
    .replace(/\s+/g, ' ')
    .trim();
  return out.length > 240 ? `${out.slice(0, 237)}...` : out;
}

/** First line of a native message, without "Platform failure:" noise, redacted. */
function nativeDetail(err: unknown, secrets: readonly string[]): string | undefined {
  if (err instanceof KeyringError) return err.detail;
  const msg = err instanceof Error ? err.message : String(err);
  const line = msg.split('\n')[0] ?? '';
  const cleaned = redactSecrets(line, secrets);
  return cleaned === '' ? undefined : cleaned;
}

// ---------------------------------------------------------------------------------------------
// Backends

export type { KeyringBackend };

export function keyringBackendName(platform: NodeJS.Platform = process.platform): string {
  if (platform === 'darwin') return 'macOS Keychain';
  if (platform === 'win32') return 'Windows Credential Manager';
  return 'Secret Service';
}

type KeyringModule = typeof import('@napi-rs/keyring');

export interface NapiKeyringBackendOptions {
  /**
   * The environment whose DBUS_SESSION_BUS_ADDRESS (and XDG_RUNTIME_DIR) should be used. libdbus
   * only reads the process environment, once; when this differs from process.env the address is
   * copied into process.env before the first keyring call of the process.
   */
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  /** Loads the binding (tests may inject); default: dynamic import('@napi-rs/keyring'). */
  load?: () => Promise<KeyringModule>;
}

/**
 * The real backend on @napi-rs/keyring's AsyncEntry. The binding is loaded on first use only, so
 * commands that never touch the keyring do not pay for it.
 */
export class NapiKeyringBackend implements KeyringBackend {
  readonly name: string;
  private readonly platform: NodeJS.Platform;
  private readonly env: NodeJS.ProcessEnv;
  private readonly load: () => Promise<KeyringModule>;
  private mod?: Promise<KeyringModule>;
  private busChecked = false;
  private readonly address: string | null;

  constructor(opts: NapiKeyringBackendOptions = {}) {
    this.platform = opts.platform ?? process.platform;
    this.env = opts.env ?? process.env;
    this.load = opts.load ?? (() => import('@napi-rs/keyring'));
    this.name = keyringBackendName(this.platform);
    this.address = this.platform === 'linux' ? (effectiveBusAddress(this.env) ?? null) : null;
  }

  busAddress(): string | null {
    return this.address;
  }

  async get(service: string, account: string, signal?: AbortSignal): Promise<string | null> {
    const entry = await this.entry(service, account, signal);
    return entry.getPassword(signal);
  }

  async set(service: string, account: string, value: string, signal?: AbortSignal): Promise<void> {
    const entry = await this.entry(service, account, signal);
    await entry.setPassword(value, signal);
  }

  async delete(service: string, account: string, signal?: AbortSignal): Promise<boolean> {
    const entry = await this.entry(service, account, signal);
    return entry.deleteCredential(signal);
  }

  private async entry(service: string, account: string, signal?: AbortSignal): Promise<AsyncEntry> {
    if (this.platform === 'linux') await this.checkBus(signal);
    const mod = await (this.mod ??= this.loadModule());
    signal?.throwIfAborted();
    // Throws synchronously (pinned store) when the Secret Service is unreachable.
    return new mod.AsyncEntry(service, account, KEYRING_ENTRY_OPTIONS);
  }

  private async loadModule(): Promise<KeyringModule> {
    if (this.platform === 'linux') applyBusAddress(this.address, this.env);
    try {
      return await this.load();
    } catch (e) {
      this.mod = undefined;
      throw new Error(`the @napi-rs/keyring native module could not be loaded (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
    }
  }

  /** Once per backend: the bus must exist and answer, or the native constructor may block. */
  private async checkBus(signal?: AbortSignal): Promise<void> {
    if (this.busChecked) return;
    if (!this.address) throw new Error('DBUS_SESSION_BUS_ADDRESS is unset');
    await probeBusAddress(this.address, signal);
    this.busChecked = true;
  }
}

/**
 * DBUS_SESSION_BUS_ADDRESS, else `unix:path=$XDG_RUNTIME_DIR/bus` when that socket exists (what
 * Codex's keyring crate does, verified with 0.169.0; @napi-rs/keyring's libdbus does not).
 */
export function effectiveBusAddress(env: NodeJS.ProcessEnv): string | undefined {
  const addr = env.DBUS_SESSION_BUS_ADDRESS;
  if (addr !== undefined && addr !== '') return addr;
  const runtime = env.XDG_RUNTIME_DIR;
  if (!runtime) return undefined;
  const sock = path.join(runtime, 'bus');
  try {
    if (statSync(sock).isSocket()) return `unix:path=${sock}`;
  } catch {
    /* no user bus */
  }
  return undefined;
}

function applyBusAddress(address: string | null, env: NodeJS.ProcessEnv): void {
  if (address === null) return;
  if (env !== process.env || !process.env.DBUS_SESSION_BUS_ADDRESS) {
    if (process.env.DBUS_SESSION_BUS_ADDRESS !== address) process.env.DBUS_SESSION_BUS_ADDRESS = address;
  }
}

type BusTarget = { path: string } | null;

/** The first unix socket of a D-Bus address list (`unix:path=`, `unix:abstract=`); null otherwise. */
export function parseBusAddress(address: string): BusTarget {
  for (const entry of address.split(';')) {
    const colon = entry.indexOf(':');
    if (colon < 0) continue;
    const transport = entry.slice(0, colon);
    if (transport !== 'unix') continue;
    const params = new Map<string, string>();
    for (const kv of entry.slice(colon + 1).split(',')) {
      const eq = kv.indexOf('=');
      if (eq > 0) params.set(kv.slice(0, eq), unescapeBusValue(kv.slice(eq + 1)));
    }
    const p = params.get('path');
    if (p !== undefined) return { path: p };
    const abs = params.get('abstract');
    if (abs !== undefined) return { path: `\0${abs}` };
  }
  return null;
}

function unescapeBusValue(v: string): string {
  return v.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/**
 * Connect to the bus and do the first step of D-Bus authentication (AUTH EXTERNAL). A missing socket
 * fails at once; a daemon that does not answer is caught by the caller's timeout (the socket is
 * destroyed on abort). Addresses other than unix sockets are not checked.
 */
export function probeBusAddress(address: string, signal?: AbortSignal): Promise<void> {
  const target = parseBusAddress(address);
  if (target === null) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const net = process.getBuiltinModule('node:net'); // only when a bus is probed
    const sock = net.createConnection({ path: target.path });
    let buf = '';
    const done = (err?: Error): void => {
      signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      if (err) reject(err);
      else resolve();
    };
    const onAbort = (): void => done(Object.assign(new Error('the D-Bus session bus did not answer'), { name: 'AbortError' }));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    sock.on('connect', () => {
      const uid = typeof process.getuid === 'function' ? String(process.getuid()) : '0';
      sock.write(`\0AUTH EXTERNAL ${Buffer.from(uid, 'ascii').toString('hex')}\r\n`);
    });
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n')) done();
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      const where = target.path.startsWith('\0') ? `abstract socket ${target.path.slice(1)}` : target.path;
      done(new Error(`failed to connect to socket ${where}: ${e.code === 'ENOENT' ? 'No such file or directory' : e.code === 'ECONNREFUSED' ? 'Connection refused' : (e.code ?? e.message)}`));
    });
    sock.on('close', () => done(new Error('the D-Bus session bus closed the connection')));
  });
}

let defaultBackend: NapiKeyringBackend | undefined;

/** The process-wide real backend (one binding load, one bus check per process). */
export function defaultKeyringBackend(): KeyringBackend {
  return (defaultBackend ??= new NapiKeyringBackend());
}

// ---------------------------------------------------------------------------------------------
// Bounded client

export interface KeyringClientOptions {
  backend?: KeyringBackend;
  /** Per call; default 3000 ms. */
  timeoutMs?: number;
  platform?: NodeJS.Platform;
  /** The alternative offered in every fix (default "use --insecure-storage"). */
  alternative?: string;
}

/**
 * Every call bounded by a timeout (the AbortSignal is passed to the backend AND a Promise.race
 * settles the call, so a hung native call cannot block the caller), every failure a KeyringError.
 */
export class KeyringClient {
  readonly backend: KeyringBackend;
  readonly timeoutMs: number;
  private readonly platform: NodeJS.Platform;
  private readonly alternative: string | undefined;

  constructor(opts: KeyringClientOptions = {}) {
    this.backend = opts.backend ?? defaultKeyringBackend();
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_KEYRING_TIMEOUT_MS;
    this.platform = opts.platform ?? process.platform;
    this.alternative = opts.alternative;
  }

  get(service: string, account: string): Promise<string | null> {
    return this.run('get', service, account, [], (signal) => this.backend.get(service, account, signal));
  }

  set(service: string, account: string, value: string): Promise<void> {
    return this.run('set', service, account, [value], (signal) => this.backend.set(service, account, value, signal));
  }

  delete(service: string, account: string): Promise<boolean> {
    return this.run('delete', service, account, [], (signal) => this.backend.delete(service, account, signal));
  }

  /** Run `fn` under one timeout; exposed for multi-step operations such as the probe. */
  run<T>(op: KeyringOp, service: string, account: string, secrets: readonly string[], fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ctx = (detail?: string): KeyringErrorContext => ({
      op,
      platform: this.platform,
      busAddress: this.backend.busAddress?.(),
      timeoutMs: this.timeoutMs,
      service,
      account,
      ...(this.alternative !== undefined ? { alternative: this.alternative } : {}),
      ...(detail !== undefined ? { detail } : {}),
    });
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ac.abort();
        reject(new KeyringError('timeout', ctx()));
      }, this.timeoutMs);
    });
    const call = Promise.resolve().then(() => fn(ac.signal));
    return Promise.race([call, timeout])
      .catch((e: unknown) => {
        if (e instanceof KeyringError) throw e;
        throw new KeyringError(classifyKeyringError(e), ctx(nativeDetail(e, secrets)));
      })
      .finally(() => clearTimeout(timer));
  }
}

// ---------------------------------------------------------------------------------------------
// Probe

export type KeyringProbeResult = { ok: true; backend: string; ms: number } | { ok: false; error: KeyringError; ms: number };

/**
 * A quick health check for `status` / `doctor`: write, read back and delete a throw-away entry
 * (service codex-auth, account `probe|<pid>-<random>`), all within one timeout.
 */
export async function probeKeyring(
  backend: KeyringBackend = defaultKeyringBackend(),
  timeoutMs: number = DEFAULT_KEYRING_TIMEOUT_MS,
  opts: { platform?: NodeJS.Platform; alternative?: string } = {},
): Promise<KeyringProbeResult> {
  const started = Date.now();
  const client = new KeyringClient({ backend, timeoutMs, ...opts });
  const account = `probe|${process.pid}-${randomBytes(4).toString('hex')}`;
  const value = `codex-auth-probe-${randomBytes(8).toString('hex')}`;
  try {
    await client.run('probe', KEYRING_SERVICE, account, [value], async (signal) => {
      await backend.set(KEYRING_SERVICE, account, value, signal);
      const back = await backend.get(KEYRING_SERVICE, account, signal);
      await backend.delete(KEYRING_SERVICE, account, signal);
      if (back !== value) throw new Error('the keyring returned a different value than was written');
    });
    return { ok: true, backend: backend.name, ms: Date.now() - started };
  } catch (e) {
    const error = e instanceof KeyringError ? e : new KeyringError('other', { op: 'probe', detail: nativeDetail(e, [value]) ?? 'unknown error' });
    return { ok: false, error, ms: Date.now() - started };
  }
}

// ---------------------------------------------------------------------------------------------
// Scopes and Codex's entry

function sha16(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 16);
}

/**
 * The canonical absolute path of a directory that may not exist yet: the real path of its nearest
 * existing ancestor plus the remaining components, so the result does not change once it is created.
 */
export function canonicalDir(dir: string): string {
  const abs = path.resolve(dir);
  const rest: string[] = [];
  let cur = abs;
  for (;;) {
    try {
      return path.join(realpathSync.native(cur), ...rest.reverse());
    } catch {
      const parent = path.dirname(cur);
      if (parent === cur) return abs;
      rest.push(path.basename(cur));
      cur = parent;
    }
  }
}

/** First 16 hex chars of sha256 of the canonical codex-auth home: two homes never share entries. */
export function keyringScope(home: string): string {
  return sha16(canonicalDir(home));
}

/**
 * Codex's keyring account for a CODEX_HOME: `cli|` + first 16 hex of sha256 of the canonical path.
 * Mirrors compute_store_key in codex-rs/login/src/auth/storage.rs: `canonicalize()` (realpath:
 * symlinks resolved, trailing slash dropped), else the canonical parent joined with the last
 * component, else the path as given (made absolute). Verified with 0.169.0 through a symlinked
 * CODEX_HOME with a trailing slash.
 */
export function codexKeyringAccount(codexHome: string): string {
  const abs = path.resolve(codexHome);
  let canonical: string;
  try {
    canonical = realpathSync.native(abs);
  } catch {
    try {
      canonical = path.join(realpathSync.native(path.dirname(abs)), path.basename(abs));
    } catch {
      canonical = abs;
    }
  }
  return `cli|${sha16(canonical)}`;
}

// ---------------------------------------------------------------------------------------------
// codex-auth's secret store

export interface KeyringSecretStoreOptions extends KeyringClientOptions {
  /** codex-auth's home (it scopes every account name). */
  home: string;
}

/** Secrets in the OS keyring: service `codex-auth`, account `<scope>|<ref>`. */
export class KeyringSecretStore implements SecretStore {
  readonly kind = 'keyring' as const;
  readonly service = KEYRING_SERVICE;
  readonly scope: string;
  private readonly client: KeyringClient;

  constructor(opts: KeyringSecretStoreOptions) {
    this.scope = keyringScope(opts.home);
    this.client = new KeyringClient(opts);
  }

  accountFor(ref: string): string {
    if (ref === '') throw new Error('empty secret reference');
    return `${this.scope}|${ref}`;
  }

  get(ref: string): Promise<string | null> {
    return this.client.get(this.service, this.accountFor(ref));
  }

  set(ref: string, value: string): Promise<void> {
    return this.client.set(this.service, this.accountFor(ref), value);
  }

  delete(ref: string): Promise<boolean> {
    return this.client.delete(this.service, this.accountFor(ref));
  }

  describe(): string {
    return `OS keyring (${this.client.backend.name}), service ${this.service}`;
  }
}
