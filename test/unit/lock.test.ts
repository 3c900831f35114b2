/**
 * codex-auth's own locks (registry, token and watch locks: src/store/lock.ts), with real processes:
 * each holder is a separate Node process (test/support/lock-holder.ts, bundled with esbuild) that
 * takes the lock through the real helpers and says so on stdout.
 *
 * No fixed sleeps: the order of events is proven by the holders' markers ("ready", "locked",
 * "released", exits), and "it waits" by the kernel (/proc/locks lists the waiter's helper as blocked
 * on the lock) while the holder still holds it.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { acquireFileLock, probeFileLock, withFileLock } from '../../src/store/lock.js';
import { waitFor } from '../support/wait.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const haveProcLocks = fs.existsSync('/proc/locks');

let bundleDir: string;
let holderScript: string;
beforeAll(async () => {
  const { build } = await import('esbuild');
  bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-lock-holder-'));
  holderScript = path.join(bundleDir, 'lock-holder.mjs');
  await build({ entryPoints: [path.join(HERE, '..', 'support', 'lock-holder.ts')], outfile: holderScript, bundle: true, platform: 'node', format: 'esm', target: 'node20', logLevel: 'silent' });
});
afterAll(() => fs.rmSync(bundleDir, { recursive: true, force: true }));

let home: string;
let lockFile: string;
const children: ChildProcessWithoutNullStreams[] = [];
beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-lock-'));
  lockFile = path.join(home, 'registry.lock');
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(home, { recursive: true, force: true });
});


/** Whether another process could take the flock right now (flock -n exits 0 only if it could). */
function freeNow(file: string): boolean {
  return spawnSync('flock', ['-n', '-x', file, 'true']).status === 0;
}

/** Whether the kernel lists a process blocked waiting for a flock on `file` (a "->" line). */
function someoneBlockedOn(file: string): boolean {
  const ino = fs.statSync(file).ino;
  return fs
    .readFileSync('/proc/locks', 'utf8')
    .split('\n')
    .some((l) => /->\s+FLOCK/.test(l) && l.split(/\s+/).some((f) => f.endsWith(`:${ino}`)));
}

