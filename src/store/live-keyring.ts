/**
 * Codex's live credentials in its keyring and auto store modes (config.toml
 * `cli_auth_credentials_store`). The rules below are Codex's, from
 * codex-rs/login/src/auth/storage.rs (KeyringAuthStorage / DirectKeyringAuthStorage,
 * AutoAuthStorage, compute_store_key) and codex-rs/keyring-store/src/lib.rs, and were checked
 * against the real @openai/codex 0.169.0 (test/keyring/codex-keyring.test.ts pins them):
 *
 * keyring mode
 * - One entry: service "Codex Auth", account `cli|<first 16 hex of sha256(canonical CODEX_HOME)>`,
 *   value = the whole auth.json as compact JSON (serde_json::to_string).
 * - Load reads only the keyring: no entry means "not logged in" even if auth.json exists; a keyring
 *   error is an error (no file fallback).
 * - Save writes the entry, then deletes $CODEX_HOME/auth.json (a failed delete is only a warning).
 * - Codex holds its flocks (auth.lock, then auth.json.lock) around the keyring write and the
 *   auth.json delete, exactly as around a file write (strace of `codex login --with-api-key`).
 *
 * auto mode
 * - Load: the keyring entry when there is one; no entry -> auth.json; a keyring error -> warning and
 *   auth.json. So when both exist, the keyring entry wins.
 * - Save: the keyring (and then auth.json is deleted, as in keyring mode); if the keyring save fails
 *   -> warning and auth.json is written instead. A keyring entry that could not be reached is left
 *   behind, and Codex reads it again (ahead of the newer auth.json) once the keyring is back.
 *
 * Not handled: the "secrets" keyring backend (encrypted file, key in the keyring), Codex's default
 * on Windows only (AuthKeyringBackendKind::default()); on Linux and macOS the default is "direct".
 * Codex 0.169.0 stores the value in one entry; a chunked value (`CODEX_CHUNKED:<n>:<first>` plus
 * entries `<account>:<i>`, seen on a codex-rs branch of keyring-store/src/lib.rs) is reassembled
 * when read, for forward compatibility.
 */
import { existsSync, unlinkSync } from 'node:fs';
import { CliError, errnoCode } from '../errors.js';
import { atomicWriteFile, ensurePrivateDir, readFileIfExists } from './atomic.js';
import type { CredentialStoreMode } from './codex-config.js';
import { withCodexAuthLocks } from './codex-lock.js';
import { CODEX_KEYRING_SERVICE, codexKeyringAccount, KeyringClient, type KeyringBackend, KeyringError } from './keyring.js';
import type { LiveCredentials } from './live.js';
import type { Paths } from './paths.js';

export interface KeyringLiveOptions {
  env: NodeJS.ProcessEnv;
  debug?: (m: string) => void;
  /** Warnings the user should see (auto mode's fallbacks). */
  warn?: (m: string) => void;
  backend?: KeyringBackend;
  timeoutMs?: number;
  platform?: NodeJS.Platform;
}

const CHUNK_PREFIX = 'CODEX_CHUNKED:';

/** Codex stores auth.json as compact JSON; unknown fields and key order survive. */
export function compactAuthJson(text: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new CliError('live_invalid', 'Refusing to write Codex credentials that are not valid JSON; nothing was changed.');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new CliError('live_invalid', 'Refusing to write Codex credentials that are not a JSON object; nothing was changed.');
  }
  return JSON.stringify(doc);
}

/** Where Codex reads and writes in keyring mode: its `Codex Auth` entry for this CODEX_HOME. */
export class KeyringLiveCredentials implements LiveCredentials {
  readonly mode: CredentialStoreMode = 'keyring';
  readonly service = CODEX_KEYRING_SERVICE;
  readonly account: string;
  protected readonly client: KeyringClient;

  constructor(
    protected readonly paths: Paths,
    protected readonly opts: KeyringLiveOptions,
  ) {
    this.account = codexKeyringAccount(paths.codexHome);
    this.client = new KeyringClient({
      ...(opts.backend ? { backend: opts.backend } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.platform ? { platform: opts.platform } : {}),
      alternative: `switch Codex to file storage (cli_auth_credentials_store = "file" in ${paths.configToml})`,
    });
  }

  /** For messages: `OS keyring entry "Codex Auth" / cli|<hash>`. */
  get location(): string {
    return `OS keyring entry "${CODEX_KEYRING_SERVICE}" / ${this.account}`;
  }

  /** The entry's value (auth.json as compact JSON), or null when Codex has none. */
  async read(): Promise<string | null> {
    return this.readKeyring();
  }

  async withLock<T>(fn: () => Promise<T> | T): Promise<T> {
    this.ensureHome();
    const { debug, warn } = this.opts;
    return withCodexAuthLocks(this.paths.codexHome, fn, { env: this.opts.env, ...(debug ? { debug } : {}), ...(warn ? { warn } : {}) });
  }

