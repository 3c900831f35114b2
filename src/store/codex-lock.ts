/**
 * Codex's own locks around auth.json (CODEX-FACTS.md §9): an exclusive flock on auth.lock, then on
 * auth.json.lock. Node has no flock(2), and fcntl locks do not exclude flock locks, so a helper
 * process takes them on a file descriptor it inherits from us as its fd 3: `flock -x 3` locks the
 * open file description we share with it and exits, and the lock stays ours until we close our
 * descriptor (or die: the kernel closes it for us).
 *
 * Helpers, in this order: util-linux flock(1), python3's fcntl.flock, perl's flock (perl ships with
 * macOS, which has no flock(1) and whose /usr/bin/python3 may be a stub that only asks to install the
 * developer tools). Every helper speaks the same exit protocol: 0 = locked, LOCK_BUSY = busy (or,
 * waiting, timed out). Anything else — another exit code, a signal, a failed spawn — means the helper
 * does not work here, and the next one is tried; the first that works is remembered for this process.
 * When none works, nothing is written (CODEX_AUTH_NO_CODEX_LOCKS=1 writes without Codex's locks).
 *
 * One non-blocking attempt per lock first, both at once; only when a lock is busy (Codex is writing)
 * is it waited for, in Codex's order, up to the timeout.
 *
 * codex-auth's own locks (lock.ts) are flocks taken through the same helpers (lockThroughHelper).
 */
import type { ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, statSync } from 'node:fs';
import path from 'node:path';
import { CliError, errnoCode } from '../errors.js';

export interface CodexLockOptions {
  timeoutSec?: number;
  debug?: (msg: string) => void;
  /** Warnings the user should see (writing without Codex's locks); without it they go to `debug`. */
  warn?: (msg: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** The environment variable that writes without Codex's locks (when no helper works). */
export const NO_CODEX_LOCKS_ENV = 'CODEX_AUTH_NO_CODEX_LOCKS';

/** A helper's exit code for "the lock is busy" (non-blocking) or "timed out" (blocking): EX_TEMPFAIL. */
export const LOCK_BUSY = 75;

/** A program that flocks its inherited fd 3 and exits: 0 locked, LOCK_BUSY busy or timed out. */
interface Locker {
  name: string;
  /** The program looked for on PATH. */
  program: string;
  args(blocking: boolean, timeoutSec: number): string[];
}

const PY_LOCK = [
  'import fcntl,sys,signal',
  'blocking = sys.argv[1] == "1"',
  'if blocking:',
  `    signal.signal(signal.SIGALRM, lambda *a: sys.exit(${LOCK_BUSY}))`,
  '    signal.alarm(int(sys.argv[2]))',
  'try:',
  '    fcntl.flock(3, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))',
  'except BlockingIOError:',
  `    sys.exit(${LOCK_BUSY})`,
  'except OSError:',
  '    sys.exit(2)',
].join('\n');

const PERL_LOCK = [
  'use strict; use Fcntl qw(:flock);',
  'my ($blocking, $t) = @ARGV;',
  "open(my $fh, '+<&=', 3) or exit 2;",
  `if ($blocking) { $SIG{ALRM} = sub { exit ${LOCK_BUSY} }; alarm $t; }`,
  'flock($fh, LOCK_EX | ($blocking ? 0 : LOCK_NB)) and exit 0;',
  `exit(($!{EWOULDBLOCK} || $!{EINTR}) ? ${LOCK_BUSY} : 2);`,
].join('\n');

/** The helpers, in the order they are tried. */
const LOCKERS: readonly Locker[] = [
  {
    name: 'flock(1)',
    program: 'flock',
    args: (blocking, t) => ['-x', ...(blocking ? ['-w', String(t)] : ['-n']), '-E', String(LOCK_BUSY), '3'],
  },
  { name: 'python3', program: 'python3', args: (blocking, t) => ['-I', '-c', PY_LOCK, blocking ? '1' : '0', String(t)] },
  { name: 'perl', program: 'perl', args: (blocking, t) => ['-e', PERL_LOCK, blocking ? '1' : '0', String(t)] },
];

/** The helper that worked, per PATH, for this process. */
const working = new Map<string, Locker>();

function which(cmd: string, env: NodeJS.ProcessEnv): string | null {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      if (statSync(p).isFile()) return p;
    } catch {
      /* next */
    }
  }
  return null;
}

