/**
 * The real Codex CLI (0.169.0, `codex exec`) through `codex-auth gateway serve` to the fake OpenAI
 * (CODEX-FACTS.md §10), set up by `codex-auth gateway enable`: Codex's CODEX_HOME holds only the
 * placeholder login; codex-auth's home, with the real accounts, is elsewhere (CODEX_AUTH_HOME).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CODEX_BIN, isolatedEnv, runCodex } from '../support/codex.js';
import { e2eSuite, explain, withRealCodex } from '../support/e2e.js';
import { sseEvent } from '../support/fake-openai.js';
import { freePortPair, type GatewayProcess, startGatewayProcess } from '../support/gateway.js';
import { makeSandbox } from '../support/inprocess.js';
import { fakeApiKey, nowSeconds } from '../support/jwt.js';
import { waitFor } from '../support/wait.js';

/** tmux drives the interactive Codex (h): required in CI (.ci/run installs it), optional elsewhere. */
function requireTmux(): boolean {
  if (spawnSync('sh', ['-c', 'command -v tmux']).status === 0) return true;
  if (process.env.CI === 'true') throw new Error('tmux is required in CI (.ci/run installs it) and CI=true forbids skipping');
  console.warn('\n*** SKIPPING the interactive Codex gateway test (h): tmux is not installed (apt-get install tmux) ***\n');
  return false;
}
const HAVE_TMUX = requireTmux();

