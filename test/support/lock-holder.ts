/**
 * A process holding one of codex-auth's own locks, for tests with real processes (bundled with
 * esbuild by buildLockHolder). Usage: node lock-holder.mjs <file> <timeoutMs> [--go]
 * - with --go, it prints "ready", then waits for a line "go" on stdin (so several can be started,
 *   then let loose at once);
 * - then it takes the lock through acquireFileLock: prints "locked <pid>" once it holds it, or
 *   "error <code> <message>" and exits 3 when it cannot;
 * - it holds the lock until stdin ends, then releases it, prints "released" and exits 0.
 */
import { acquireFileLock } from '../../src/store/lock.js';

const [file, timeoutMs, go] = process.argv.slice(2);
let input = '';
let ended = false;
const waiters: (() => void)[] = [];
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d: string) => {
  input += d;
  waiters.splice(0).forEach((w) => w());
});
process.stdin.on('end', () => {
  ended = true;
  waiters.splice(0).forEach((w) => w());
});
const until = async (cond: () => boolean) => {
  while (!cond()) await new Promise<void>((r) => waiters.push(r));
};

(async () => {
  if (go === '--go') {
    process.stdout.write('ready\n');
    await until(() => input.includes('go\n') || ended);
  }
  let release: () => void;
  try {
    release = await acquireFileLock(file as string, { timeoutMs: Number(timeoutMs), what: 'the test lock' });
  } catch (e) {
    process.stdout.write(`error ${(e as { code?: string }).code ?? '?'} ${(e as Error).message}\n`);
    process.exit(3);
  }
  process.stdout.write(`locked ${process.pid}\n`);
  await until(() => ended);
  release();
  process.stdout.write('released\n');
  process.exit(0);
})();
