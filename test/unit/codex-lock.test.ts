/**
 * Codex's flocks, taken through helpers that lock an inherited descriptor and exit: while fn runs,
 * no other process can take either lock; a busy lock is waited for; a lock held past the timeout
 * stops everything; nothing stays locked afterwards. Real flock(1), python3 and perl processes, real
 * files; helpers that do not work (a stub that exits 1, one killed by a signal) are skipped for the
 * next one; without any working helper nothing is written.
 *
 * No fixed sleeps: "it waits" is proven by the kernel (/proc/locks lists our helper as blocked on
 * the lock another process holds) before that process lets go, and fn not having run by then.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RunLocker, withCodexAuthLocks } from '../../src/store/codex-lock.js';
import { waitFor } from '../support/wait.js';

let home: string;
beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-flock-'));
});
afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

const lockA = () => path.join(home, 'auth.lock');
const lockB = () => path.join(home, 'auth.json.lock');

/** Whether another process could take the flock right now (flock -n exits 0 only if it could). */
function freeNow(file: string): boolean {
  return spawnSync('flock', ['-n', '-x', file, 'true']).status === 0;
}

/** Another process (Codex, say) holds `file` until the returned function is called. */
async function holdElsewhere(file: string): Promise<{ release: () => Promise<void> }> {
  const child = spawn('flock', ['-x', file, 'sh', '-c', 'echo held; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'ignore'] });
  await new Promise<void>((r) => child.stdout.once('data', () => r()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    release: async () => {
      child.stdin.end();
      await exited;
    },
  };
}


/** Whether the kernel lists a process blocked waiting for a flock on `file` (a "->" line). */
function someoneBlockedOn(file: string): boolean {
  const ino = fs.statSync(file).ino;
  return fs
    .readFileSync('/proc/locks', 'utf8')
    .split('\n')
    .some((l) => /->\s+FLOCK/.test(l) && l.split(/\s+/).some((f) => f.endsWith(`:${ino}`)));
}

function realPath(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? fs.realpathSync(r.stdout.trim()) : null;
}

/** python3 itself, not a shim (a pyenv shim needs bash and pyenv on PATH). */
const python3 = (() => {
  const r = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
})();
const perl = realPath('perl');
const flock = realPath('flock');
const haveProcLocks = fs.existsSync('/proc/locks');

/** A directory of `home` holding symlinks to real programs and shell-script stubs. */
function binDir(name: string, entries: Record<string, { link: string } | { script: string }>): string {
  const dir = path.join(home, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [file, e] of Object.entries(entries)) {
    const p = path.join(dir, file);
    if ('link' in e) fs.symlinkSync(e.link, p);
    else fs.writeFileSync(p, `#!/bin/sh\n${e.script}\n`, { mode: 0o755 });
  }
  return dir;
}

/** What macOS may have: a python3 that asks to install the developer tools and exits 1. */
const PY_STUB = { script: 'echo "xcode-select: note: no developer tools were found, requesting install." >&2\nexit 1' };
/** A flock that dies of a signal. */
const FLOCK_KILLED = { script: 'kill -KILL $$' };

const lockers: [string, () => NodeJS.ProcessEnv][] = [];
if (flock) lockers.push(['flock(1)', () => ({ PATH: binDir('flock-only', { flock: { link: flock } }) })]);
if (python3) lockers.push(['python3', () => ({ PATH: binDir('py-only', { python3: { link: python3 } }) })]);
if (perl) {
  lockers.push(['perl', () => ({ PATH: binDir('perl-only', { perl: { link: perl } }) })]);
  lockers.push([
    'perl, behind a killed flock and a python3 stub that exits 1',
    () => ({ PATH: [binDir('stubs', { flock: FLOCK_KILLED, python3: PY_STUB }), binDir('perl-only', { perl: { link: perl } })].join(path.delimiter) }),
  ]);
}
if (flock && python3) {
  lockers.push(['python3, behind a flock(1) stub that exits 1', () => ({ PATH: [binDir('stubs', { flock: { script: 'exit 1' } }), binDir('py-only', { python3: { link: python3 } })].join(path.delimiter) })]);
}

it('the machine running the tests has the helpers the tests need', () => {
  expect({ flock, perl }).toEqual({ flock: expect.any(String), perl: expect.any(String) });
});

describe.each(lockers)("Codex's flocks through %s", (_name, env) => {
  it('holds both locks while fn runs, and releases them after', async () => {
    let inside: boolean[] = [];
    const out = await withCodexAuthLocks(home, () => {
      inside = [freeNow(lockA()), freeNow(lockB())];
      return 42;
    }, { env: env() });
    expect(out).toBe(42);
    expect(inside).toEqual([false, false]);
    expect([freeNow(lockA()), freeNow(lockB())]).toEqual([true, true]);
  });

  it('releases both locks when fn throws', async () => {
    await expect(withCodexAuthLocks(home, () => {
      throw new Error('boom');
    }, { env: env() })).rejects.toThrow('boom');
    expect([freeNow(lockA()), freeNow(lockB())]).toEqual([true, true]);
  });

  it.skipIf(!haveProcLocks).each([['auth.lock'], ['auth.json.lock']])('waits while another process holds %s', async (name) => {
    const held = path.join(home, name);
    fs.writeFileSync(held, '');
    const other = await holdElsewhere(held);
    const order: string[] = [];
    let settled = false;
    const p = withCodexAuthLocks(home, () => void order.push('fn'), { env: env() }).finally(() => {
      settled = true;
    });
    // Our helper is blocked in the kernel on the lock the other process holds (or we ended early).
    await waitFor(() => settled || someoneBlockedOn(held), `a helper blocked on ${name}`);
    expect(settled).toBe(false);
    expect(order).toEqual([]);
    // While waiting, in Codex's order: holding auth.lock while waiting for auth.json.lock is what
    // Codex does too; holding auth.json.lock while waiting for auth.lock would stall a Codex that
    // holds auth.lock and wants auth.json.lock.
    if (name === 'auth.lock') expect(freeNow(lockB())).toBe(true);
    else expect(freeNow(lockA())).toBe(false);
    order.push('released');
    await other.release();
    await p;
    expect(order).toEqual(['released', 'fn']);
    expect([freeNow(lockA()), freeNow(lockB())]).toEqual([true, true]);
  });

  it('gives up after the timeout without running fn, and leaves nothing locked', async () => {
    fs.writeFileSync(lockB(), '');
    const other = await holdElsewhere(lockB());
    let ran = false;
    const t0 = Date.now();
    const err = await withCodexAuthLocks(home, () => {
      ran = true;
    }, { env: env(), timeoutSec: 1 }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('codex_locked');
    expect(String((err as Error).message)).toContain('auth.json.lock');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(ran).toBe(false);
    // auth.lock, taken first, was let go of too.
    expect(freeNow(lockA())).toBe(true);
    await other.release();
    expect(freeNow(lockB())).toBe(true);
  });
});

describe("Codex's flocks: edge cases", () => {
  it('refuses a lock file that is a symbolic link, touching nothing', async () => {
    const target = path.join(home, 'elsewhere');
    fs.symlinkSync(target, lockA());
    const err = await withCodexAuthLocks(home, () => 1).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('codex_lock_symlink');
    expect(fs.existsSync(target)).toBe(false);
  });

  it.each([
    ['no helper at all', () => path.join(home, 'nothing-here')],
    ['only stubs that exit 1 or die', () => binDir('stubs', { flock: FLOCK_KILLED, python3: PY_STUB, perl: { script: 'exit 1' } })],
  ])('with %s: a clear error naming what was tried and the fix; fn never runs', async (_name, bin) => {
    const written = path.join(home, 'auth.json');
    const err = await withCodexAuthLocks(home, () => fs.writeFileSync(written, '{}'), { env: { PATH: bin() } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'codex_lock_unavailable', exitCode: 1 });
    const msg = String((err as Error).message);
    expect(msg).toMatch(/nothing was changed/);
    expect(msg).toMatch(/flock\(1\)/);
    expect(msg).toMatch(/python3/);
    expect(msg).toMatch(/perl/);
    expect(msg).toMatch(/Install util-linux's flock, python3 or perl/);
    expect(msg).toContain('CODEX_AUTH_NO_CODEX_LOCKS=1');
    expect(fs.existsSync(written)).toBe(false);
    expect([freeNow(lockA()), freeNow(lockB())]).toEqual([true, true]);
  });

  it('says what each stub did', async () => {
    const bin = binDir('stubs', { flock: FLOCK_KILLED, python3: PY_STUB });
    const err = await withCodexAuthLocks(home, () => 1, { env: { PATH: bin } }).catch((e: unknown) => e);
    const msg = String((err as Error).message);
    expect(msg).toMatch(/flock\(1\) \([^)]*\): killed by SIGKILL/);
    expect(msg).toMatch(/python3 \([^)]*\): exit code 1/);
    expect(msg).toMatch(/perl: not found/);
  });

  it('CODEX_AUTH_NO_CODEX_LOCKS=1 runs fn without Codex\'s locks, with a warning', async () => {
    const warnings: string[] = [];
    let inside: boolean[] = [];
    const out = await withCodexAuthLocks(home, () => {
      inside = [freeNow(lockA()), freeNow(lockB())];
      return 'ran';
    }, { env: { PATH: path.join(home, 'nothing-here'), CODEX_AUTH_NO_CODEX_LOCKS: '1' }, warn: (m) => warnings.push(m) });
    expect(out).toBe('ran');
    expect(inside).toEqual([true, true]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/CODEX_AUTH_NO_CODEX_LOCKS=1: writing Codex's credentials without Codex's locks/);
  });

  it.skipIf(!perl)('remembers the helper that works: a stub is not run again by the next call', async () => {
    const runs = path.join(home, 'stub-runs');
    const bin = [binDir('stubs', { python3: { script: `echo run >> '${runs}'\nexit 1` } }), binDir('perl-only', { perl: { link: perl ?? '' } })].join(path.delimiter);
    // flock(1) is not on this PATH: python3 (the stub) is tried first, then perl.
    await withCodexAuthLocks(home, () => 1, { env: { PATH: bin } });
    const first = fs.readFileSync(runs, 'utf8');
    expect(first.length).toBeGreaterThan(0);
    let inside: boolean[] = [];
    await withCodexAuthLocks(home, () => {
      inside = [freeNow(lockA()), freeNow(lockB())];
    }, { env: { PATH: bin } });
    expect(inside).toEqual([false, false]);
    expect(fs.readFileSync(runs, 'utf8')).toBe(first);
  });

  it('a helper that cannot be started is skipped, and with none left it is an error, not an unlocked write', async () => {
    let ran = false;
    const calls: string[] = [];
    const runLocker: RunLocker = async (file) => {
      calls.push(path.basename(file));
      return 'could not start (EACCES)';
    };
    const err = await withCodexAuthLocks(home, () => {
      ran = true;
    }, {}, { runLocker }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('codex_lock_unavailable');
    expect(String((err as Error).message)).toMatch(/could not start \(EACCES\)/);
    expect(new Set(calls)).toEqual(new Set(['flock', 'python3', 'perl']));
    expect(ran).toBe(false);
  });
});
