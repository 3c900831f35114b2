/**
 * Drive the real Codex CLI (`@openai/codex`, a dev dependency) offline against the fake OpenAI
 * (CODEX-FACTS.md §8). Every run gets an isolated environment: its own HOME and CODEX_HOME, no
 * inherited API keys, proxies or Codex variables, stdin closed unless input is given, and a hard
 * timeout that kills the whole process group (the npm wrapper and the native binary it spawns).
 *
 * Observed with Codex 0.169.0 (pinned by test/e2e/harness.test.ts), useful when writing e2e tests:
 * - `codex login status` prints to stderr; stdout stays empty.
 * - One `codex exec` against the fake takes 0.3–1 s. Avoid making the fake answer model POSTs with
 *   5xx or 401 (API-key mode): Codex retries with backoff for 6–25 s. A ChatGPT 401 is retried once
 *   with the same token, then Codex refreshes (`refresh_reason: "unauthorized_recovery"`) and retries.
 * - Codex refreshes proactively when the access token expires within ~5 minutes
 *   (`refresh_reason: "proactive_expiry"`); an old `last_refresh` alone triggers nothing.
 * - A failing refresh (401 reused/invalidated) is retried ~15 times in one exec, auth.json untouched.
 * - `codex logout` POSTs `{token, token_type_hint, client_id}` to `<origin of
 *   CODEX_REFRESH_TOKEN_URL_OVERRIDE>/oauth/revoke` (the override's path is ignored), then deletes auth.json.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FakeOpenAI } from './fake-openai.js';

/** The repository root (this file lives in `<root>/test/support`). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The Codex CLI entry point installed as a dev dependency. */
export const CODEX_BIN = join(REPO_ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'codex.cmd' : 'codex');

export const CODEX_VERSION = '0.169.0';

export function codexAvailable(): boolean {
  return existsSync(CODEX_BIN);
}

export interface RunResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

export interface RunCodexOptions {
  /** Becomes CODEX_HOME; must exist. */
  codexHome: string;
  /** Becomes HOME (and USERPROFILE); must exist. */
  home: string;
  /** Extra environment, applied last. */
  env?: Record<string, string>;
  /** Written to stdin, which is then closed; without it stdin is /dev/null. */
  input?: string;
  /** Hard limit; the process group gets SIGKILL after it (default 30000). */
  timeoutMs?: number;
  /** Working directory (default: `home`). */
  cwd?: string;
}

/** Variables never inherited by a Codex run: they would change what it authenticates with or reaches. */
const SCRUBBED = /^(OPENAI_|CODEX_|HTTPS?_PROXY$|ALL_PROXY$|NO_PROXY$|FTP_PROXY$|SSL_CERT_|RUST_LOG$|XDG_|DBUS_SESSION_BUS_ADDRESS$)/i;

/** An isolated environment for a child process: inherits only harmless variables. */
export function isolatedEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || SCRUBBED.test(k)) continue;
    env[k] = v;
  }
  env.HOME = home;
  env.USERPROFILE = home;
  env.XDG_CONFIG_HOME = join(home, '.config');
  env.XDG_DATA_HOME = join(home, '.local', 'share');
  env.XDG_STATE_HOME = join(home, '.local', 'state');
  env.XDG_CACHE_HOME = join(home, '.cache');
  env.NO_COLOR = '1';
  env.TERM = 'dumb';
  return { ...env, ...extra };
}

/** Run a program with argv (never a shell), an isolated environment and a hard timeout. */
export function runProcess(
  file: string,
  args: string[],
  opts: { env: Record<string, string>; cwd: string; input?: string; timeoutMs?: number },
): Promise<RunResult> {
  const started = Date.now();
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      // Own process group, so the timeout kills the wrapper and the native binary together.
      detached: process.platform !== 'win32',
      windowsHide: true,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => err.push(d));
    let timedOut = false;
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        if (process.platform === 'win32') child.kill('SIGKILL');
        else process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // Leave nothing behind (e.g. a native child that outlived the wrapper).
      killGroup();
      resolvePromise({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        durationMs: Date.now() - started,
      });
    });
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on('error', () => {
        // The child may exit before reading stdin.
      });
      child.stdin.end(opts.input);
    }
  });
}

