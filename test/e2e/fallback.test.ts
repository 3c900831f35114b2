/**
 * Automatic fallback end to end: the real Codex CLI hits a usage limit at the fake OpenAI, and
 * codex-auth (watch --once, the watch loop, run) moves Codex to another account or the API key in
 * the real keyring, and back when the window resets.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { assertBuilt, BIN, keyringEnv, requireKeyring, runBin } from '../support/bin.js';
import { CODEX_BIN, codexAvailable, codexExecArgs, codexSandbox, isolatedEnv, type RunResult, runCodex } from '../support/codex.js';
import { FakeOpenAI, type RateLimits } from '../support/fake-openai.js';
import { explain, secretScan } from '../support/e2e.js';
import { type ChatgptAuthDoc, decodeJwt, fakeApiKey, nowSeconds } from '../support/jwt.js';
import { waitFor as waitUntil } from '../support/wait.js';

const waitFor = (cond: () => boolean, what: string, deadlineMs = PATIENCE_MS) => waitUntil(cond, what, deadlineMs);

const gate = requireKeyring();
if (!codexAvailable() && process.env.CI) throw new Error(`the real Codex CLI is missing at ${CODEX_BIN}`);

/**
 * A usage limit's window: long enough that no slow run outlives it between hitting the limit and
 * `watch --once` seeing it (a 6-second one did, and the watch then had nothing to do).
 */
const WINDOW_SECONDS = 15 * 60;
/** How long a slow machine may take for what a fast one does in a second or two. */
const PATIENCE_MS = 45_000;

/** The one JSON document a `watch --once --json` printed; a clear failure when it printed none or several. */
function lastEvent(r: RunResult): Record<string, unknown> {
  const lines = r.stdout.trim().split('\n').filter((l) => l !== '');
  expect(lines, `watch --once --json must print exactly one document\n${explain(r)}`).toHaveLength(1);
  return JSON.parse(lines[0] ?? '');
}


/**
 * The window's reset, without waiting the window out: codex-auth runs with a clock `offsetMs` ahead
 * (a --require preload that moves Date, for that one process). Codex's session log, the fake's
 * answers and the stored state keep the real times, as they would after a real wait.
 */
