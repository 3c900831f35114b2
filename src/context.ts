/**
 * Everything a command touches outside pure logic, injected so commands run in-process in tests:
 * environment, streams (with their TTY flags), clock, HTTP, processes, child spawning.
 */
import os from 'node:os';
import type { HttpClient } from './openai/http.js';
import type { KeyringBackend } from './store/keyring.js';

export interface OutStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface InStream extends NodeJS.ReadableStream {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

export interface ProcessInfo {
  pid: number;
  command: string;
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
  /** Running Codex processes (not counting codex-auth itself). */
  codexProcesses(): Promise<ProcessInfo[]>;
  /** The OS keyring; absent means the real one (@napi-rs/keyring), loaded on first use. */
  keyringBackend?: () => Promise<KeyringBackend>;
}

export async function defaultCtx(): Promise<Ctx> {
  let http: Promise<HttpClient> | undefined;
  const env = process.env;
  return {
    env,
    cwd: process.cwd(),
    homedir: env.HOME || os.homedir(),
    platform: process.platform,
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    now: () => new Date(),
    http: () => (http ??= import('./openai/http.js').then((m) => m.createHttpClient(env))),
    codexProcesses: async () => (await import('./codex/processes.js')).findCodexProcesses(process.platform),
  };
}
