/**
 * Codex's own locks around auth.json (CODEX-FACTS.md §9): an exclusive flock on auth.lock, then on
 * auth.json.lock. Node has no flock(2), and fcntl locks do not exclude flock locks, so a helper
 * process takes them — util-linux flock(1), else python3's fcntl.flock — on file descriptors it
 * inherits from us: `flock -x 3` locks the open file description we share with it and exits, and
 * the lock stays ours until we close our descriptor (or die: the kernel closes it for us).
 *
 * Fast path: one non-blocking attempt per lock, a helper that lives a millisecond, spawned without
 * loading node:child_process. Only when a lock is busy (Codex is writing) does a blocking helper
 * wait for it, asynchronously, up to the timeout.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CliError, errnoCode } from '../errors.js';
import { nodeRequire } from '../node-require.js';

export interface CodexLockOptions {
  timeoutSec?: number;
  debug?: (msg: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** A program that flocks its inherited fd 3 and exits: 0 locked, 1 busy (non-blocking) or timed out. */
type Locker = { file: string; args: (blocking: boolean, timeoutSec: number) => string[] };

const PY_LOCK = [
  'import fcntl,sys,signal',
  'blocking = sys.argv[1] == "1"',
  'signal.signal(signal.SIGALRM, lambda *a: sys.exit(1))',
  'signal.alarm(int(sys.argv[2]))',
  'try:',
  '    fcntl.flock(3, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))',
  'except OSError:',
  '    sys.exit(1)',
].join('\n');

function which(cmd: string, env: NodeJS.ProcessEnv): string | null {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

function findLocker(env: NodeJS.ProcessEnv): Locker | null {
  const flock = which('flock', env);
  if (flock) return { file: flock, args: (blocking, t) => (blocking ? ['-x', '-w', String(t), '3'] : ['-x', '-n', '3']) };
  const py = which('python3', env);
  if (py) return { file: py, args: (blocking, t) => ['-c', PY_LOCK, blocking ? '1' : '0', String(t)] };
  return null;
}

/** What a helper run came to: its exit status, or null when it could not be started or was killed. */
type RunSync = (file: string, args: string[], fd: number) => number | null;

interface SpawnSyncBinding {
  spawn(options: Record<string, unknown>): { status: number | null; signal: string | null; error?: number };
}

let binding: SpawnSyncBinding | null | undefined;

/**
 * Node's own synchronous spawn, as child_process.spawnSync uses it. Loading node:child_process
 * (and with it node:net and the streams) costs more than the whole rest of a switch, so the
 * non-blocking attempt goes straight to the binding where this Node has it the way Node 20–24 do;
 * anything else takes the public API.
 */
function spawnBinding(): SpawnSyncBinding | null {
  if (binding !== undefined) return binding;
  binding = null;
  const major = Number(process.versions.node.split('.')[0]);
  const flags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
  // process.binding is deprecated (DEP0111, a warning only under --pending-deprecation): never risk a warning.
  if (major < 20 || major > 24 || /deprecation/.test(flags)) return binding;
  try {
    const b = (process as unknown as { binding(name: string): unknown }).binding('spawn_sync') as SpawnSyncBinding;
    if (typeof b?.spawn === 'function') binding = b;
  } catch {
    binding = null;
  }
  return binding;
}

const runSync: RunSync = (file, args, fd) => {
  const b = spawnBinding();
  if (b) {
    try {
      const r = b.spawn({
        file,
        args: [path.basename(file), ...args],
        envPairs: ['LC_ALL=C'],
        stdio: [{ type: 'ignore' }, { type: 'ignore' }, { type: 'ignore' }, { type: 'fd', fd }],
        killSignal: 15,
        timeout: 10_000,
      });
      return typeof r.error === 'number' || r.signal !== null ? null : r.status;
    } catch {
      /* fall through to the public API */
    }
  }
  return runSyncPublic(file, args, fd);
};

/** The same through node:child_process (any Node); exported for the tests. */
export const runSyncPublic: RunSync = (file, args, fd) => {
  const { spawnSync } = nodeRequire('node:child_process') as typeof import('node:child_process');
  const r = spawnSync(file, args, { stdio: ['ignore', 'ignore', 'ignore', fd], env: { LC_ALL: 'C' }, timeout: 10_000 });
  return r.error || r.signal ? null : r.status;
};

/** The blocking attempt: asynchronous, so a waiting `watch` still answers Ctrl-C. */
function runAsync(file: string, args: string[], fd: number): Promise<number | null> {
  const { spawn } = nodeRequire('node:child_process') as typeof import('node:child_process');
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'ignore', fd], env: { LC_ALL: 'C' } });
    child.on('error', () => resolve(null));
    child.on('exit', (code) => resolve(code));
  });
}

function openLockFile(file: string, codexHome: string): number {
  try {
    // Never through a symbolic link: that could create (or lock) a file anywhere the link points.
    return fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | (fs.constants.O_NOFOLLOW ?? 0), 0o600);
  } catch (e) {
    if (errnoCode(e) === 'ELOOP') {
      throw new CliError('codex_lock_symlink', `${file} is a symbolic link, not Codex's lock file; nothing was changed. Remove it (rm "${file}") and try again.`);
    }
    throw new CliError(
      'codex_home_unwritable',
      `Cannot write in ${codexHome} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message} on ${path.basename(file)}); nothing was changed. Check that the directory is writable.`,
    );
  }
}

export interface CodexLockDeps {
  runSync?: RunSync;
  runAsync?: (file: string, args: string[], fd: number) => Promise<number | null>;
}

export async function withCodexAuthLocks<T>(codexHome: string, fn: () => Promise<T> | T, opts: CodexLockOptions = {}, deps: CodexLockDeps = {}): Promise<T> {
  const env = opts.env ?? process.env;
  const timeout = opts.timeoutSec ?? 30;
  const sync = deps.runSync ?? runSync;
  const wait = deps.runAsync ?? runAsync;
  const files = [path.join(codexHome, 'auth.lock'), path.join(codexHome, 'auth.json.lock')];
  const fds: number[] = [];
  const release = () => {
    for (const fd of fds.splice(0)) {
      try {
        fs.closeSync(fd); // the last descriptor of the open file description: the flock goes with it
      } catch {
        /* already closed */
      }
    }
  };
  try {
    // Both files first, so an unwritable CODEX_HOME is reported as such before any lock is taken.
    for (const f of files) fds.push(openLockFile(f, codexHome));
    const locker = findLocker(env);
    if (!locker) {
      opts.debug?.("neither flock(1) nor python3 found: writing auth.json without Codex's locks");
      release();
      return await fn();
    }
    // In Codex's order: auth.lock, then auth.json.lock.
    for (let i = 0; i < files.length; i += 1) {
      const fd = fds[i] as number;
      let status = sync(locker.file, locker.args(false, timeout), fd);
      if (status !== 0) {
        opts.debug?.(`${files[i]} is locked (Codex is writing its credentials): waiting up to ${timeout}s`);
        status = await wait(locker.file, locker.args(true, timeout), fd);
      }
      if (status !== 0) {
        throw new CliError(
          'codex_locked',
          status === 1
            ? `Codex is holding its auth lock (${files[i]}) for more than ${timeout}s; nothing was changed. Try again when Codex has finished logging in or refreshing.`
            : `Could not take Codex's auth lock (${files[i]}): ${path.basename(locker.file)} failed; nothing was changed.`,
        );
      }
    }
    opts.debug?.(`holding Codex's flocks on ${files[0]} and ${files[1]}`);
    return await fn();
  } finally {
    release();
  }
}