/** Run the real Codex CLI. */
export function runCodex(args: string[], opts: RunCodexOptions): Promise<RunResult> {
  const env = isolatedEnv(opts.home, { CODEX_HOME: opts.codexHome, ...opts.env });
  const runOpts: { env: Record<string, string>; cwd: string; input?: string; timeoutMs?: number } = {
    env,
    cwd: opts.cwd ?? opts.home,
  };
  if (opts.input !== undefined) runOpts.input = opts.input;
  if (opts.timeoutMs !== undefined) runOpts.timeoutMs = opts.timeoutMs;
  return runProcess(CODEX_BIN, args, runOpts);
}

export interface CodexExecArgsOptions {
  mode: 'chatgpt' | 'apikey';
  /** Default "say hi". */
  prompt?: string;
  /** Extra arguments inserted before the prompt (e.g. `--json`). */
  extra?: string[];
}

/** `-c` overrides that point Codex at the fake without touching config.toml. */
export function codexConfigArgs(fake: FakeOpenAI, mode: 'chatgpt' | 'apikey'): string[] {
  const modelBase = mode === 'chatgpt' ? fake.codexModelBaseUrl : fake.openaiBaseUrl;
  return [
    '-c',
    `chatgpt_base_url="${fake.chatgptBaseUrl}/"`,
    '-c',
    `openai_base_url="${modelBase}"`,
    '-c',
    'analytics.enabled=false',
    '-c',
    'check_for_update_on_startup=false',
    '--disable',
    'apps',
    '--disable',
    'plugins',
    '--disable',
    'remote_plugin',
  ];
}

/** argv of `codex exec` against the fake (CODEX-FACTS.md §8). */
export function codexExecArgs(fake: FakeOpenAI, opts: CodexExecArgsOptions): string[] {
  return ['exec', '--skip-git-repo-check', ...codexConfigArgs(fake, opts.mode), ...(opts.extra ?? []), opts.prompt ?? 'say hi'];
}

export interface TempDir {
  path: string;
  dispose(): void;
  [Symbol.dispose](): void;
}

/**
 * A private (0700) temporary directory. Call `dispose()` (or use `using`), or pass `cleanup` — e.g.
 * vitest's `onTestFinished` or `afterAll` — to have it removed automatically.
 */
export function tempDir(prefix: string, cleanup?: (fn: () => void) => void): TempDir {
  const path = mkdtempSync(join(tmpdir(), `codex-auth-test-${prefix.replace(/[^A-Za-z0-9_-]/g, '_')}-`));
  const dispose = (): void => rmSync(path, { recursive: true, force: true });
  cleanup?.(dispose);
  return { path, dispose, [Symbol.dispose]: dispose };
}

/**
 * A fresh HOME with an empty CODEX_HOME inside it (`<home>/.codex`, mode 0700), in one temp dir.
 * `cleanup` as for `tempDir`.
 */
export function codexSandbox(cleanup?: (fn: () => void) => void): { home: string; codexHome: string; dispose: () => void } {
  const dir = tempDir('home', cleanup);
  const codexHome = join(dir.path, '.codex');
  mkdirSync(codexHome, { mode: 0o700 });
  return { home: dir.path, codexHome, dispose: dir.dispose };
}

/** All rollout files (`sessions/YYYY/MM/DD/rollout-*.jsonl`) under a CODEX_HOME. */
export function rolloutFiles(codexHome: string): string[] {
  const root = join(codexHome, 'sessions');
  const out: string[] = [];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/^rollout-.*\.jsonl$/.test(name)) out.push(p);
    }
  };
  walk(root);
  return out.sort();
}

/** Every JSON line of every rollout file under a CODEX_HOME (unparseable lines skipped). */
export function rolloutLines(codexHome: string): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  for (const file of rolloutFiles(codexHome)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        const v: unknown = JSON.parse(line);
        if (typeof v === 'object' && v !== null && !Array.isArray(v)) lines.push(v as Record<string, unknown>);
      } catch {
        // partial last line while Codex is writing
      }
    }
  }
  return lines;
}

/** Read `$CODEX_HOME/auth.json` as an object. */
export function readAuthJson(codexHome: string): Record<string, unknown> {
  const v: unknown = JSON.parse(readFileSync(join(codexHome, 'auth.json'), 'utf8'));
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('auth.json is not an object');
  return v as Record<string, unknown>;
}
