/**
 * Shared machinery of the torture suites: run the built binary directly (`node bin/codex-auth.cjs`,
 * no wrapper, so SIGKILL hits codex-auth itself), kill it after a chosen delay, a seeded PRNG so a
 * failing run can be replayed (TORTURE_SEED=...), and validators that read what codex-auth left on
 * disk with the product's own registry schema.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { assertBuilt as assertRepoBuilt, BIN as BUILT_BIN, keyringEnv } from '../support/bin.js';
import { isolatedEnv } from '../support/codex.js';
import { Registry } from '../../src/store/registry-schema.js';
import { afterAll, beforeAll, expect } from 'vitest';
import { findSecrets } from '../support/inprocess.js';

/** The built binary; CODEX_AUTH_TEST_BIN may point at another build of it (a private copy). */
export const BIN = process.env.CODEX_AUTH_TEST_BIN || BUILT_BIN;

export function assertBuilt(): void {
  if (!process.env.CODEX_AUTH_TEST_BIN) assertRepoBuilt();
}

export interface BinRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when our SIGKILL ended it (it had not exited on its own first). */
  killed: boolean;
  durationMs: number;
}

export interface BinEnv {
  home: string;
  codexHome: string;
  env?: Record<string, string>;
}

export function binEnv(o: BinEnv): Record<string, string> {
  return isolatedEnv(o.home, { ...keyringEnv(), CODEX_HOME: o.codexHome, TZ: 'UTC', ...o.env });
}

/**
 * Run `node bin/codex-auth.cjs ARGS`. With `killAfterMs`, SIGKILL the node process (only it: its
 * flock helper must notice on its own, as after a real crash) once that much time has passed.
 * `wrap` runs it under `sh -c '<wrap>; exec node ...'` instead (e.g. `umask 000`).
 */
export function runNode(
  args: string[],
  o: BinEnv & { killAfterMs?: number; input?: string; timeoutMs?: number; wrap?: string; onSpawn?: (pid: number) => void },
): Promise<BinRun> {
  const env = binEnv(o);
  const started = Date.now();
  const [file, argv] = o.wrap
    ? ['/bin/sh', ['-c', `${o.wrap}; exec "$0" "$@"`, process.execPath, BIN, ...args]]
    : [process.execPath, [BIN, ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(file as string, argv as string[], { env, cwd: o.home, stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (child.pid !== undefined) o.onSpawn?.(child.pid);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => err.push(d));
    let killed = false;
    let exited = false;
    const killTimer =
      o.killAfterMs !== undefined
        ? setTimeout(() => {
            if (exited) return;
            killed = true;
            child.kill('SIGKILL');
          }, o.killAfterMs)
        : undefined;
    const hard = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('exit', () => {
      exited = true;
    });
    child.on('close', (code, signal) => {
      clearTimeout(killTimer);
      clearTimeout(hard);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        killed: killed && signal === 'SIGKILL',
        durationMs: Date.now() - started,
      });
    });
    if (o.input !== undefined && child.stdin) {
      child.stdin.on('error', () => {});
      child.stdin.end(o.input);
    }
  });
}

export function explain(r: BinRun): string {
  return `exit=${String(r.code)} signal=${String(r.signal)} killed=${String(r.killed)} ${r.durationMs}ms\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** mulberry32: small, fast, seedable. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The run's seed: TORTURE_SEED when set (to replay a failure), else a fresh one. Printed by callers. */
/**
 * The scaffolding of a kill loop: its seed (printed, so a failure can be replayed), the outputs and
 * secrets to scan at the end (no secret may appear in any output), and the temporary roots to
 * delete. Registers the beforeAll/afterAll hooks that do that.
 */
export function tortureSuite(name: string): { seed: number; transcript: string[]; secrets: string[]; roots: string[] } {
  const suite = { seed: tortureSeed(), transcript: [] as string[], secrets: [] as string[], roots: [] as string[] };
  beforeAll(() => {
    assertBuilt();
    console.log(`${name}: TORTURE_SEED=${suite.seed}`);
  });
  afterAll(() => {
    for (const r of suite.roots) fs.rmSync(r, { recursive: true, force: true });
    expect(findSecrets(suite.transcript, suite.secrets)).toEqual([]);
  });
  return suite;
}

export function tortureSeed(): number {
  const s = Number(process.env.TORTURE_SEED);
  return Number.isInteger(s) ? s : Math.floor(Math.random() * 2 ** 31);
}

/**
 * A kill delay over the command's real duration `d` (median of unkilled runs): a third uniform over
 * the whole run (start-up included), the rest over its second half, where the locks are taken and
 * the files are written.
 */
export function killDelay(rng: () => number, d: number): number {
  return rng() < 1 / 3 ? rng() * 1.1 * d : (0.4 + rng() * 0.7) * d;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

/** Parse and validate registry.json with the product's schema; throws a readable error. */
export function readRegistry(file: string): Registry {
  const text = fs.readFileSync(file, 'utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file} is not JSON (${(e as Error).message}): ${JSON.stringify(text.slice(0, 200))}`);
  }
  const r = Registry.safeParse(doc);
  if (!r.success) throw new Error(`${file} fails the registry schema: ${r.error.message}`);
  return r.data;
}

export function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** Names in `dir` (none when it does not exist). */
export function ls(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** Temp files codex-auth's atomic writes leave behind when killed between create and rename. */
export function strayTemps(dir: string): string[] {
  return ls(dir).filter((f) => /^\..*\.tmp$/.test(f));
}

/** Every path under `root` (files and directories, not following symlinks), relative to root. */
export function walk(root: string): string[] {
  const out: string[] = [];
  const rec = (rel: string): void => {
    for (const name of ls(path.join(root, rel))) {
      const r = rel ? path.join(rel, name) : name;
      out.push(r);
      if (fs.lstatSync(path.join(root, r)).isDirectory()) rec(r);
    }
  };
  rec('');
  return out;
}

export function idOfChatgptDoc(doc: { tokens: { id_token: string } }): string {
  const payload = JSON.parse(Buffer.from(doc.tokens.id_token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, Record<string, string>>;
  const auth = payload['https://api.openai.com/auth'] ?? {};
  return `chatgpt::${auth.chatgpt_user_id}::${auth.chatgpt_account_id}`;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
