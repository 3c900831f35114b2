/**
 * Everything a command touches outside pure logic, injected so commands run in-process in tests:
 * environment, streams (with their TTY flags), clock, HTTP, processes, child spawning.
 */
import { fstatSync, statSync, writeSync } from 'node:fs';
import type { HttpClient } from './http.js';
import type { KeyringBackend } from './keyring-backend.js';
import type { ProcessInfo } from './processes.js';

export type { ProcessInfo };

export interface OutStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface InStream extends NodeJS.ReadableStream {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

export interface Ctx {
  env: NodeJS.ProcessEnv;
  cwd: string;
  homedir: string;
  platform: NodeJS.Platform;
  stdin: InStream;
  stdout: OutStream;
  stderr: OutStream;
  now(): Date;
  /** Created on first use: commands that need no network never load undici. */
  http(): Promise<HttpClient>;
  /** This user's running Codex processes on this CODEX_HOME, each once (not counting codex-auth itself). */
  codexProcesses(codexHome: string): Promise<ProcessInfo[]>;
  /** The OS keyring; absent means the real one (@napi-rs/keyring), loaded on first use. */
  keyringBackend?: () => Promise<KeyringBackend>;
}

let devNull: bigint | null | undefined;

/**
 * isatty(fd), without loading node:tty (and with it node:net) when the answer is plainly no: a
 * pipe, a file, or /dev/null.
 */
function isTerminal(fd: number): boolean {
  try {
    const st = fstatSync(fd, { bigint: true });
    if (!st.isCharacterDevice()) return false;
    if (devNull === undefined) {
      try {
        devNull = statSync('/dev/null', { bigint: true }).rdev;
      } catch {
        devNull = null;
      }
    }
    if (st.rdev === devNull) return false;
  } catch {
    return false;
  }
  return process.getBuiltinModule('node:tty').isatty(fd);
}

/** Streams created by lazyOut in any bundle of this process, for flushStreams() before exiting. */
const OPENED = Symbol.for('codex-auth.opened-streams');
function opened(): NodeJS.WriteStream[] {
  const g = globalThis as unknown as Record<symbol, NodeJS.WriteStream[] | undefined>;
  return (g[OPENED] ??= []);
}

/** Resolves once everything written through a stream has been handed to the OS. */
export function flushStreams(): Promise<void> {
  return Promise.all(opened().map((s) => new Promise<void>((resolve) => (s.writableLength === 0 ? resolve() : s.write('', () => resolve()))))).then(() => undefined);
}

/**
 * Output to fd 1 or 2. A terminal gets Node's stream (created on first use). Anything else — a
 * file, a pipe, /dev/null — is written synchronously with write(2), which is what Node's streams do
 * for files and pipes too, without loading node:net and the stream machinery (building
 * process.stdout costs more start-up time than a whole `list`). A non-blocking pipe that is full
 * (EAGAIN) hands the rest to the stream, which waits; a closed pipe (EPIPE: `| head`) swallows the
 * rest. Whether it is a terminal is asked of the file descriptor, without creating the stream.
 */
function lazyOut(fd: 1 | 2, get: () => NodeJS.WriteStream): OutStream {
  let tty: boolean | undefined;
  let stream: NodeJS.WriteStream | null = null;
  let closed = false;
  const viaStream = (chunk: string | Buffer) => {
    if (stream === null) {
      stream = get();
      opened().push(stream);
    }
    return stream.write(chunk);
  };
  return {
    write(chunk: string) {
      if (closed) return true;
      if (stream !== null || this.isTTY) return viaStream(chunk);
      const buf = Buffer.from(chunk, 'utf8');
      let off = 0;
      try {
        while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
        return true;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') return viaStream(buf.subarray(off));
        if (code === 'EPIPE') {
          closed = true;
          return true;
        }
        throw e;
      }
    },
    get isTTY() {
      return (tty ??= isTerminal(fd));
    },
    get columns() {
      return this.isTTY ? (stream ?? get()).columns : undefined;
    },
  };
}

export async function defaultCtx(): Promise<Ctx> {
  let http: Promise<HttpClient> | undefined;
  const env = process.env;
  const ctx: Omit<Ctx, 'stdin'> = {
    env,
    cwd: process.cwd(),
    // node:os only without HOME: loading it costs every run ~0.2 ms on Node 24.
    homedir: env.HOME || process.getBuiltinModule('node:os').homedir(),
    platform: process.platform,
    stdout: lazyOut(1, () => process.stdout),
    stderr: lazyOut(2, () => process.stderr),
    now: () => new Date(),
    http: () => (http ??= import('./http.js').then((m) => m.createHttpClient(env))),
    codexProcesses: async (codexHome) =>
      (await import('./processes.js')).findCodexProcesses(process.platform, { codexHome, homedir: env.HOME || process.getBuiltinModule('node:os').homedir(), ...(process.getuid ? { uid: process.getuid() } : {}) }),
  };
  return Object.defineProperty(ctx, 'stdin', { get: () => process.stdin, enumerable: true }) as Ctx;
}