/**
 * Runs a helper with `fd` as its fd 3: its exit code, or a description of why it did not exit
 * (a signal, a failed spawn).
 */
export type RunLocker = (file: string, args: string[], fd: number, env: NodeJS.ProcessEnv, killAfterMs: number) => Promise<number | string>;

const runLocker: RunLocker = (file, args, fd, env, killAfterMs) =>
  new Promise((resolve) => {
    let child: ChildProcess;
    try {
      // Loaded here, not at start-up: `list` and `status` (which take no lock) never need it.
      const { spawn } = process.getBuiltinModule('node:child_process');
      child = spawn(file, args, { stdio: ['ignore', 'ignore', 'ignore', fd], env: { ...env, LC_ALL: 'C' } });
    } catch (e) {
      resolve(`could not start (${errnoCode(e) ?? (e as Error).message})`);
      return;
    }
    // A helper that hangs (it never should) does not hold everything up for ever.
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    const done = (r: number | string) => {
      clearTimeout(timer);
      resolve(r);
    };
    child.on('error', (e) => done(`could not start (${errnoCode(e) ?? e.message})`));
    child.on('exit', (code, signal) => done(signal ? `killed by ${signal}` : (code ?? 'no exit status')));
  });

/**
 * Opens (creating it 0600 if needed) a lock file for reading and writing, never through a symbolic
 * link: that could create (or lock) a file anywhere the link points. Throws the system's error (ELOOP
 * for a link).
 */
export function openLockFd(file: string, opts: { create?: boolean } = {}): number {
  const { O_RDWR, O_CREAT, O_NOFOLLOW } = constants;
  return openSync(file, O_RDWR | (opts.create === false ? 0 : O_CREAT) | (O_NOFOLLOW ?? 0), 0o600);
}

function openLockFile(file: string, codexHome: string): number {
  try {
    return openLockFd(file);
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

/** Closes a lock file's descriptor: the last one of its open file description takes its flock with it. */
export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* already closed */
  }
}

/** Why a helper's answer means it does not work here, or null for 0 (locked) and LOCK_BUSY. */
export function helperFailure(r: number | string): string | null {
  if (r === 0 || r === LOCK_BUSY) return null;
  return typeof r === 'number' ? `exit code ${r}` : r;
}

/** One attempt through a helper to flock `fd`: 0 locked, LOCK_BUSY busy (or, blocking, timed out), else a failure. */
export type LockAttempt = (fd: number, blocking: boolean) => Promise<number | string>;

export interface HelperOptions {
  env: NodeJS.ProcessEnv;
  /** How long a blocking attempt waits, in whole seconds (at least 1). */
  timeoutSec: number;
  runLocker?: RunLocker | undefined;
  debug?: ((msg: string) => void) | undefined;
}

/**
 * Takes flocks through the first lock helper that works here (the one that worked before first).
 * `take` is given that helper's attempt() and returns null once it holds what it wanted, or why the
 * helper does not work (see helperFailure): then the next helper is tried, and `take` runs again
 * (flocking a descriptor that already holds its lock succeeds, so a half-done `take` is simply
 * redone). `take` may throw (a lock busy past its timeout). Returns the helper that worked, or what
 * was tried when none does.
 */
