/**
 * Codex's flocks, taken through helpers that lock an inherited descriptor and exit: while fn runs,
 * no other process can take either lock; a busy lock is waited for; a lock held past the timeout
 * stops everything; nothing stays locked afterwards. Real flock(1) and python3 processes, real files.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runLockerPublic, withCodexAuthLocks } from '../../src/store/codex-lock.js';

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

/** A PATH with only python3 in it: the fallback locker, as on a machine without util-linux. */
function pythonOnlyPath(): string {
  const bin = path.join(home, 'py-only');
  fs.mkdirSync(bin);
  const py = spawnSync('sh', ['-c', 'command -v python3'], { encoding: 'utf8' }).stdout.trim();
  fs.symlinkSync(py, path.join(bin, 'python3'));
  return bin;
}

const havePython = spawnSync('sh', ['-c', 'command -v python3']).status === 0;

const lockers: [string, () => NodeJS.ProcessEnv][] = [['flock(1)', () => process.env]];
if (havePython) lockers.push(['python3', () => ({ PATH: pythonOnlyPath() })]);

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

  it('runs `meanwhile` once, before fn', async () => {
    const order: string[] = [];
    await withCodexAuthLocks(home, () => void order.push('fn'), { env: env(), meanwhile: () => void order.push('meanwhile') });
    expect(order).toEqual(['meanwhile', 'fn']);
  });

  it('releases both locks when fn throws', async () => {
    await expect(withCodexAuthLocks(home, () => {
      throw new Error('boom');
    }, { env: env() })).rejects.toThrow('boom');
    expect([freeNow(lockA()), freeNow(lockB())]).toEqual([true, true]);
  });

  it.each([['auth.lock'], ['auth.json.lock']])('waits while another process holds %s', async (name) => {
    fs.writeFileSync(path.join(home, name), '');
    const other = await holdElsewhere(path.join(home, name));
    let ran = false;
    const p = withCodexAuthLocks(home, () => {
      ran = true;
    }, { env: env() });
    await new Promise((r) => setTimeout(r, 400));
    expect(ran).toBe(false);
    // While waiting, in Codex's order: holding auth.lock while waiting for auth.json.lock is what
    // Codex does too; holding auth.json.lock while waiting for auth.lock would stall a Codex that
    // holds auth.lock and wants auth.json.lock.
    if (name === 'auth.lock') expect(freeNow(lockB())).toBe(true);
    else expect(freeNow(lockA())).toBe(false);
    await other.release();
    await p;
    expect(ran).toBe(true);
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

  it('without flock(1) and python3 it runs fn unlocked and says so in --debug', async () => {
    const debug: string[] = [];
    const out = await withCodexAuthLocks(home, () => 'ran', { env: { PATH: path.join(home, 'nothing-here') }, debug: (m) => debug.push(m) });
    expect(out).toBe('ran');
    expect(debug.join('\n')).toMatch(/neither flock\(1\) nor python3/);
  });

  it('through node:child_process (Node without the spawn binding) the locks hold the same way', async () => {
    let inside: boolean[] = [];
    await withCodexAuthLocks(home, () => {
      inside = [freeNow(lockA()), freeNow(lockB())];
    }, {}, { runLocker: runLockerPublic });
    expect(inside).toEqual([false, false]);
    expect([freeNow(lockA()), freeNow(lockB())]).toEqual([true, true]);
  });

  it('a helper that cannot run is an error, not an unlocked write', async () => {
    let ran = false;
    const err = await withCodexAuthLocks(home, () => {
      ran = true;
    }, {}, { runLocker: async () => null }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('codex_locked');
    expect(String((err as Error).message)).toMatch(/could not take/i);
    expect(ran).toBe(false);
  });
});
