/** Runs the built `codex-auth gateway serve --port 0 --json` as a subprocess, for HTTP and e2e tests. */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN } from './bin.js';
import { expect } from 'vitest';
import { isolatedEnv } from './codex.js';
import type { FakeOpenAI } from './fake-openai.js';
import type { Sandbox } from './inprocess.js';
import { type ChatgptAuthDoc, makeJwt, nowSeconds } from './jwt.js';

export interface GatewayProcess {
  proc: ChildProcess;
  /** chatgpt_base_url, e.g. http://127.0.0.1:P/backend-api/ */
  backend: string;
  /** openai_base_url, e.g. http://127.0.0.1:P2/v1 */
  model: string;
  /** The installation secret (from gateway.json). */
  secret: string;
  /** The JSON lines printed so far. */
  lines(): Record<string, unknown>[];
  /** Authorization header of a placeholder login carrying the secret (built here, not by the product). */
  auth: string;
  /** Stops it (SIGTERM) and returns what it printed. */
  stop(): Promise<{ stdout: string; stderr: string }>;
}

/**
 * `port`: as configured by `gateway enable` (gateway.json) when null; default 0 (any two free ports).
 * `nodeFlags`: Node options before the script (as the gateway's service runs it).
 */
export async function startGatewayProcess(opts: { home: string; codexAuthHome: string; env: Record<string, string>; port?: number | null; nodeFlags?: readonly string[] }): Promise<GatewayProcess> {
  const env = isolatedEnv(opts.home, { TZ: 'UTC', ...opts.env });
  const port = opts.port === undefined ? ['--port', '0'] : opts.port === null ? [] : ['--port', String(opts.port)];
  const proc = spawn(process.execPath, [...(opts.nodeFlags ?? []), BIN, 'gateway', 'serve', ...port, '--json'], { env, cwd: opts.home, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString('utf8')));
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const lines = () =>
    out
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const deadline = Date.now() + 15_000;
  while (!lines().some((l) => l.event === 'listening')) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`gateway did not start: ${out}\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  const listening = lines().find((l) => l.event === 'listening') as { chatgptBaseUrl: string; openaiBaseUrl: string };
  const { secret } = JSON.parse(fs.readFileSync(path.join(opts.codexAuthHome, 'gateway.json'), 'utf8')) as { secret: string };
  const auth = `Bearer ${makeJwt({ exp: nowSeconds() + 10 * 365 * 86400, 'https://codex-auth.invalid/gateway': { secret } })}`;
  return {
    proc,
    backend: listening.chatgptBaseUrl,
    model: listening.openaiBaseUrl,
    secret,
    lines,
    auth,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      return { stdout: out, stderr: err };
    },
  };
}

/** A port P such that P and P + 1 are free on 127.0.0.1 now (for `gateway enable --port P`). */
export async function freePortPair(): Promise<number> {
  const net = await import('node:net');
  const tryListen = (port: number) =>
    new Promise<number | null>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(null));
      s.listen(port, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
  for (let i = 0; i < 50; i++) {
    const p = await tryListen(0);
    if (p !== null && p < 65534 && (await tryListen(p + 1)) !== null) return p;
  }
  throw new Error('no two consecutive free ports');
}

/**
 * The ChatGPT account `TAG@example.com` (user-TAG, acc-TAG) of the fake OpenAI, logged in where
 * Codex reads and known to codex-auth (a `list` synced it): the account a gateway serves from. Its
 * tokens are added to `secrets`, the strings the suite checks never reach the transcript.
 */
export async function liveChatgptAccount(sb: Sandbox, fake: FakeOpenAI, secrets: string[], tag = 'a'): Promise<ChatgptAuthDoc> {
  const a = fake.addChatgptAccount({ email: `${tag}@example.com`, userId: `user-${tag}`, accountId: `acc-${tag}` });
  secrets.push(a.tokens.access_token, a.tokens.refresh_token, a.tokens.id_token);
  sb.writeAuth(a);
  const r = await sb.run(['list']);
  expect(r.code, r.stderr).toBe(0);
  return a;
}
