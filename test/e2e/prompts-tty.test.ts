/**
 * The account picker in a real terminal: the built `codex-auth switch` (no QUERY) runs in a tmux pane
 * (a real pseudo-terminal, raw mode and all), keys are sent with `tmux send-keys`, and the screen is
 * read back with `capture-pane`. tmux is optional on a developer machine (skipped loudly when
 * missing); CI installs it (.ci/run), and CI=true turns a missing tmux into a failure.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, BIN, runBin } from '../support/bin.js';
import { isolatedEnv } from '../support/codex.js';
import { secretScan } from '../support/e2e.js';
import { chatgptAuth } from '../support/jwt.js';
import { waitFor } from '../support/wait.js';

function requireTmux(): boolean {
  if (spawnSync('sh', ['-c', 'command -v tmux']).status === 0) return true;
  if (process.env.CI === 'true') throw new Error('tmux is required in CI (.ci/run installs it) and CI=true forbids skipping');
  console.warn('\n*** SKIPPING the real-terminal prompt tests: tmux is not installed (apt-get install tmux) ***\n');
  return false;
}
const HAVE_TMUX = requireTmux();

const ALICE = { email: 'alice@example.com', userId: 'user-alice', accountId: 'acc-alice', plan: 'plus' };
const JUDY = { email: 'judy@example.com', userId: 'user-judy', accountId: 'acc-judy', plan: 'pro' };
const QUINN = { email: 'quinn@example.com', userId: 'user-quinn', accountId: 'acc-quinn', plan: 'team' };

let root: string;
let home: string;
let codexHome: string;
let socket: string;
const { transcript, secrets } = secretScan();
const docs = [ALICE, JUDY, QUINN].map((who) => chatgptAuth(who));

let run = 0;

/** tmux on this test's own server (socket); a server started by it gets `env` (its panes too). */
function tmux(args: string[], env: Record<string, string> = isolatedEnv(home)): string {
  const r = spawnSync('tmux', ['-S', `${socket}-${run}`, '-f', '/dev/null', ...args], { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`tmux ${args[0]}: ${r.stderr}`);
  return r.stdout;
}

function screen(): string {
  return tmux(['capture-pane', '-p', '-J', '-t', 'prompt']);
}

function liveAccount(): string {
  const doc = JSON.parse(fs.readFileSync(path.join(codexHome, 'auth.json'), 'utf8'));
  return String(doc.tokens.account_id);
}

/**
 * Runs `codex-auth switch` in a fresh tmux pane of a terminal 100×30, waits for the picker, sends the
 * keys (each a tmux key name, or `-l TEXT` for literal letters) and returns the screen once it exited.
 */
async function pickInTerminal(keys: string[][]): Promise<{ exit: number; text: string }> {
  // The pane's environment: the sandbox and no CI (no prompts in CI); tmux sets a real TERM.
  const env = isolatedEnv(home, { CODEX_HOME: codexHome, TZ: 'UTC' });
  delete env.CI;
  delete env.NO_COLOR;
  delete env.TERM;
  run += 1;
  tmux(['new-session', '-d', '-s', 'prompt', '-x', '100', '-y', '30', `'${process.execPath}' '${BIN}' switch; echo "EXIT=$?"; sleep 600`], env);
  try {
    await waitFor(() => screen().includes('switch to:'), 'the picker on screen', 20_000);
    for (const k of keys) {
      tmux(['send-keys', '-t', 'prompt', ...k]);
      await new Promise((r) => setTimeout(r, 80));
    }
    await waitFor(() => /EXIT=\d+/.test(screen()), 'codex-auth to exit', 20_000);
    const text = screen();
    transcript.push(text);
    return { exit: Number(/EXIT=(\d+)/.exec(text)?.[1]), text };
  } finally {
    tmux(['kill-server']);
  }
}

beforeAll(async () => {
  assertBuilt();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-tty-'));
  home = path.join(root, 'home');
  codexHome = path.join(home, '.codex');
  socket = path.join(root, 'tmux.sock');
  fs.mkdirSync(codexHome, { recursive: true, mode: 0o700 });
  for (const d of docs) secrets.push(d.tokens.refresh_token, d.tokens.access_token, d.tokens.id_token);
  const files = docs.map((d, i) => {
    const p = path.join(root, `in-${i}.json`);
    fs.writeFileSync(p, JSON.stringify(d));
    return p;
  });
  expect((await runBin(['import', ...files], { home, codexHome })).code).toBe(0);
  // Judy (row 2) is the active account: the picker must start on her, not on row 1.
  const sw = await runBin(['switch', 'judy'], { home, codexHome });
  expect(sw.code, sw.stderr).toBe(0);
});
afterAll(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe.skipIf(!HAVE_TMUX)('the picker in a real terminal', () => {
  it('starts on the active account: Enter at once keeps it (a no-op switch)', async () => {
    const r = await pickInTerminal([['Enter']]);
    expect(r.exit, r.text).toBe(0);
    expect(r.text).toContain('already');
    expect(liveAccount()).toBe(JUDY.accountId);
  });

  it('typed letters filter ("quinn": q is a letter, not a key), Enter switches', async () => {
    const r = await pickInTerminal([['-l', 'quinn'], ['Enter']]);
    expect(r.exit, r.text).toBe(0);
    expect(r.text).toContain('Switched Codex to quinn@example.com');
    expect(liveAccount()).toBe(QUINN.accountId);
    // Arrows move: up from the active (quinn, row 3) is judy.
    const up = await pickInTerminal([['Up'], ['Enter']]);
    expect(up.exit, up.text).toBe(0);
    expect(liveAccount()).toBe(JUDY.accountId);
  });

  it('Esc and Ctrl-C cancel: exit 130, "Cancelled; nothing was changed.", no "error:"', async () => {
    for (const key of ['Escape', 'C-c']) {
      const r = await pickInTerminal([['-l', 'al'], [key]]);
      expect(r.exit, `${key}:\n${r.text}`).toBe(130);
      expect(r.text).toContain('Cancelled; nothing was changed.');
      expect(r.text).not.toContain('error');
      expect(liveAccount()).toBe(JUDY.accountId);
    }
  });
});
