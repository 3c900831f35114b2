/**
 * Loading and saving registry.json. Reads need no lock (writes are atomic renames); every
 * read-modify-write runs under the registry lock and re-reads inside it.
 */
import { type BigIntStats, closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { assignNumbers } from '../domain/view.js';
import { CliError, errnoCode } from '../errors.js';
import { atomicWriteFile, ensurePrivateDir, readFileIfExists } from './atomic.js';
import { symlinkError, withFileLock } from './lock.js';
import type { Paths } from './paths.js';
import { emptyRegistry, migrate, REGISTRY_VERSION } from './registry-defaults.js';
import { duplicateIds, mergeDuplicates } from './registry-duplicates.js';
import type { Registry } from '../domain/types.js';

/** Structural equality of JSON values (key order ignored): the schema changed nothing (no defaults). */
function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/**
 * What identifies one version of the file without reading it all: inode, size, and the change time,
 * which every write, rename or chmod updates and nobody can set by hand.
 */
function stamp(st: BigIntStats): string {
  return `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/**
 * registry.json cannot be read at all (a directory in its place, no permission): every command stops
 * with the path and what to do, and nothing is written or moved (it is not "corrupt": its content
 * was never seen).
 */
export function unreadableRegistry(file: string, why: string): CliError {
  const fix =
    why === 'a directory' || why === 'not a regular file'
      ? `Move it away (mv "${file}" "${file}.bak") and run the command again`
      : `Make it readable and writable by you (chmod 600 "${file}", and check that you own it), or point CODEX_AUTH_HOME at another directory`;
  return new CliError('registry_unreadable', `${file} cannot be read: ${why === 'a directory' || why === 'not a regular file' ? `it is ${why}, not a file` : why}. ${fix}; nothing was changed.`);
}

/** The file's text and the stamp of exactly the version that was read. */
function readStamped(file: string): { text: string; stamp: string } | null {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const code = errnoCode(e);
    // ENOTDIR: a file where a directory above it should be: there is no registry (a write says why).
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw unreadableRegistry(file, code === 'EISDIR' ? 'a directory' : `${code ?? (e as Error).message}`);
  }
  try {
    const st = fstatSync(fd, { bigint: true });
    if (st.isDirectory()) throw unreadableRegistry(file, 'a directory');
    if (!st.isFile()) throw unreadableRegistry(file, 'not a regular file');
    try {
      return { text: readFileSync(fd, 'utf8'), stamp: stamp(st) };
    } catch (e) {
      throw unreadableRegistry(file, errnoCode(e) ?? (e as Error).message);
    }
  } finally {
    closeSync(fd);
  }
}

/** Whether `reg` differs from `before` (its JSON) in anything but the record of the live file. */
function changedBesidesRecord(reg: Registry, recordBefore: Registry['liveFile'], before: string): boolean {
  const record = reg.liveFile;
  const put = (v: Registry['liveFile']) => {
    if (v === undefined) delete reg.liveFile;
    else reg.liveFile = v;
  };
  put(recordBefore);
  try {
    return JSON.stringify(reg) !== before;
  } finally {
    put(record);
  }
}

export interface LoadResult {
  registry: Registry;
  /** Set when a corrupt registry was moved aside: the path it was moved to and why. */
  corrupt?: { movedTo: string; reason: string };
}

export class RegistryStore {
  constructor(
    private readonly paths: Paths,
    private readonly warn: (msg: string) => void,
    private readonly now: () => Date,
  ) {}

  get file(): string {
    return this.paths.registry;
  }

  private get digestFile(): string {
    return `${this.paths.registry}.sum`;
  }

  /**
   * Read the registry; a missing file is an empty registry. A corrupt one is moved aside loudly.
   * The zod schema (a heavy module) is loaded only when the file is not byte-for-byte what
   * codex-auth itself last wrote or validated (its inode, size and change times are kept in registry.json.sum): a hand edit, an older
   * or newer version, a torn disk — everything else is validated in full.
   */
  async load(): Promise<Registry> {
    const read = readStamped(this.paths.registry);
    if (read === null) return emptyRegistry();
    const text = read.text;
    const known = readFileIfExists(this.digestFile);
    if (known !== null && known.trim() === read.stamp) {
      try {
        const doc = JSON.parse(text) as Registry;
        if (doc.version === REGISTRY_VERSION) return this.deduplicated(doc);
      } catch {
        /* fall through to full validation */
      }
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      return this.quarantine('it is not valid JSON');
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return this.quarantine('it is not a JSON object');
    const version = (doc as { version?: unknown }).version;
    if (typeof version === 'number' && version > REGISTRY_VERSION) {
      throw new CliError(
        'registry_too_new',
        `${this.paths.registry} has version ${version}, newer than this codex-auth understands (${REGISTRY_VERSION}). Upgrade codex-auth; the file was left untouched.`,
      );
    }
    if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) return this.quarantine('it has no valid "version"');
    let migrated: Record<string, unknown>;
    try {
      migrated = migrate(doc as Record<string, unknown>);
    } catch (e) {
      return this.quarantine(`it could not be migrated (${(e as Error).message})`);
    }
    const { Registry: schema } = await import('./registry-schema.js');
    const parsed = schema.safeParse(migrated);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue ? issue.path.join('.') || '(root)' : '(root)';
      return this.quarantine(`${where}: ${issue?.message ?? 'invalid'}`);
    }
    // Valid as it stands: remember that, so the next run can skip the schema (a stale or raced
    // digest only ever causes one more full validation, never acceptance of other content).
    if (migrated === doc && deepEqual(parsed.data, doc) && duplicateIds(parsed.data).size === 0) this.writeDigest(read.stamp);
    return this.deduplicated(parsed.data);
  }

  private warnedDuplicates = false;

  /** An account listed twice is merged into one (src/store/registry-duplicates.ts), said once a run. */
  private deduplicated(reg: Registry): Registry {
    const merged = mergeDuplicates(reg, this.paths.registry);
    if (merged.length > 0 && !this.warnedDuplicates) {
      this.warnedDuplicates = true;
      this.warn(
        `${this.paths.registry} lists ${merged.length === 1 ? `the account ${merged[0]}` : `${merged.length} accounts (${merged.join(', ')})`} more than once; the newest entry is used (they share one stored secret, so nothing is lost), and the next change to the registry keeps only it.`,
      );
    }
    return reg;
  }

  private quarantine(reason: string): Registry {
    const stamp = this.now().toISOString().replace(/[:.]/g, '-');
    const movedTo = `${this.paths.registry}.corrupt-${stamp}`;
    try {
      renameSync(this.paths.registry, movedTo);
    } catch {
      // Someone else moved it already, or it vanished: start from an empty registry either way.
    }
    this.warn(
      `registry.json is corrupt (${reason}). It was moved to ${movedTo} and a new registry was started. ` +
        `Stored credentials are untouched: run "codex-auth import ${this.paths.accountsDir}" to register them again.`,
    );
    return emptyRegistry();
  }

  save(reg: Registry, json: string = JSON.stringify(reg)): void {
    ensurePrivateDir(this.paths.home);
    // Compact: it is read on every run (a third smaller than indented, so faster to read and parse).
    const text = `${json}\n`;
    atomicWriteFile(this.paths.registry, text);
    try {
      this.writeDigest(stamp(statSync(this.paths.registry, { bigint: true })));
    } catch {
      /* no digest: the next read validates in full */
    }
  }

  /**
   * The digest is only a shortcut: losing it (a crash right here) or tearing it (two writers at
   * once) just means one full validation, so it is written in place — never through a link.
   */
  private writeDigest(value: string, retry = true): void {
    let fd: number | undefined;
    try {
      fd = openSync(this.digestFile, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | (constants.O_NOFOLLOW ?? 0), 0o600);
      writeSync(fd, `${value}\n`);
    } catch (e) {
      // A link planted there: remove it (never write through it) and write the file itself.
      if (retry && errnoCode(e) === 'ELOOP') {
        try {
          unlinkSync(this.digestFile);
          this.writeDigest(value, false);
        } catch {
          /* no digest: the next read validates in full */
        }
      }
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /**
   * Throws what update() would throw for a link planted at registry.lock (lock_symlink), without
   * taking the lock: for commands that must know before a change they cannot undo (a switch checks
   * it before writing Codex's credentials, and takes the lock only afterwards to record).
   */
  assertLockFile(): void {
    const st = lstatSync(this.paths.registryLock, { throwIfNoEntry: false });
    if (st?.isSymbolicLink()) throw symlinkError(this.paths.registryLock);
  }

  /**
   * Read-modify-write under the inter-process lock. `fn` mutates the registry it is given. A new
   * record of Codex's auth.json (`liveFile`) is saved along with other changes, never alone: it only
   * spares later runs a hash, and read commands must not write.
   *
   * `fn` runs holding the registry lock, which every other codex-auth command that writes waits
   * for: it must do no network and no keyring I/O (no GET /v1/me, no usage or token request, no
   * secret-store or live-credential call in keyring mode). Identify, fetch and save secrets first,
   * then lock, re-check on the registry read here, and write (src/services/sync.ts, src/services/credentials.ts).
   * `timeoutMs`: how long to wait for the lock (default 15 s; 0: fail at once when it is busy).
   * So `fn` is synchronous: it cannot await anything (a promise it returns is a type error).
   */
  async update<T>(fn: (reg: Registry) => Exclude<T, PromiseLike<unknown>>, opts: { timeoutMs?: number } = {}): Promise<T> {
    ensurePrivateDir(this.paths.home);
    return withFileLock(
      this.paths.registryLock,
      async () => {
        const reg = await this.load();
        // Accounts without a stable number (a registry from before numbers, an older codex-auth)
        // get the ones readers already compute for them (numbered()); saved with the next change.
        assignNumbers(reg);
        const before = JSON.stringify(reg);
        const recordBefore = reg.liveFile;
        const out = fn(reg);
        if (out instanceof Promise) throw new Error('RegistryStore.update: fn must be synchronous (no I/O under the registry lock)');
        // Accounts added by fn get their numbers here, after those the registry had.
        assignNumbers(reg);
        const after = JSON.stringify(reg);
        if (after !== before && (reg.liveFile === recordBefore || changedBesidesRecord(reg, recordBefore, before))) this.save(reg, after);
        return out;
      },
      { what: 'the codex-auth registry lock', ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) },
    );
  }
}