/** Processes whose command line names `dir` (Linux /proc): waited for up to 10 s, then killed; returns what had to be killed. */
async function reap(dir: string): Promise<string[]> {
  const find = () => {
    if (!fs.existsSync('/proc/self/cmdline')) return [];
    const found: Array<{ pid: number; cmd: string }> = [];
    for (const n of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(n) || Number(n) === process.pid) continue;
      try {
        const cmd = fs.readFileSync(`/proc/${n}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
        if (cmd.includes(dir)) found.push({ pid: Number(n), cmd });
      } catch {
        /* gone */
      }
    }
    return found;
  };
  const end = Date.now() + 10_000;
  while (find().length > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
  const left = find();
  for (const p of left) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  return left.map((p) => `${p.pid} ${p.cmd}`);
}

const realCodex = withRealCodex('gateway e2e tests');

describe.skipIf(!realCodex)('the real Codex through the gateway', () => {
  const { fake, transcript, secrets } = e2eSuite();

  const CONFIG = '# my Codex config\nanalytics.enabled = false # no analytics in tests\ncheck_for_update_on_startup = false\n\n[features]\n# mine\napps = false\nplugins = false\nremote_plugin = false\n';

  /**
   * codex-auth's accounts (A, and the fallback API key) in a home of their own (CODEX_AUTH_HOME),
   * Codex set up by `codex-auth gateway enable`, and the gateway running (`gateway serve`).
   */
  async function setup(tag: string) {
    const sb = makeSandbox();
    onTestFinished(() => sb.cleanup());
    const authHome = path.join(sb.root, 'codex-auth-home');
    Object.assign(sb.env, {
      CODEX_AUTH_HOME: authHome,
      CODEX_AUTH_OPENAI_BASE_URL: fake.openaiBaseUrl,
      CODEX_AUTH_CHATGPT_BASE_URL: fake.chatgptBaseUrl,
      CODEX_REFRESH_TOKEN_URL_OVERRIDE: fake.refreshUrl,
    });
    const a = fake.addChatgptAccount({ email: `${tag}@example.com`, userId: `user-${tag}`, accountId: `acc-${tag}` });
    secrets.push(a.tokens.access_token, a.tokens.refresh_token);
    sb.writeAuth(a);
    const realAuth = sb.readAuth() as string;
    fs.writeFileSync(path.join(sb.codexHome, 'config.toml'), CONFIG);
    const key = fakeApiKey(`gateway-e2e-${tag}`);
    secrets.push(key);
    fake.addApiKey(key, { id: `user-key-${tag}`, email: `key-${tag}@example.com` });
    const port = await freePortPair();
    for (const [args, input] of [[['list']], [['add-api-key', '-', '--insecure-storage'], key], [['gateway', 'enable', '--port', String(port)]]] as Array<[string[], string?]>) {
      const r = await sb.run(args, input !== undefined ? { input } : {});
      expect(r.code, r.stderr).toBe(0);
    }
    const gw = await startGatewayProcess({ home: sb.home, codexAuthHome: authHome, env: sb.env, port: null });
    onTestFinished(async () => {
      const r = await gw.stop();
      transcript.push(r.stdout, r.stderr);
    });
    secrets.push(gw.secret);
    const codexSb = { home: sb.home, codexHome: sb.codexHome };
    return { sb, a, key, gw, codexSb, realAuth };
  }

  /** `compression`: Codex's zstd request bodies on (they pass through to a ChatGPT account as they are). */
  const exec = async (_gw: GatewayProcess, sb: { home: string; codexHome: string }, prompt: string, compression = false) => {
    const r = await runCodex(['exec', '--skip-git-repo-check', ...(compression ? ['-c', 'features.enable_request_compression=true'] : []), prompt], { ...sb, timeoutMs: 90_000 });
    transcript.push(r.stdout, r.stderr);
    return r;
  };

  it('(a) a normal turn is served by the chosen account', async () => {
    const { a, gw, codexSb } = await setup('gwa');
    fake.setResponses(a.tokens.access_token, { text: 'served by A' });
    const r = await exec(gw, codexSb, 'say hi', true);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toContain('served by A');
    const model = fake.requests({ bearer: a.tokens.access_token, path: '/backend-api/codex/responses' });
    expect(model.length).toBeGreaterThan(0);
    expect(model[0]!.headers['chatgpt-account-id']).toBe('acc-gwa');
    expect(model[0]!.headers['content-encoding']).toBe('zstd'); // Codex's body, passed through as it came
  });

  it('(e) Codex\'s credentials hold none of the real secrets, and Codex never calls the token endpoint', async () => {
    const { a, key, codexSb, gw } = await setup('gwe');
    fake.setResponses(a.tokens.access_token, { text: 'served by A' });
    const refreshesBefore = fake.refreshAttempts().length;
    const r = await exec(gw, codexSb, 'say hi');
    expect(r.code, explain(r)).toBe(0);
    const files: string[] = [];
    const walk = (d: string) => {
      for (const n of fs.readdirSync(d)) {
        const p = path.join(d, n);
        const st = fs.lstatSync(p);
        if (st.isDirectory()) walk(p);
        else if (st.isFile() && st.size < 4 * 1024 * 1024) files.push(p);
      }
    };
    walk(codexSb.codexHome);
    for (const f of files) {
      const text = fs.readFileSync(f, 'latin1');
      for (const s of [a.tokens.access_token, a.tokens.refresh_token, a.tokens.id_token, key]) expect(text.includes(s), `${f} holds a real secret`).toBe(false);
    }
    expect(JSON.parse(fs.readFileSync(path.join(codexSb.codexHome, 'auth.json'), 'utf8')).tokens.account_id).toMatch(/^codex-auth-gateway-/);
    expect(fake.refreshAttempts().length).toBe(refreshesBefore);
  });

  it('(c) a stream cut in the middle is replayed by Codex and served', async () => {
    const { a, gw, codexSb } = await setup('gwc');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const item = { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'half an answer' }] };
    fake.setResponses(a.tokens.access_token, { stream: [sseEvent({ type: 'response.created', response: { id: 'r1' } }), sseEvent({ type: 'response.output_item.added', item }), { gate }, { cut: true }] });
    const running = exec(gw, codexSb, 'say hi');
    const deadline = Date.now() + 60_000;
    while (fake.requests({ bearer: a.tokens.access_token, path: '/backend-api/codex/responses' }).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    fake.setResponses(a.tokens.access_token, { text: 'served after the cut' });
    release();
    const r = await running;
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toContain('served after the cut');
    expect(fake.requests({ bearer: a.tokens.access_token, path: '/backend-api/codex/responses' }).length).toBeGreaterThanOrEqual(2);
  });

  it('(d) everything exhausted: Codex prints its usage-limit message with the earliest reset', async () => {
    const { sb, a, key, codexSb } = await setup('gwd');
    // With rotation on, another ChatGPT account (B) serves before the key; B lifts first, A (the chosen
    // one, tried first) and the key (tried last, whose answer Codex gets) later.
    const b = fake.addChatgptAccount({ email: 'gwd-b@example.com', userId: 'user-gwd-b', accountId: 'acc-gwd-b' });
    secrets.push(b.tokens.access_token, b.tokens.refresh_token);
    const bFile = path.join(sb.root, 'b-auth.json');
    fs.writeFileSync(bFile, JSON.stringify(b), { mode: 0o600 });
    for (const args of [['import', bFile], ['gateway', 'enable', '--rotate']]) {
      const r = await sb.run(args);
      expect(r.code, r.stderr).toBe(0);
    }
    const early = nowSeconds() + 2 * 3600;
    const late = early + 3600;
    fake.setResponses(a.tokens.access_token, { usageLimit: { resetsAt: late } });
    fake.setResponses(b.tokens.access_token, { usageLimit: { resetsAt: early } });
    fake.removeApiKey(key);
    fake.setResponses(key, { usageLimit: { resetsAt: late + 3600 } });
    const r = await runCodex(['exec', '--skip-git-repo-check', 'say hi'], { ...codexSb, env: { TZ: 'UTC' }, timeoutMs: 90_000 });
    transcript.push(r.stdout, r.stderr);
    expect(r.code).toBe(1);
    const shown = `${r.stdout}${r.stderr}`;
    expect(shown).toMatch(/usage limit/i);
    // "… try again at 4:59 PM." on the same day, "… try again at Dec 4th, 2026 12:00 AM." on
    // another (Codex's local time: TZ=UTC here). Both forms are accepted, since a run late in the
    // day (or one that crosses midnight) gets the second.
    const clock = (sec: number) => {
      const d = new Date(sec * 1000);
      const h = d.getUTCHours();
      return `${h % 12 === 0 ? 12 : h % 12}:${String(d.getUTCMinutes()).padStart(2, '0')} ${h < 12 ? 'AM' : 'PM'}`;
    };
    const dated = (sec: number) => {
      const d = new Date(sec * 1000);
      const day = d.getUTCDate();
      const nth = day % 10 === 1 && day !== 11 ? 'st' : day % 10 === 2 && day !== 12 ? 'nd' : day % 10 === 3 && day !== 13 ? 'rd' : 'th';
      return `${d.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' })} ${day}${nth}, ${d.getUTCFullYear()} ${clock(sec)}`;
    };
    const wanted = [`try again at ${clock(early)}`, `try again at ${dated(early)}`];
    expect(wanted.some((w) => shown.includes(w)), `${explain(r)}\nexpected one of: ${wanted.join(' | ')}`).toBe(true);
    expect(shown).not.toContain(clock(late));
    // All three were asked, in the gateway's order.
    for (const [bearer, p] of [[a.tokens.access_token, '/backend-api/codex/responses'], [b.tokens.access_token, '/backend-api/codex/responses'], [key, '/v1/responses']] as const) {
      expect(fake.requests({ bearer, path: p }).length, p).toBeGreaterThan(0);
    }
  });

  it('(f) gateway disable restores config.toml and the real login exactly', async () => {
    const { sb, realAuth } = await setup('gwf');
    const d = await sb.run(['gateway', 'disable']);
    expect(d.code, d.stderr).toBe(0);
    expect(fs.readFileSync(path.join(sb.codexHome, 'config.toml'), 'utf8')).toBe(CONFIG);
    expect(JSON.parse(sb.readAuth() as string)).toEqual(JSON.parse(realAuth));
    // The real Codex reads it as the real login again.
    const status = await runCodex(['login', 'status'], { home: sb.home, codexHome: sb.codexHome, timeoutMs: 30_000 });
    expect(`${status.stdout}${status.stderr}`).toContain('Logged in using ChatGPT');
  });

  it('(g) a request without the installation secret gets 403 and touches no account', async () => {
    const { a, gw } = await setup('gwg');
    const before = fake.requests().length;
    for (const authorization of [undefined, `Bearer ${a.tokens.access_token}`]) {
      const r = await fetch(`${gw.model}/responses`, { method: 'POST', headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) }, body: '{}' });
      expect(r.status).toBe(403);
    }
    expect(fake.requests().length).toBe(before);
  });

  it('(b) a usage limit is served from the API key in the same turn: exit 0, no usage-limit message', async () => {
    const { a, key, gw, codexSb } = await setup('gwb');
    fake.setResponses(a.tokens.access_token, { usageLimit: { resetsAt: nowSeconds() + 3600 } });
    fake.setResponses(key, { text: 'served by the key' });
    const r = await exec(gw, codexSb, 'say hi');
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout).toContain('served by the key');
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/usage limit/i);
    expect(fake.requests({ bearer: key, path: '/v1/responses' }).length).toBeGreaterThan(0);
    expect(gw.lines().some((l) => l.event === 'failover')).toBe(true);
  });

  it('a real login put in while the gateway is on ("codex login"): Codex shows the 403 with the fix, sync saves the login, doctor says it, gateway enable puts the placeholder back', async () => {
    const { sb, gw, codexSb } = await setup('gwl');
    const b = fake.addChatgptAccount({ email: 'gwl-new@example.com', userId: 'user-gwl-new', accountId: 'acc-gwl-new' });
    secrets.push(b.tokens.access_token, b.tokens.refresh_token);
    sb.writeAuth(b); // what "codex login" writes
    const before = fake.requests().length;
    const r = await exec(gw, codexSb, 'say hi');
    expect(r.code).not.toBe(0);
    // Codex shows the gateway's words, with the fix.
    expect(`${r.stdout}${r.stderr}`).toMatch(/403 Forbidden: codex-auth gateway: .*Codex holds a real login.*Run "codex-auth gateway enable" again/);
    expect(fake.requests().length).toBe(before); // the real token went nowhere
    const doctor = await sb.run(['doctor', '--json']);
    expect(JSON.parse(doctor.stdout).checks.find((c: { id: string }) => c.id === 'gateway_login')).toMatchObject({ status: 'fail', fix: expect.stringContaining('codex-auth gateway enable') });
    // The fix: enable again (it saves the new login into its account first), and Codex works, served by it.
    const e = await sb.run(['gateway', 'enable', '--json']);
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout)).toMatchObject({ changed: true, chosen: { email: 'gwl-new@example.com' } });
    fake.setResponses(b.tokens.access_token, { text: 'served by the new login' });
    const again = await exec(gw, codexSb, 'say hi');
    expect(again.code, explain(again)).toBe(0);
    expect(again.stdout).toContain('served by the new login');
    expect(fake.requests({ bearer: b.tokens.access_token, path: '/backend-api/codex/responses' }).length).toBeGreaterThan(0);
  });

  it.skipIf(!HAVE_TMUX)('(h) an interactive Codex session in a real terminal continues on the key after a 429, without a restart', async () => {
    const { sb, a, key, gw, codexSb } = await setup('gwh');
    fake.setResponses(a.tokens.access_token, { text: 'FIRST-ANSWER-FROM-A' });
    // The TUI in a tmux pane: its own server (socket), a real TERM, the sandbox's environment.
    const socket = path.join(sb.root, 'tmux.sock');
    const env = isolatedEnv(codexSb.home, { CODEX_HOME: codexSb.codexHome, TZ: 'UTC' });
    delete env.CI;
    delete env.NO_COLOR;
    delete env.TERM;
    const tmux = (args: string[]) => {
      const r = spawnSync('tmux', ['-S', socket, '-f', '/dev/null', ...args], { encoding: 'utf8', env, timeout: 15_000 });
      if (r.status !== 0) throw new Error(`tmux ${args[0]}: ${r.stderr}`);
      return r.stdout;
    };
    const screen = () => tmux(['capture-pane', '-p', '-J', '-t', 'codex']);
    const script = path.join(sb.root, 'codex-tui.sh');
    const q = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;
    fs.writeFileSync(script, `#!/bin/sh\ncd ${q(codexSb.home)}\n${q(CODEX_BIN)} -c ${q(`projects."${codexSb.home}".trust_level="trusted"`)}\necho "EXIT=$?"\nsleep 600\n`, { mode: 0o700 });
    let last = '';
    let leftovers: string[] = [];
    try {
      tmux(['new-session', '-d', '-s', 'codex', '-x', '120', '-y', '40', script]);
      const wait = async (pred: (t: string) => boolean, what: string, ms = 60_000) => {
        try {
          await waitFor(() => pred((last = screen())), what, ms, 200);
        } catch (e) {
          throw new Error(`${(e as Error).message}\n--- screen:\n${last}`);
        }
      };
      const ask = async (prompt: string) => {
        tmux(['send-keys', '-t', 'codex', '-l', prompt]);
        await wait((t) => t.includes(prompt), `"${prompt}" typed`, 20_000);
        tmux(['send-keys', '-t', 'codex', 'Enter']);
      };
      await wait((t) => t.includes('Ask Codex to do anything') || t.includes('›'), 'the Codex prompt', 90_000);
      // Turn 1: served by the chosen ChatGPT account.
      await ask('first question');
      await wait((t) => t.includes('FIRST-ANSWER-FROM-A'), 'the first answer', 90_000);
      // Turn 2: the account's usage limit; the gateway serves it from the key, in the same session.
      fake.setResponses(a.tokens.access_token, { usageLimit: { resetsAt: nowSeconds() + 3600 } });
      fake.setResponses(key, { text: 'SECOND-ANSWER-FROM-THE-KEY' });
      const fromA = fake.requests({ bearer: a.tokens.access_token, path: '/backend-api/codex/responses' }).length;
      await ask('second question');
      await wait((t) => t.includes('SECOND-ANSWER-FROM-THE-KEY'), 'the second answer', 90_000);
      expect(last).not.toMatch(/usage limit/i);
      expect(last).toContain('FIRST-ANSWER-FROM-A'); // the same session, not a restart
      expect(last).not.toContain('EXIT=');
      expect(fake.requests({ bearer: a.tokens.access_token, path: '/backend-api/codex/responses' }).length).toBeGreaterThan(fromA); // the 429 came from A
      expect(fake.requests({ bearer: key, path: '/v1/responses' }).length).toBeGreaterThan(0);
      expect(gw.lines().some((l) => l.event === 'failover')).toBe(true);
    } finally {
      transcript.push(last);
      try {
        tmux(['kill-server']);
      } catch {
        /* gone */
      }
      // The app-server daemon the TUI may have started for this CODEX_HOME (it outlives the TUI).
      const stop = await runCodex(['app-server', 'daemon', 'stop'], { ...codexSb, timeoutMs: 30_000 });
      transcript.push(stop.stdout, stop.stderr);
      // Whatever still runs from this sandbox is a leftover: wait a little, then kill it (and fail below).
      leftovers = await reap(sb.root);
    }
    expect(leftovers, 'processes of this test left running').toEqual([]);
  });
});
