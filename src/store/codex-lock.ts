/**
 * Codex's own locks around auth.json (CODEX-FACTS.md §9): an exclusive flock on auth.lock, then on
 * auth.json.lock. Node has no flock(2), and fcntl locks do not exclude flock locks, so a helper
 * process takes them — util-linux flock(1), else python3's fcntl.flock — on file descriptors it
 * inherits from us: `flock -x 3` locks the open file description we share with it and exits, and
 * the lock stays ours until we close our descriptor (or die: the kernel closes it for us).
 *
 * Fast path: one non-blocking attempt per lock, both at once, by helpers that live a millisecond
 * while this process goes on with `meanwhile` (a switch scans for running Codex processes then).
 * They are spawned without loading node:child_process where Node has the binding it uses.
 * Only when a lock is busy (Codex is writing) is it waited for, in Codex's order, up to the timeout.
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
interface Locker {
  name: string;
  command(blocking: boolean, timeoutSec: number): { file: string; args: string[] };
}

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
  if (flock) return { name: 'flock', command: (blocking, t) => ({ file: flock, args: blocking ? ['-x', '-w', String(t), '3'] : ['-x', '-n', '3'] }) };
  const py = which('python3', env);
  if (py) return { name: 'python3', command: (blocking, t) => ({ file: py, args: ['-c', PY_LOCK, blocking ? '1' : '0', String(t)] }) };
  return null;
}

/** Runs a locker with `fds` as its fds 3, 4…: its exit status, or null when it could not run or was killed. */
type RunLocker = (file: string, args: string[], fds: readonly number[]) => Promise<number | null>;

interface ProcessWrap {
  spawn(options: Record<string, unknown>): number;
  close(): void;
  onexit: (exitCode: number, signal: string | null) => void;
}

let processWrap: (new () => ProcessWrap) | null | undefined;

/**
 * The process handle node:child_process is built on. Loading node:child_process (and with it
 * node:net and the streams) costs more than the whole rest of a switch, so the helpers go straight
 * to the binding where this Node has it the way Node 20–24 do; anything else takes the public API.
 */
function processWrapClass(): (new () => ProcessWrap) | null {
  if (processWrap !== undefined) return processWrap;
  processWrap = null;
  const major = Number(process.versions.node.split('.')[0]);
  const flags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
  // process.binding is deprecated (DEP0111, a warning only under --pending-deprecation): never risk a warning.
  if (major < 20 || major > 24 || /deprecation/.test(flags)) return processWrap;
  // And should a Node in that range warn about this binding after all, the warning is not printed.
  const quiet = process.noDeprecation;
  try {
    process.noDeprecation = true;
    const b = (process as unknown as { binding(name: string): { Process?: new () => ProcessWrap } }).binding('process_wrap');
    if (typeof b?.Process === 'function') processWrap = b.Process;
  } catch {
    processWrap = null;
  } finally {
    process.noDeprecation = quiet;
  }
  return processWrap;
}

const runLocker: RunLocker = (file, args, fds) => {
  const Process = processWrapClass();
  if (!Process) return runLockerPublic(file, args, fds);
  // Anything unexpected from the binding (it is internal: it may change) and it is set aside for
  // good, and the public API runs the helper instead.
  const viaPublicApi = () => {
    processWrap = null;
    return runLockerPublic(file, args, fds);
  };
  return new Promise((resolve) => {
    const handle = new Process();
    handle.onexit = (code, signal) => {
      handle.close();
      if (signal) resolve(null);
      else if (typeof code === 'number') resolve(code);
      else resolve(viaPublicApi());
    };
    let err: unknown;
    try {
      err = handle.spawn({
        file,
        args: [path.basename(file), ...args],
        envPairs: ['LC_ALL=C'],
        stdio: [{ type: 'ignore' }, { type: 'ignore' }, { type: 'ignore' }, ...fds.map((fd) => ({ type: 'fd', fd }))],
        detached: false,
        windowsHide: false,
        windowsVerbatimArguments: false,
      });
    } catch {
      err = null;
    }
    if (err !== 0) {
      handle.close();
      resolve(viaPublicApi());
    }
  });
};

/** The same through node:child_process (any Node); exported for the tests. */
export const runLockerPublic: RunLocker = (file, args, fds) => {
  const { spawn } = nodeRequire('node:child_process') as typeof import('node:child_process');
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'ignore', ...fds], env: { LC_ALL: 'C' } });
    child.on('error', () => resolve(null));
    child.on('exit', (code, signal) => resolve(signal ? null : code));
  });
};

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
  runLocker?: RunLocker;
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd); // the last descriptor of the open file description: its flock goes with it
  } catch {
    /* already closed */
  }
}

/**
 * Run fn holding Codex's two flocks. `meanwhile` runs once the non-blocking attempts are under
 * way, before they are waited for: work that needs no lock, done while the helpers run.
 */
export async function withCodexAuthLocks<T>(
  codexHome: string,
  fn: () => Promise<T> | T,
  opts: CodexLockOptions & { meanwhile?: () => void } = {},
  deps: CodexLockDeps = {},
): Promise<T> {
  const env = opts.env ?? process.env;
  const timeout = opts.timeoutSec ?? 30;
  const run = deps.runLocker ?? runLocker;
  const files = [path.join(codexHome, 'auth.lock'), path.join(codexHome, 'auth.json.lock')] as const;
  const fds: number[] = [];
  const release = () => fds.splice(0).forEach(closeQuietly);
  try {
    // Both files first, so an unwritable CODEX_HOME is reported as such before any lock is taken.
    for (const f of files) fds.push(openLockFile(f, codexHome));
    const locker = findLocker(env);
    if (!locker) {
      opts.debug?.("neither flock(1) nor python3 found: writing auth.json without Codex's locks");
      release();
      opts.meanwhile?.();
      return await fn();
    }
    // Both non-blocking attempts at once (never waiting, so the order does not matter here).
    const nb = locker.command(false, timeout);
    const attempts = fds.map((fd) => run(nb.file, nb.args, [fd]));
    opts.meanwhile?.(); // not awaited: whatever it starts runs while the helpers do
    const [a, b] = await Promise.all(attempts);
    if (a !== 0 || b !== 0) {
      // Busy: Codex is writing. Wait in Codex's order — auth.lock, then auth.json.lock — never
      // holding auth.json.lock while waiting for auth.lock.
      if (a !== 0 && b === 0) {
        closeQuietly(fds[1] as number);
        fds[1] = openLockFile(files[1], codexHome);
      }
      for (let i = a === 0 ? 1 : 0; i < 2; i += 1) {
        opts.debug?.(`${files[i]} is locked (Codex is writing its credentials): waiting up to ${timeout}s`);
        const blocking = locker.command(true, timeout);
        const got = await run(blocking.file, blocking.args, [fds[i] as number]);
        if (got !== 0) {
          throw new CliError(
            'codex_locked',
            got === 1
              ? `Codex is holding its auth lock (${files[i]}) for more than ${timeout}s; nothing was changed. Try again when Codex has finished logging in or refreshing.`
              : `Could not take Codex's auth lock (${files[i]}): ${locker.name} failed; nothing was changed.`,
          );
        }
      }
    }
    opts.debug?.(`holding Codex's flocks on ${files[0]} and ${files[1]}`);
    return await fn();
  } finally {
    release();
  }
}