/** A pid no process has right now (one that just ended). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

interface Holder {
  pid: number;
  out: () => string;
  has: (marker: string) => boolean;
  settled: () => boolean;
  go: () => void;
  /** Lets go normally: stdin ends, it releases and exits 0. */
  release: () => Promise<void>;
  kill: () => Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function holder(file: string, timeoutMs: number, opts: { go?: boolean } = {}): Holder {
  const child = spawn(process.execPath, [holderScript, file, String(timeoutMs), ...(opts.go ? ['--go'] : [])], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const has = (marker: string) => out.split('\n').some((l) => l === marker || l.startsWith(`${marker} `));
  return {
    pid: child.pid as number,
    out: () => out + err,
    has,
    settled: () => has('locked') || has('error') || child.exitCode !== null || child.signalCode !== null,
    go: () => child.stdin.write('go\n'),
    release: async () => {
      child.stdin.end();
      expect(await exited).toEqual({ code: 0, signal: null });
    },
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
    exited,
  };
}

async function locked(h: Holder): Promise<void> {
  await waitFor(() => h.settled(), 'a holder to take the lock or give up');
  expect(h.out()).toMatch(new RegExp(`^(ready\\n)?locked ${h.pid}\\n`));
}

describe("codex-auth's own locks, between processes", () => {
  it('a holder keeps its lock however old its lock file looks: no age, no stale takeover', async () => {
    const first = holder(lockFile, 0);
    await locked(first);
    const ino = fs.statSync(lockFile).ino;
    // What the former lock judged stale: a record of a dead owner from long ago, a file untouched
    // for a day (and, older still, one with no owner record at all).
    for (const content of [JSON.stringify({ pid: deadPid(), host: os.hostname(), at: 0 }), 'not a lock record']) {
      fs.writeFileSync(lockFile, content);
      const longAgo = new Date(Date.now() - 24 * 3600_000);
      fs.utimesSync(lockFile, longAgo, longAgo);
      const second = holder(lockFile, 1000);
      await waitFor(() => second.settled(), 'the second process to give up');
      expect(second.out()).toMatch(/^error locked Timed out waiting for the test lock held by process /);
      expect((await second.exited).code).toBe(3);
      expect(freeNow(lockFile)).toBe(false);
      expect(first.settled() && first.has('released')).toBe(false);
    }
    // Never deleted nor replaced: the same file all along, and it stays after release.
    expect(fs.statSync(lockFile).ino).toBe(ino);
    await first.release();
    expect(first.has('released')).toBe(true);
    expect(fs.statSync(lockFile).ino).toBe(ino);
    const third = holder(lockFile, 0);
    await locked(third);
    await third.release();
  });

  it("a dead holder's lock is free at once", async () => {
    const first = holder(lockFile, 0);
    await locked(first);
    await first.kill();
    const second = holder(lockFile, 0); // no waiting at all
    await locked(second);
    await second.release();
  });

  it.skipIf(!haveProcLocks)('a waiter waits while the holder lives, and gets the lock the moment it is SIGKILLed', async () => {
    const first = holder(lockFile, 0);
    await locked(first);
    const second = holder(lockFile, 15_000);
    await waitFor(() => second.settled() || someoneBlockedOn(lockFile), 'the second process to block on the lock');
    expect(second.settled()).toBe(false);
    const order: string[] = ['blocked'];
    await first.kill();
    order.push('killed');
    await locked(second);
    order.push('locked');
    expect(order).toEqual(['blocked', 'killed', 'locked']);
    await second.release();
  });

  it.skipIf(!haveProcLocks)('a waiter gets the lock when the holder releases it, not before', async () => {
    const first = holder(lockFile, 0);
    await locked(first);
    const second = holder(lockFile, 15_000);
    await waitFor(() => second.settled() || someoneBlockedOn(lockFile), 'the second process to block on the lock');
    expect(second.settled()).toBe(false);
    await first.release();
    await locked(second);
    await second.release();
  });

  it("times out with code 'locked', naming the lock, the holder's pid and the file; the holder keeps it", async () => {
    const first = holder(lockFile, 0);
    await locked(first);
    const t0 = Date.now();
    const err = await acquireFileLock(lockFile, { timeoutMs: 1000, what: 'the codex-auth registry lock' }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(err).toMatchObject({ code: 'locked', exitCode: 1 });
    expect((err as Error).message).toBe(
      `Timed out waiting for the codex-auth registry lock held by process ${first.pid} (${lockFile}); it is free again as soon as that process ends.`,
    );
    expect(freeNow(lockFile)).toBe(false);
    await first.release();
  });

  it('30 races of two processes for the lock of a SIGKILLed owner: exactly one wins each time', { timeout: 180_000 }, async () => {
    let owner = holder(lockFile, 0);
    await locked(owner);
    for (let run = 0; run < 30; run += 1) {
      // Every other run, both contenders are willing to wait (then the loser must be left waiting).
      const waiting = haveProcLocks && run % 2 === 1;
      const [a, b] = [holder(lockFile, waiting ? 15_000 : 0, { go: true }), holder(lockFile, waiting ? 15_000 : 0, { go: true })] as [Holder, Holder];
      await waitFor(() => a.has('ready') && b.has('ready'), 'both contenders to be ready');
      await owner.kill();
      a.go();
      b.go();
      const what = `run ${run} (${waiting ? 'waiting' : 'non-blocking'})`;
      if (!waiting) {
        await waitFor(() => a.settled() && b.settled(), `${what}: both contenders to finish trying`);
        const winners = [a, b].filter((h) => h.has('locked'));
        expect(winners.length, `${what}: ${a.out()} / ${b.out()}`).toBe(1);
        const loser = winners[0] === a ? b : a;
        expect(loser.out(), what).toMatch(/^ready\nerror locked /);
        expect((await loser.exited).code, what).toBe(3);
        owner = winners[0] as Holder;
      } else {
        await waitFor(() => a.has('locked') || b.has('locked'), `${what}: a contender to take the lock`);
        const winner = a.has('locked') ? a : b;
        const loser = winner === a ? b : a;
        await waitFor(() => loser.settled() || someoneBlockedOn(lockFile), `${what}: the loser to block on the lock`);
        expect(loser.settled(), `${what}: ${a.out()} / ${b.out()}`).toBe(false);
        // The winner dies in its turn: the loser gets the lock, and is the next run's dead owner.
        await winner.kill();
        await locked(loser);
        owner = loser;
      }
    }
    await owner.release();
  });
});

describe("codex-auth's own locks: files and edge cases", () => {
  it('creates the lock file 0600 in a 0700 directory (whatever the umask), and keeps it after release', async () => {
    const file = path.join(home, 'new', 'locks', 'acc.lock');
    const old = process.umask(0);
    try {
      const release = await acquireFileLock(file);
      expect(freeNow(file)).toBe(false);
      release();
      release(); // twice is harmless
    } finally {
      process.umask(old);
    }
    expect((fs.statSync(file).mode & 0o777).toString(8)).toBe('600');
    expect((fs.statSync(path.dirname(file)).mode & 0o777).toString(8)).toBe('700');
    expect(fs.readFileSync(file, 'utf8')).toBe(`${process.pid}\n`);
    expect(freeNow(file)).toBe(true);
  });

  it('releases the lock when fn throws', async () => {
    await expect(withFileLock(lockFile, () => {
      throw new Error('boom');
    })).rejects.toThrow('boom');
    expect(freeNow(lockFile)).toBe(true);
  });

  it.skipIf(!haveProcLocks)('two acquisitions in one process exclude each other too', async () => {
    const release = await acquireFileLock(lockFile);
    let settled = false;
    const second = acquireFileLock(lockFile).finally(() => {
      settled = true;
    });
    await waitFor(() => settled || someoneBlockedOn(lockFile), 'the second acquisition to block');
    expect(settled).toBe(false);
    release();
    (await second)();
    expect(freeNow(lockFile)).toBe(true);
  });

  it.each([['to a file outside', false], ['dangling', true]])('a lock path that is a symbolic link (%s): refused in one clear line, nothing written through or created', async (_name, dangling) => {
    const target = path.join(home, 'victim');
    if (!dangling) fs.writeFileSync(target, 'VICTIM\n');
    fs.symlinkSync(target, lockFile);
    let ran = false;
    const err = await withFileLock(lockFile, () => {
      ran = true;
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'lock_symlink', exitCode: 1 });
    expect((err as Error).message).toBe(`${lockFile} is a symbolic link, not codex-auth's lock file; nothing was changed. Remove it (rm "${lockFile}") and try again.`);
    expect(ran).toBe(false);
    if (dangling) expect(fs.existsSync(target)).toBe(false);
    else expect(fs.readFileSync(target, 'utf8')).toBe('VICTIM\n');
    expect(fs.lstatSync(lockFile).isSymbolicLink()).toBe(true);
  });

  it('without a working lock helper: a clear error naming what to install; fn never runs', async () => {
    let ran = false;
    const err = await withFileLock(lockFile, () => {
      ran = true;
    }, { what: 'the codex-auth registry lock', env: { PATH: path.join(home, 'nothing-here') } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'lock_unavailable', exitCode: 1 });
    expect((err as Error).message).toMatch(/^Cannot take the codex-auth registry lock \(.*registry\.lock\): no lock helper works here \(flock\(1\): not found; python3: not found; perl: not found\); nothing was changed\. Install util-linux's flock, python3 or perl\.$/);
    expect(ran).toBe(false);
    expect(freeNow(lockFile)).toBe(true);
  });

  it('probeFileLock tells absent, free, held (by whom) and symbolic link apart, creating nothing and leaving the lock free', async () => {
    expect(await probeFileLock(lockFile)).toEqual({ state: 'absent' });
    expect(fs.existsSync(lockFile)).toBe(false);
    const h = holder(lockFile, 0);
    await locked(h);
    expect(await probeFileLock(lockFile)).toEqual({ state: 'held', pid: h.pid });
    expect(freeNow(lockFile)).toBe(false);
    await h.release();
    expect(await probeFileLock(lockFile)).toEqual({ state: 'free' });
    expect(freeNow(lockFile)).toBe(true);
    const link = path.join(home, 'link.lock');
    fs.symlinkSync(path.join(home, 'nowhere'), link);
    expect(await probeFileLock(link)).toEqual({ state: 'symlink' });
    expect(fs.existsSync(path.join(home, 'nowhere'))).toBe(false);
  });
});
