/**
 * A token refresh while another process holds codex-auth's registry lock for longer than its timeout
 * (15 s), with the built binary against the fake OpenAI (which rotates refresh tokens and rejects a
 * reused one, as OpenAI does). The refresh used to keep OpenAI's answer in memory while it waited
 * for the lock, then exit 1: the rotated token was lost and the login with it. Now the answer is in
 * the pending-token journal and the account's store before the registry is asked for: nothing is
 * lost, the next refresh succeeds, and the fake never sees a reused token — also when the waiting
 * refresh is SIGKILLed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI } from '../support/fake-openai.js';
import { findSecrets } from '../support/inprocess.js';
import type { ChatgptAuthDoc } from '../support/jwt.js';
import { assertBuilt, type BinRun, explain, idOfChatgptDoc, readJson, readRegistry, runNode } from '../torture/helpers.js';

let fake: FakeOpenAI;
const roots: string[] = [];
const transcript: string[] = [];
const holders: ChildProcess[] = [];

/** A lock holder and the command it runs (its own process group): the lock goes with them. */
function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

beforeAll(async () => {
  assertBuilt();
  fake = await FakeOpenAI.start();
});
afterAll(async () => {
  for (const h of holders) killGroup(h);
  await fake.close();
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
  const secrets = fake.refreshAttempts().flatMap((a) => [a.refreshToken, ...['refresh_token', 'access_token', 'id_token'].map((k) => String(a.body[k] ?? ''))]);
  expect(findSecrets(transcript, secrets.filter((s) => s.length > 8))).toEqual([]);
});

interface Box {
  home: string;
  codexHome: string;
  authHome: string;
  ids: [string, string];
  env: Record<string, string>;
}

async function box(n: string): Promise<Box> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-refresh-lock-'));
  roots.push(root);
  const home = path.join(root, 'home');
  const codexHome = path.join(home, '.codex');
  fs.mkdirSync(codexHome, { recursive: true, mode: 0o700 });
  const a = fake.addChatgptAccount({ email: `la${n}@example.com`, userId: `user-la${n}`, accountId: `acc-la${n}`, plan: 'plus' });
  const b = fake.addChatgptAccount({ email: `lb${n}@example.com`, userId: `user-lb${n}`, accountId: `acc-lb${n}`, plan: 'pro' });
  const bx: Box = {
    home,
    codexHome,
    authHome: path.join(codexHome, 'codex-auth'),
    ids: [idOfChatgptDoc(a), idOfChatgptDoc(b)],
    env: { CODEX_REFRESH_TOKEN_URL_OVERRIDE: fake.refreshUrl, CODEX_AUTH_CHATGPT_BASE_URL: fake.chatgptBaseUrl, CODEX_AUTH_HTTP_TIMEOUT_MS: '5000' },
  };
  fs.writeFileSync(path.join(codexHome, 'auth.json'), JSON.stringify(a, null, 2), { mode: 0o600 });
  fs.writeFileSync(path.join(home, 'b.json'), JSON.stringify(b));
  const r = await run(bx, ['import', path.join(home, 'b.json')]);
  expect(r.code, explain(r)).toBe(0);
  return bx;
}

async function run(b: Box, args: string[], killAfterMs?: number): Promise<BinRun> {
  const r = await runNode(args, { home: b.home, codexHome: b.codexHome, env: b.env, timeoutMs: 60_000, ...(killAfterMs !== undefined ? { killAfterMs } : {}) });
  transcript.push(r.stdout, r.stderr);
  return r;
}

/** Another process holding the registry lock until it is let go of. */
async function holdRegistryLock(b: Box): Promise<() => Promise<void>> {
  const file = path.join(b.authHome, 'registry.lock');
  const child = spawn('flock', ['-o', '-x', file, '-c', 'echo locked; exec sleep 120'], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  holders.push(child);
  await new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));
  return async () => {
    killGroup(child);
    await new Promise((r) => child.once('exit', r));
  };
}

const accepted = (d: ChatgptAuthDoc) => fake.refreshTokenState(d.tokens.refresh_token) === 'current';
const pending = (b: Box) => (fs.existsSync(path.join(b.authHome, 'pending')) ? fs.readdirSync(path.join(b.authHome, 'pending')).filter((f) => !f.startsWith('.')) : []);

function copies(b: Box): { stored: ChatgptAuthDoc[]; live: ChatgptAuthDoc } {
  const reg = readRegistry(path.join(b.authHome, 'registry.json'));
  const stored = b.ids.map((id) => readJson(path.join(b.authHome, 'accounts', `${reg.accounts.find((a) => a.id === id)?.secret.ref}.json`)) as ChatgptAuthDoc);
  return { stored, live: readJson(path.join(b.codexHome, 'auth.json')) as ChatgptAuthDoc };
}

const reused = () => fake.refreshAttempts().filter((x) => x.error === 'refresh_token_reused');

describe('a refresh while the registry lock is held past its timeout', () => {
  it('loses nothing: the new tokens are saved, the registry catches up later, the next refresh succeeds, nothing is reused', async () => {
    const b = await box('1');
    const release = await holdRegistryLock(b);
    const r = await run(b, ['refresh', '--force']);
    await release();
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toMatch(/^refreshed la1@example\.com/m);
    expect(r.stdout).toMatch(/^refreshed lb1@example\.com/m);
    expect(r.stderr).toContain('Timed out waiting for the codex-auth registry lock');
    expect(r.stderr).toContain('Nothing is lost');
    expect(r.durationMs).toBeGreaterThan(14_000);
    // Saved in codex-auth's store and in Codex's live file, and still in the journal for the registry.
    const c = copies(b);
    expect(c.stored.every(accepted) && accepted(c.live)).toBe(true);
    expect(pending(b)).toHaveLength(2);
    // The next refresh records them and refreshes again with the tokens OpenAI issued last.
    const next = await run(b, ['refresh', '--force']);
    expect(next.code, explain(next)).toBe(0);
    expect(pending(b)).toEqual([]);
    const after = copies(b);
    expect(after.stored.every(accepted) && accepted(after.live)).toBe(true);
    expect(after.live).toEqual(after.stored[0]);
    expect(reused()).toEqual([]);
  }, 60_000);

  it('loses nothing when the waiting refresh is SIGKILLed: the next command folds the journal in', async () => {
    const b = await box('2');
    const release = await holdRegistryLock(b);
    const r = await run(b, ['refresh', '--force'], 4000);
    await release();
    expect(r.killed, explain(r)).toBe(true);
    // OpenAI answered both; the answers were in the journal before the registry was asked for.
    expect(pending(b)).toHaveLength(2);
    // A read command folds them in.
    const list = await run(b, ['list']);
    expect(list.code, explain(list)).toBe(0);
    expect(pending(b)).toEqual([]);
    const c = copies(b);
    expect(c.stored.every(accepted) && accepted(c.live)).toBe(true);
    const next = await run(b, ['refresh', '--force']);
    expect(next.code, explain(next)).toBe(0);
    expect(reused()).toEqual([]);
  }, 60_000);
});
