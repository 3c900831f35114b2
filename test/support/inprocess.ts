/**
 * Runs codex-auth commands in-process with injected streams, env, clock and processes, over real
 * temporary directories. Everything printed is captured and scanned for secrets by the caller.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { runCli } from '../../src/main.js';
import type { Ctx, InStream, ProcessInfo } from '../../src/platform/context.js';
import { createHttpClient, type HttpClient } from '../../src/platform/http.js';
import { MemoryKeyring } from './memory-keyring.js';

export interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Sandbox {
  root: string;
  home: string;
  codexHome: string;
  env: Record<string, string>;
  /** Every stdout/stderr captured through this sandbox, for secret scans. */
  transcript: string[];
  /** The OS keyring double every run of this sandbox shares. */
  keyring: MemoryKeyring;
  run(argv: string[], opts?: RunOptions): Promise<Captured>;
  authJsonPath: string;
  writeAuth(doc: object | string): void;
  readAuth(): string | null;
  cleanup(): void;
}

export interface RunOptions {
  tty?: boolean;
  /** Bytes fed to stdin (then it ends). */
  input?: string;
  /**
   * Called with the stdin stream once the command starts: for interactive tests. `screen()` is what was
   * written to stderr so far: type only once the prompt is on it (a prompt drops keys typed before it
   * started, as on a real terminal); see typeWhen().
   */
  onStdin?: (stdin: PassThrough, screen: () => string) => void;
  env?: Record<string, string>;
  now?: Date;
  processes?: ProcessInfo[];
  platform?: NodeJS.Platform;
  /** The terminal's width, when `tty` (default 120). */
  columns?: number;
}

export function makeSandbox(extraEnv: Record<string, string> = {}): Sandbox {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-test-'));
  const home = path.join(root, 'home');
  const codexHome = path.join(home, '.codex');
  fs.mkdirSync(codexHome, { recursive: true, mode: 0o700 });
  const env: Record<string, string> = { HOME: home, CODEX_HOME: codexHome, PATH: process.env.PATH ?? '', TZ: 'UTC', ...extraEnv };
  const transcript: string[] = [];
  const keyring = new MemoryKeyring();
  const sb: Sandbox = {
    keyring,
    root,
    home,
    codexHome,
    env,
    transcript,
    authJsonPath: path.join(codexHome, 'auth.json'),
    writeAuth(doc) {
      fs.writeFileSync(sb.authJsonPath, typeof doc === 'string' ? doc : JSON.stringify(doc, null, 2), { mode: 0o600 });
    },
    readAuth() {
      try {
        return fs.readFileSync(sb.authJsonPath, 'utf8');
      } catch {
        return null;
      }
    },
    async run(argv, opts = {}) {
      const r = await runInProcess(argv, { ...opts, env: { ...env, ...opts.env }, home, keyring });
      transcript.push(r.stdout, r.stderr);
      return r;
    },
    cleanup() {
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
  return sb;
}

class Sink {
  data = '';
  constructor(
    readonly isTTY: boolean,
    readonly columns = 120,
  ) {}
  write(chunk: string): boolean {
    this.data += chunk;
    return true;
  }
}

export async function runInProcess(argv: string[], opts: RunOptions & { env: Record<string, string>; home: string; keyring?: MemoryKeyring }): Promise<Captured> {
  const stdout = new Sink(Boolean(opts.tty), opts.columns);
  const stderr = new Sink(Boolean(opts.tty));
  const stdin = new PassThrough() as PassThrough & InStream;
  stdin.isTTY = Boolean(opts.tty);
  if (opts.tty) stdin.setRawMode = () => stdin;
  if (opts.input !== undefined) stdin.end(opts.input);
  else if (!opts.onStdin) stdin.end();
  let http: Promise<HttpClient> | undefined;
  const ctx: Ctx = {
    env: opts.env,
    cwd: opts.home,
    homedir: opts.home,
    platform: opts.platform ?? process.platform,
    stdin,
    stdout,
    stderr,
    now: () => opts.now ?? new Date(),
    http: () => (http ??= createHttpClient(opts.env)),
    codexProcesses: async () => opts.processes ?? [],
    keyringBackend: async () => opts.keyring ?? new MemoryKeyring(),
  };
  opts.onStdin?.(stdin, () => stderr.data);
  try {
    const code = await runCli(argv, ctx);
    return { code, stdout: stdout.data, stderr: stderr.data };
  } finally {
    if (http) await (await http).close();
  }
}

/** Asserts that none of the secrets occurs in any of the texts; returns the offending pairs. */
export function findSecrets(texts: readonly string[], secrets: readonly string[]): string[] {
  const hits: string[] = [];
  for (const s of secrets) {
    if (!s) continue;
    for (const t of texts) if (t.includes(s)) hits.push(`${s.slice(0, 6)}… in: ${t.slice(0, 200)}`);
  }
  return hits;
}

/**
 * For onStdin: once `text` is on screen, types `keys`, one chunk every 15 ms. If it never shows (20 s),
 * stdin ends instead, so the run finishes and its own assertions say what happened.
 */
export function typeWhen(text: string, ...keys: string[]): (stdin: PassThrough, screen: () => string) => void {
  return (stdin, screen) => {
    void (async () => {
      const end = Date.now() + 20_000;
      while (!screen().includes(text) && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      if (!screen().includes(text)) return void stdin.end(); // never prompted: end it, the test sees why
      for (const k of keys) {
        stdin.write(k);
        await new Promise((r) => setTimeout(r, 15));
      }
    })();
  };
}