export async function lockThroughHelper(
  opts: HelperOptions,
  take: (attempt: LockAttempt, helper: string) => Promise<string | null>,
): Promise<{ ok: true; helper: string } | { ok: false; tried: string[] }> {
  const { env } = opts;
  const timeout = Math.max(1, Math.ceil(opts.timeoutSec));
  const run = opts.runLocker ?? runLocker;
  const pathKey = env.PATH ?? '';
  const known = working.get(pathKey);
  const order = known ? [known, ...LOCKERS.filter((l) => l !== known)] : LOCKERS;
  const tried: string[] = [];
  for (const locker of order) {
    const file = which(locker.program, env);
    if (!file) {
      tried.push(`${locker.name}: not found`);
      continue;
    }
    // Kill a helper only well after it should have ended by itself.
    const attempt: LockAttempt = (fd, blocking) => run(file, locker.args(blocking, timeout), fd, env, (timeout + 10) * 1000);
    const failed = await take(attempt, file);
    if (failed !== null) {
      tried.push(`${locker.name} (${file}): ${failed}`);
      opts.debug?.(`lock helper ${file} does not work here (${failed}): trying the next one`);
      continue;
    }
    working.set(pathKey, locker);
    return { ok: true, helper: file };
  }
  return { ok: false, tried };
}

/** Run fn holding Codex's two flocks. */
export async function withCodexAuthLocks<T>(codexHome: string, fn: () => Promise<T> | T, opts: CodexLockOptions = {}, deps: CodexLockDeps = {}): Promise<T> {
  const env = opts.env ?? process.env;
  const timeout = Math.max(1, Math.ceil(opts.timeoutSec ?? 30));
  const files = [path.join(codexHome, 'auth.lock'), path.join(codexHome, 'auth.json.lock')] as const;
  if (env[NO_CODEX_LOCKS_ENV] === '1') {
    (opts.warn ?? opts.debug)?.(
      `${NO_CODEX_LOCKS_ENV}=1: writing Codex's credentials without Codex's locks (${files[0]}, ${files[1]}); a Codex refreshing its tokens at the same moment could be overwritten.`,
    );
    return await fn();
  }
  const fds: number[] = [];
  const release = () => fds.splice(0).forEach(closeQuietly);
  try {
    // Both files first, so an unwritable CODEX_HOME is reported as such before any lock is taken.
    for (const f of files) fds.push(openLockFile(f, codexHome));
    const got = await lockThroughHelper({ env, timeoutSec: timeout, runLocker: deps.runLocker, debug: opts.debug }, async (attempt) => {
      // Both non-blocking attempts at once (never waiting, so the order does not matter here).
      const [a, b] = await Promise.all([attempt(fds[0] as number, false), attempt(fds[1] as number, false)]);
      const bad = [a, b].map(helperFailure).find((f) => f !== null);
      if (bad) return bad;
      if (a === 0 && b === 0) return null;
      // Busy: Codex is writing. Wait in Codex's order — auth.lock, then auth.json.lock — never
      // holding auth.json.lock while waiting for auth.lock.
      if (a !== 0 && b === 0) {
        closeQuietly(fds[1] as number);
        fds[1] = openLockFile(files[1], codexHome);
      }
      for (let i = a === 0 ? 1 : 0; i < 2; i += 1) {
        opts.debug?.(`${files[i]} is locked (Codex is writing its credentials): waiting up to ${timeout}s`);
        const r = await attempt(fds[i] as number, true);
        if (r === LOCK_BUSY) {
          throw new CliError(
            'codex_locked',
            `Codex is holding its auth lock (${files[i]}) for more than ${timeout}s; nothing was changed. Try again when Codex has finished logging in or refreshing.`,
          );
        }
        if (r !== 0) return `${helperFailure(r)} while waiting`;
      }
      return null;
    });
    if (!got.ok) {
      throw new CliError(
        'codex_lock_unavailable',
        `Cannot take Codex's auth locks (${files[0]}, ${files[1]}): no lock helper works here (${got.tried.join('; ')}); nothing was changed. ` +
          `Install util-linux's flock, python3 or perl, or set ${NO_CODEX_LOCKS_ENV}=1 to write without Codex's locks (only while no Codex is logging in or refreshing).`,
      );
    }
    opts.debug?.(`holding Codex's flocks on ${files[0]} and ${files[1]} (through ${got.helper})`);
    return await fn();
  } finally {
    release();
  }
}