  /** Write the entry, then remove auth.json as Codex does after a keyring save (call inside withLock). */
  async write(text: string): Promise<void> {
    await this.writeKeyring(compactAuthJson(text));
    this.removeAuthFile();
  }

  protected async readKeyring(): Promise<string | null> {
    const value = await this.client.get(this.service, this.account);
    if (value === null || !value.startsWith(CHUNK_PREFIX)) return value;
    return this.readChunks(value);
  }

  protected async writeKeyring(compact: string): Promise<void> {
    await this.client.set(this.service, this.account, compact);
    this.opts.debug?.(`wrote Codex's keyring entry ${this.location}`);
  }

  protected removeAuthFile(): void {
    try {
      unlinkSync(this.paths.authJson);
      this.opts.debug?.(`removed ${this.paths.authJson} (Codex keeps its credentials in the keyring)`);
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') this.opts.warn?.(`Could not remove ${this.paths.authJson} (${errnoCode(e) ?? (e as Error).message}); Codex ignores it in keyring mode.`);
    }
  }

  protected ensureHome(): void {
    if (existsSync(this.paths.codexHome)) return;
    try {
      ensurePrivateDir(this.paths.codexHome);
    } catch (e) {
      throw new CliError('codex_home_unwritable', `Cannot create ${this.paths.codexHome} (${errnoCode(e) ?? (e as Error).message}).`);
    }
  }

  private async readChunks(header: string): Promise<string> {
    const rest = header.slice(CHUNK_PREFIX.length);
    const colon = rest.indexOf(':');
    const count = colon > 0 ? Number(rest.slice(0, colon)) : NaN;
    if (!Number.isInteger(count) || count < 1) return header;
    let full = rest.slice(colon + 1);
    for (let i = 1; i < count; i++) {
      const part = await this.client.get(this.service, `${this.account}:${i}`);
      if (part === null) {
        throw new KeyringError('not_found', { op: 'get', service: this.service, account: `${this.account}:${i}`, detail: `chunk ${i} of ${count} is missing` });
      }
      full += part;
    }
    return full;
  }
}

/** Codex's auto mode: the keyring first, auth.json as the fallback (rules at the top of this file). */
export class AutoLiveCredentials extends KeyringLiveCredentials {
  override readonly mode: CredentialStoreMode = 'auto';
  /** Where the last read or write went: null before the first one. */
  lastSource: 'keyring' | 'file' | null = null;
  /** Why the last read fell back to auth.json although the keyring may hold an entry (LiveCredentials). */
  degraded: string | null = null;

  override get location(): string {
    if (this.lastSource === 'file') return `${this.paths.authJson} (auto mode: the keyring entry is missing or unreachable)`;
    return `OS keyring entry "${CODEX_KEYRING_SERVICE}" / ${this.account} (auto mode, falling back to ${this.paths.authJson})`;
  }

  override async read(): Promise<string | null> {
    this.degraded = null;
    try {
      const value = await this.readKeyring();
      if (value !== null) {
        this.lastSource = 'keyring';
        return value;
      }
    } catch (e) {
      if (!(e instanceof KeyringError)) throw e;
      this.degraded = `Codex's keyring entry could not be read (${e.reason})`;
      this.opts.warn?.(`Codex's keyring entry could not be read (${e.reason}); like Codex, using ${this.paths.authJson} instead.`);
      this.opts.debug?.(e.message);
    }
    this.lastSource = 'file';
    try {
      return readFileIfExists(this.paths.authJson);
    } catch (e) {
      throw new CliError('live_unreadable', `Cannot read ${this.paths.authJson}: ${errnoCode(e) ?? (e as Error).message}. Check its permissions.`);
    }
  }

  override async write(text: string): Promise<void> {
    const compact = compactAuthJson(text);
    try {
      await this.writeKeyring(compact);
      this.lastSource = 'keyring';
      this.removeAuthFile();
      return;
    } catch (e) {
      if (!(e instanceof KeyringError)) throw e;
      this.opts.warn?.(
        `Codex's keyring entry could not be written (${e.reason}); like Codex, writing ${this.paths.authJson} instead. If an older keyring entry exists, Codex will prefer it once the keyring is reachable again.`,
      );
      this.opts.debug?.(e.message);
    }
    this.ensureHome();
    try {
      atomicWriteFile(this.paths.authJson, text.endsWith('\n') ? text : `${text}\n`);
    } catch (e) {
      throw new CliError(
        'codex_home_unwritable',
        `Cannot write ${this.paths.authJson} (${errnoCode(e) ?? (e as Error).message}); nothing was changed. Check that ${this.paths.codexHome} is writable.`,
      );
    }
    this.lastSource = 'file';
  }
}