function clockAhead(offsetMs: number): Record<string, string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-clock-'));
  onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
  const preload = path.join(dir, 'clock-ahead.cjs');
  fs.writeFileSync(
    preload,
    `const Real = Date;
const offset = ${Math.round(offsetMs)};
class Later extends Real {
  constructor(...a) { if (a.length === 0) super(Real.now() + offset); else super(...a); }
  static now() { return Real.now() + offset; }
}
globalThis.Date = Later;
`,
  );
  return { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${JSON.stringify(preload)}`.trim() };
}

// Each test runs Codex and codex-auth a dozen times: room for a loaded machine.
describe.skipIf(gate.skip || !codexAvailable())('automatic fallback with the real Codex CLI', { timeout: 240_000 }, () => {
  let fake: FakeOpenAI;
  const { transcript, secrets } = secretScan();
  let n = 0;

  beforeAll(async () => {
    assertBuilt();
    fake = await FakeOpenAI.start();
  });
  afterAll(async () => {
    await fake.close();
  });

  function world(opts: { mode?: 'file' | 'keyring' } = {}) {
    const sb = codexSandbox(onTestFinished);
    if (opts.mode === 'keyring') fs.writeFileSync(path.join(sb.codexHome, 'config.toml'), 'cli_auth_credentials_store = "keyring"\n');
    const env = { CODEX_AUTH_OPENAI_BASE_URL: fake.openaiBaseUrl, CODEX_AUTH_CHATGPT_BASE_URL: fake.chatgptBaseUrl, CODEX_REFRESH_TOKEN_URL_OVERRIDE: fake.refreshUrl, CODEX_AUTH_CODEX_BIN: CODEX_BIN };
    const auth = async (args: string[], input?: string, extraEnv: Record<string, string> = {}) => {
      const r = await runBin(args, { home: sb.home, codexHome: sb.codexHome, env: { ...env, ...extraEnv }, ...(input !== undefined ? { input } : {}) });
      transcript.push(r.stdout, r.stderr);
      return r;
    };
    // One set of -c flags that works for both modes: model calls go to <fake>/v1/responses.
    const execArgs = () => codexExecArgs(fake, { mode: 'apikey' });
    const codex = async (args: string[]) => {
      const r = await runCodex(args, { ...sb, env: { ...keyringEnv() } });
      transcript.push(r.stdout, r.stderr);
      return r;
    };
    const chatgpt = (name: string): ChatgptAuthDoc => {
      n += 1;
      const doc = fake.addChatgptAccount({ email: `${name}-${n}@example.com`, userId: `user-${name}-${n}`, accountId: `acc-${name}-${n}` });
      secrets.push(doc.tokens.refresh_token, doc.tokens.access_token);
      return doc;
    };
    const key = (name: string) => {
      n += 1;
      const k = fakeApiKey(`${name}-${n}`);
      secrets.push(k);
      fake.addApiKey(k, { id: `user-${name}-${n}`, email: `${name}-${n}@example.com` });
      return k;
    };
    const importDoc = async (doc: ChatgptAuthDoc) => {
      const f = path.join(sb.home, `${doc.tokens.account_id}.json`);
      fs.writeFileSync(f, JSON.stringify(doc));
      const r = await auth(['import', f]);
      fs.rmSync(f);
      expect(r.code, explain(r)).toBe(0);
    };
    const makeLive = async (doc: ChatgptAuthDoc) => {
      await importDoc(doc);
      // By email (unique here): a piece of the internal id is not a query.
      const r = await auth(['switch', String(decodeJwt(doc.tokens.id_token).email)]);
      expect(r.code, explain(r)).toBe(0);
    };
    return { sb, auth, codex, execArgs, chatgpt, key, importDoc, makeLive };
  }

  /** The fake answers this token with 429 usage_limit_reached, windows at 100%, resetting in `seconds`. */
  /** With `usageToo` false only the model calls fail: the usage API has not caught up yet. */
  function exhaust(doc: ChatgptAuthDoc, seconds: number, usageToo = true): number {
    const resetAt = nowSeconds() + seconds;
    const weeklyReset = nowSeconds() + 5 * 86400;
    const limits: RateLimits = { primary: { usedPercent: 100, windowMinutes: 300, resetAt }, secondary: { usedPercent: 40, windowMinutes: 10080, resetAt: weeklyReset } };
    fake.setResponses(doc.tokens.access_token, { usageLimit: { resetsAt: resetAt }, rateLimits: limits });
    if (usageToo) fake.setUsage(doc.tokens.account_id, { primary: { usedPercent: 100, resetAt }, secondary: { usedPercent: 40, resetAt: weeklyReset }, limitReached: true });
    return resetAt;
  }

  it.each(['file', 'keyring'] as const)('%s mode: limit → watch --once moves Codex to the API key; reset → back to the ChatGPT account', async (mode) => {
    const w = world({ mode });
    const a = w.chatgpt('alice');
    await w.makeLive(a);
    const k = w.key('billing');
    expect((await w.auth(['add-api-key', '-'], k)).code).toBe(0);
    const en = await w.auth(['fallback', 'enable']);
    expect(en.code, explain(en)).toBe(0);

    const resetAt = exhaust(a, WINDOW_SECONDS);
    let exec = await w.codex(w.execArgs());
    expect(exec.code).not.toBe(0);
    expect(exec.stderr).toMatch(/usage limit/i);

    let once = await w.auth(['watch', '--once', '--json']);
    expect(once.code, explain(once)).toBe(0);
    const ev = lastEvent(once);
    expect(ev).toMatchObject({ schemaVersion: 1, action: 'switch', kind: 'fallback-key' });
    fake.clearRequests();
    exec = await w.codex(w.execArgs());
    expect(exec.code, explain(exec)).toBe(0);
    expect(fake.bearerTokensSeen(/\/responses$/)).toEqual([k]);
    if (mode === 'keyring') expect(fs.existsSync(path.join(w.sb.codexHome, 'auth.json'))).toBe(false);
    const st = JSON.parse((await w.auth(['fallback', 'status', '--json'])).stdout);
    expect(st.state).toMatchObject({ fromId: 'chatgpt::' + `user-${a.tokens.account_id.slice(4)}::${a.tokens.account_id}` });
    expect(st.state.until).toBe(new Date(resetAt * 1000).toISOString());

    // Before the reset: stays on the key.
    once = await w.auth(['watch', '--once']);
    expect(once.stderr).toContain('No switch: in fallback on');
    // The window resets (codex-auth's clock a minute past it), and the usage API confirms headroom:
    // back to alice.
    fake.setResponses(a.tokens.access_token, {});
    fake.setUsage(a.tokens.account_id, { primary: { usedPercent: 3 }, secondary: { usedPercent: 40 } });
    once = await w.auth(['watch', '--once', '--json'], undefined, clockAhead(resetAt * 1000 - Date.now() + 60_000));
    expect(once.code, explain(once)).toBe(0);
    expect(lastEvent(once)).toMatchObject({ action: 'switch', kind: 'switch-back' });
    fake.clearRequests();
    exec = await w.codex(w.execArgs());
    expect(exec.code, explain(exec)).toBe(0);
    expect(fake.bearerTokensSeen(/\/responses$/)).toEqual([a.tokens.access_token]);
    const log = fs.readFileSync(path.join(w.sb.codexHome, 'codex-auth', 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log.map((e) => e.kind)).toEqual(['fallback-key', 'switch-back']);
  });

  it('rotates to another ChatGPT account with headroom before the API key', async () => {
    const w = world();
    const a = w.chatgpt('rot-a');
    const b = w.chatgpt('rot-b');
    await w.makeLive(a);
    await w.importDoc(b);
    fake.setUsage(b.tokens.account_id, { primary: { usedPercent: 10 }, secondary: { usedPercent: 10 } });
    const k = w.key('rot-key');
    expect((await w.auth(['add-api-key', '-'], k)).code).toBe(0);
    expect((await w.auth(['fallback', 'enable'])).code).toBe(0);
    expect((await w.auth(['list', '--refresh'])).code).toBe(0);
    exhaust(a, 3600);
    expect((await w.codex(w.execArgs())).code).not.toBe(0);
    const once = await w.auth(['watch', '--once', '--json']);
    expect(lastEvent(once)).toMatchObject({ action: 'switch', kind: 'rotate' });
    fake.clearRequests();
    const exec = await w.codex(w.execArgs());
    expect(exec.code, explain(exec)).toBe(0);
    expect(fake.bearerTokensSeen(/\/responses$/)).toEqual([b.tokens.access_token]);
  });

  it('run: one command ends with the answer from the fallback', async () => {
    const w = world();
    const a = w.chatgpt('run-a');
    await w.makeLive(a);
    const k = w.key('run-key');
    expect((await w.auth(['add-api-key', '-'], k)).code).toBe(0);
    expect((await w.auth(['fallback', 'enable', '--no-rotate'])).code).toBe(0);
    exhaust(a, 3600, false);
    fake.setResponses(k, { text: 'answer from the fallback key' });
    fake.clearRequests();
    const r = await runBin(['run', '--', ...w.execArgs()], { home: w.sb.home, codexHome: w.sb.codexHome, env: { CODEX_AUTH_OPENAI_BASE_URL: fake.openaiBaseUrl, CODEX_AUTH_CHATGPT_BASE_URL: fake.chatgptBaseUrl, CODEX_AUTH_CODEX_BIN: CODEX_BIN }, timeoutMs: 60_000 });
    transcript.push(r.stdout, r.stderr);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toContain('answer from the fallback key');
    expect(r.stderr).toMatch(/codex-auth: switched Codex to .*\(fallback-key\)/);
    expect(r.stderr).toContain('running it again under the new account');
    expect(fake.bearerTokensSeen(/\/responses$/)).toEqual([a.tokens.access_token, k]);
  });

  it('the watch loop picks up a usage-limit event written while it runs, within one interval', async () => {
    const w = world();
    const a = w.chatgpt('loop-a');
    await w.makeLive(a);
    const k = w.key('loop-key');
    expect((await w.auth(['add-api-key', '-'], k)).code).toBe(0);
    expect((await w.auth(['fallback', 'enable'])).code).toBe(0);
    const child = spawn(process.execPath, [BIN, 'watch', '--interval', '5', '--json'], {
      env: isolatedEnv(w.sb.home, { ...keyringEnv(), CODEX_HOME: w.sb.codexHome, CODEX_AUTH_OPENAI_BASE_URL: fake.openaiBaseUrl, CODEX_AUTH_CHATGPT_BASE_URL: fake.chatgptBaseUrl }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    onTestFinished(() => {
      child.kill('SIGKILL');
    });
    await waitFor(() => out.includes('"event":"start"') || child.exitCode !== null, 'the watch loop to start');
    expect(out, err).toContain('"event":"start"');
    // A second watch for the same CODEX_HOME refuses to start.
    const second = await w.auth(['watch']);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('already running');

    // The loop's first evaluation polls the usage API: let it be answered before the limit is hit
    // (else that poll, not the session log, sees the limit, and exec below already runs as the key).
    await fake.waitForRequest({ path: '/backend-api/wham/usage', bearer: a.tokens.access_token });
    exhaust(a, 3600);
    expect((await w.codex(w.execArgs())).code).not.toBe(0);
    // Within one 5-second interval on a fast machine; a loaded one may take several.
    try {
      await waitFor(() => out.includes('"event":"switch"') || child.exitCode !== null, 'the watch loop to switch');
    } finally {
      transcript.push(out, err);
    }
    const sw = out.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((e) => e.event === 'switch');
    expect(sw).toMatchObject({ kind: 'fallback-key' });
    const list = JSON.parse((await w.auth(['list', '--json'])).stdout);
    expect(list.accounts.find((x: { active: boolean }) => x.active).kind).toBe('apikey');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toContain('"event":"stop"');
    // The watch lock is let go of (its file stays: lock files are never deleted while in use).
    expect(spawnSync('flock', ['-n', '-x', path.join(w.sb.codexHome, 'codex-auth', 'watch.lock'), 'true']).status).toBe(0);
  });
});
