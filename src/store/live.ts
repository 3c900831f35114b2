/**
 * Codex's live credentials: where Codex reads the active account from. File mode: auth.json.
 * Keyring mode: the `Codex Auth` keyring entry (plugged in by the keyring backend). Writes in file
 * mode go through Codex's own flocks, a temp file, fsync and rename.
 */
import { type BigIntStats, closeSync, existsSync, fstatSync, openSync, readFileSync, statSync } from 'node:fs';
import { CliError, errnoCode } from '../errors.js';
import { atomicWriteFile, ensurePrivateDir } from './atomic.js';
import type { CredentialStoreMode } from './codex-config.js';
import type { Paths } from './paths.js';

/** One version of a file, as the registry's record of Codex's auth.json keeps it (decimal strings). */
export interface LiveFileStat {
  dev: string;
  ino: string;
  size: string;
  mtimeNs: string;
  ctimeNs: string;
}

/** The text of the live file and the stat of exactly those bytes, or null `stat` when it changed while being read. */
export interface StampedText {
  text: string;
  stat: LiveFileStat | null;
}

export function sameFileVersion(a: LiveFileStat, b: LiveFileStat): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

function fileVersion(st: BigIntStats): LiveFileStat {
  return { dev: String(st.dev), ino: String(st.ino), size: String(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs) };
}

/**
 * Read `file` with the stat of the bytes read: fstat on the descriptor read from, before and after
 * reading; when the two differ the file was written meanwhile and no stat is given. Null: no file.
 */
function readStampedFile(file: string): StampedText | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null;
    throw e;
  }
  try {
    const before = fileVersion(fstatSync(fd, { bigint: true }));
    const text = readFileSync(fd, 'utf8');
    const after = fileVersion(fstatSync(fd, { bigint: true }));
    return { text, stat: sameFileVersion(before, after) ? before : null };
  } finally {
    closeSync(fd);
  }
}

export interface LiveCredentials {
  /** Codex's configured store mode. */
  readonly mode: CredentialStoreMode;
  /** Where the live credentials are, for messages: a path or a keyring entry. */
  readonly location: string;
  /** The file they are in, when they are in a file that each write replaces by a rename. */
  readonly file?: string;
  read(): Promise<string | null>;
  /**
   * File mode only: what read() returns, with the stat of exactly those bytes (for the registry's
   * record of the live file, src/services/sync.ts). Keyring and auto modes have none.
   */
  readStamped?(): Promise<StampedText | null>;
  /**
   * Auto mode: why the last read could not reach the keyring entry and read auth.json instead, as
   * Codex does (then auth.json may be older than what Codex keeps in the keyring); else null.
   */
  readonly degraded?: string | null;
  /** Run fn holding whatever lock Codex takes around its own writes. */
  withLock<T>(fn: () => Promise<T> | T): Promise<T>;
  /** Write the live credentials (call inside withLock). */
  write(text: string): Promise<void>;
}

/**
 * Why nothing can switch Codex's account in ephemeral mode: Codex keeps its login in memory only and
 * reads neither auth.json nor its keyring entry (verified: `codex login status` says "Not logged in"
 * with a good auth.json beside config.toml), so whatever codex-auth writes is never used.
 */
export function ephemeralReason(configToml: string): string {
  return `Codex keeps its login in memory only (cli_auth_credentials_store = "ephemeral" in ${configToml}): it reads neither auth.json nor the OS keyring, so codex-auth cannot change the account Codex uses`;
}

/** How to let codex-auth switch again. */
export function ephemeralFix(configToml: string): string {
  return `set cli_auth_credentials_store = "file" (or "keyring", or "auto") in ${configToml}, then log in or switch again`;
}

export class FileLiveCredentials implements LiveCredentials {
  readonly location: string;
  readonly file: string;
  constructor(
    private readonly paths: Paths,
    readonly mode: CredentialStoreMode,
    private readonly opts: { env: NodeJS.ProcessEnv; debug?: (m: string) => void; warn?: (m: string) => void },
  ) {
    this.location = paths.authJson;
    this.file = paths.authJson;
  }

  /** A warning when auth.json can be read by other users (Codex writes it 0600). */
  permissionWarning(): string | null {
    try {
      const st = statSync(this.paths.authJson);
      if ((st.mode & 0o077) === 0) return null;
      const who = st.mode & 0o004 ? 'every user' : 'its group';
      return `${this.paths.authJson} can be read by ${who} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); fix it: chmod 600 "${this.paths.authJson}"`;
    } catch {
      return null;
    }
  }

  async read(): Promise<string | null> {
    return (await this.readStamped())?.text ?? null;
  }

  async readStamped(): Promise<StampedText | null> {
    try {
      return readStampedFile(this.paths.authJson);
    } catch (e) {
      throw new CliError('live_unreadable', `Cannot read ${this.paths.authJson}: ${errnoCode(e) ?? (e as Error).message}. Check its permissions.`);
    }
  }

  async withLock<T>(fn: () => Promise<T> | T): Promise<T> {
    this.ensureHome();
    const { withCodexAuthLocks } = await import('./codex-lock.js');
    const { debug, warn } = this.opts;
    return withCodexAuthLocks(this.paths.codexHome, fn, { env: this.opts.env, ...(debug ? { debug } : {}), ...(warn ? { warn } : {}) });
  }

  async write(text: string): Promise<void> {
    this.ensureHome();
    try {
      atomicWriteFile(this.paths.authJson, text);
    } catch (e) {
      throw new CliError(
        'codex_home_unwritable',
        `Cannot write ${this.paths.authJson} (${errnoCode(e) ?? (e as Error).message}); nothing was changed. Check that ${this.paths.codexHome} is writable.`,
      );
    }
  }

  private ensureHome(): void {
    if (existsSync(this.paths.codexHome)) return;
    try {
      ensurePrivateDir(this.paths.codexHome);
    } catch (e) {
      throw new CliError('codex_home_unwritable', `Cannot create ${this.paths.codexHome} (${errnoCode(e) ?? (e as Error).message}).`);
    }
  }
}
