/**
 * Codex's own locks around auth.json (CODEX-FACTS.md §9): an exclusive flock on auth.lock, then on
 * auth.json.lock. Node has no flock(2), and fcntl locks do not exclude flock locks, so a small child
 * process takes real flocks (util-linux flock(1), else python3's fcntl.flock) and holds them until we
 * close its stdin. If we die, its stdin closes and the locks go with it.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CliError, errnoCode } from '../errors.js';

export interface CodexLockOptions {
  timeoutSec?: number;
  debug?: (msg: string) => void;
  env?: NodeJS.ProcessEnv;
}

const PY = [
  'import fcntl,sys,signal,time',
  'signal.signal(signal.SIGALRM, lambda *a: sys.exit(3))',
  'signal.alarm(int(sys.argv[3]))',
  "a=open(sys.argv[1],'a'); fcntl.flock(a, fcntl.LOCK_EX)",
  "b=open(sys.argv[2],'a'); fcntl.flock(b, fcntl.LOCK_EX)",
  'signal.alarm(0)',
  "sys.stdout.write('L\\n'); sys.stdout.flush()",
  'sys.stdin.read()',
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

export async function withCodexAuthLocks<T>(codexHome: string, fn: () => Promise<T> | T, opts: CodexLockOptions = {}): Promise<T> {
  const env = opts.env ?? process.env;
  const timeout = opts.timeoutSec ?? 30;
  const lockA = path.join(codexHome, 'auth.lock');
  const lockB = path.join(codexHome, 'auth.json.lock');
  // Create the lock files ourselves first, so an unwritable CODEX_HOME is reported as such. Never
  // through a symbolic link: that could create (or lock) a file anywhere the link points.
  for (const f of [lockA, lockB]) {
    try {
      fs.closeSync(fs.openSync(f, fs.constants.O_WRONLY | fs.constants.O_CREAT | (fs.constants.O_NOFOLLOW ?? 0), 0o600));
    } catch (e) {
      if (errnoCode(e) === 'ELOOP') {
        throw new CliError('codex_lock_symlink', `${f} is a symbolic link, not Codex's lock file; nothing was changed. Remove it (rm "${f}") and try again.`);
      }
      throw new CliError(
        'codex_home_unwritable',
        `Cannot write in ${codexHome} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message} on ${path.basename(f)}); nothing was changed. Check that the directory is writable.`,
      );
    }
  }
  let argv: string[] | null = null;
  const flock = which('flock', env);
  if (flock) {
    argv = [flock, '-x', '-w', String(timeout), lockA, flock, '-x', '-w', String(timeout), lockB, 'sh', '-c', 'echo L; exec cat >/dev/null'];
  } else {
    const py = which('python3', env);
    if (py) argv = [py, '-c', PY, lockA, lockB, String(timeout)];
  }
  if (!argv) {
    opts.debug?.('neither flock(1) nor python3 found: writing auth.json without Codex\'s locks');
    return fn();
  }
  const [cmd, ...args] = argv as [string, ...string[]];
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'ignore'] });
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.on('error', () => resolve(-1));
  });
  const acquired = await new Promise<boolean>((resolve) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('L\n')) resolve(true);
    });
    void exited.then(() => resolve(false));
  });
  if (!acquired) {
    throw new CliError(
      'codex_locked',
      `Codex is holding its auth lock (${lockA}) for more than ${timeout}s; nothing was changed. Try again when Codex has finished logging in or refreshing.`,
    );
  }
  opts.debug?.(`holding Codex's flocks on ${lockA} and ${lockB}`);
  try {
    return await fn();
  } finally {
    child.stdin.end();
    await exited;
  }
}
