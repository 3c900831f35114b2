/**
 * Ctrl-C during `login` and `list --refresh`, as a terminal sends it: SIGINT to the whole process group
 * (the built binary runs in its own group here, and `login`'s codex child in it). A cancel exits 130 and
 * says so without "error:", whatever the child did with the signal.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { assertBuilt, BIN, runBin } from '../support/bin.js';
import { isolatedEnv } from '../support/codex.js';
import { secretScan } from '../support/e2e.js';
import { FakeOpenAI } from '../support/fake-openai.js';
import { waitFor } from '../support/wait.js';

let root: string;
let home: string;
let codexHome: string;
let fake: FakeOpenAI;
const { transcript, secrets } = secretScan();

beforeAll(async () => {
  assertBuilt();
  fake = await FakeOpenAI.start();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-sigint-'));
  home = path.join(root, 'home');
  codexHome = path.join(home, '.codex');
  fs.mkdirSync(codexHome, { recursive: true, mode: 0o700 });
});
afterAll(async () => {
  await fake?.close();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

/** Starts the binary in its own process group; `interrupt()` sends SIGINT to the group, like Ctrl-C. */
function start(args: string[], env: Record<string, string>) {
  const child: ChildProcess = spawn(process.execPath, [BIN, ...args], {
    env: isolatedEnv(home, { CODEX_HOME: codexHome, TZ: 'UTC', ...env }),
    cwd: home,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return {
    interrupt: () => process.kill(-(child.pid as number), 'SIGINT'),
    async result() {
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const r = await exited;
      clearTimeout(timer);
      transcript.push(stdout, stderr);
      return { ...r, stdout, stderr };
    },
  };
}

it('Ctrl-C during login: exit 130, "Login cancelled", no "error:", even when codex catches it and exits 1', async () => {
  const mark = path.join(root, 'codex-started');
  const codex = path.join(root, 'fake-codex');
  // A codex login that waits for the browser and, on Ctrl-C, exits 1 (as a program that catches SIGINT may).
  fs.writeFileSync(codex, `#!/bin/sh\ntrap 'exit 1' INT\n: > "$FAKE_CODEX_MARK"\nwhile :; do sleep 0.05; done\n`, { mode: 0o755 });
  const p = start(['login'], { CODEX_AUTH_CODEX_BIN: codex, FAKE_CODEX_MARK: mark });
  await waitFor(() => fs.existsSync(mark), 'the fake codex login to start', 20_000);
  p.interrupt();
  const r = await p.result();
  expect(r.code, r.stderr).toBe(130);
  expect(r.stderr).toContain('Login cancelled; nothing was changed.');
  expect(r.stderr).not.toContain('error');
  expect(fs.readdirSync(path.join(codexHome, 'codex-auth')).filter((f) => f.startsWith('login-'))).toEqual([]); // scratch home removed
});

it('Ctrl-C during list --refresh: exit 130 and a plain "Cancelled", not a death by signal', async () => {
  const acc = fake.addChatgptAccount({ email: 'slow@example.com', userId: 'user-slow', accountId: 'acc-slow' });
  secrets.push(acc.tokens.refresh_token, acc.tokens.access_token, acc.tokens.id_token);
  fake.setUsage('acc-slow', { fault: { hang: true } });
  fs.writeFileSync(path.join(codexHome, 'auth.json'), JSON.stringify(acc));
  const env = { CODEX_AUTH_OPENAI_BASE_URL: fake.openaiBaseUrl, CODEX_AUTH_CHATGPT_BASE_URL: fake.chatgptBaseUrl };
  expect((await runBin(['import'], { home, codexHome, env })).code).toBe(0);
  const p = start(['list', '--refresh'], env);
  await waitFor(() => fake.requests({ path: '/backend-api/wham/usage' }).length > 0, 'the usage request', 20_000);
  p.interrupt();
  const r = await p.result();
  expect(r.signal).toBeNull();
  expect(r.code, r.stderr).toBe(130);
  expect(r.stderr).toContain('Cancelled; the usage was not refreshed.');
  expect(r.stderr).not.toContain('error');
});
