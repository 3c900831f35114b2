/** Edge cases (issue 13): in-process command tests over real temporary directories, with fake Codex binaries. */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HintRewriter } from '../../src/commands/login.js';
import { visibleWidth } from '../../src/ui/table.js';
import { assertBuilt, runBin } from '../support/bin.js';
import { cliSuite, fakeEnv } from '../support/cli-suite.js';
import { type ChatgptAuthDoc, nowSeconds } from '../support/jwt.js';

const { sb, fake, secrets, remember } = cliSuite({ env: (f) => ({ ...fakeEnv.all(f), CODEX_AUTH_HTTP_TIMEOUT_MS: '1500' }) });

/** An executable shell script in the sandbox. */
function script(name: string, body: string): string {
  const dir = path.join(sb.root, 'bin');
  fs.mkdirSync(dir, { recursive: true });
  const p = path.join(dir, name);
  fs.writeFileSync(p, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return p;
}

describe('run: the Codex home codex-auth watches is the one codex uses', () => {
  function fakeCodex(): { bin: string; seen: () => string } {
    const out = path.join(sb.root, 'codex-home-seen');
    const bin = script('codex', `printf '%s' "\${CODEX_HOME-<unset>}" > '${out}'`);
    return { bin, seen: () => fs.readFileSync(out, 'utf8') };
  }

  it('--codex-home DIR starts codex with CODEX_HOME=DIR (absolute), over a CODEX_HOME in the environment', async () => {
    const { bin, seen } = fakeCodex();
    const other = path.join(sb.root, 'other-home');
    fs.mkdirSync(other, { mode: 0o700 });
    const r = await sb.run(['--codex-home', path.relative(sb.home, other), 'run', '--', 'exec', 'hi'], { env: { CODEX_AUTH_CODEX_BIN: bin } });
    expect(r.code, r.stderr).toBe(0);
    expect(seen()).toBe(other);
  });

  it('--codex-home DIR without CODEX_HOME in the environment', async () => {
    const { bin, seen } = fakeCodex();
    const other = path.join(sb.root, 'other-home');
    fs.mkdirSync(other, { mode: 0o700 });
    const r = await sb.run(['--codex-home', other, 'run', '--', 'exec', 'hi'], { env: { CODEX_AUTH_CODEX_BIN: bin, CODEX_HOME: '' } });
    expect(r.code, r.stderr).toBe(0);
    expect(seen()).toBe(other);
  });

  it('CODEX_HOME given relative reaches codex as the absolute directory codex-auth uses', async () => {
    const { bin, seen } = fakeCodex();
    const r = await sb.run(['run', '--', 'exec', 'hi'], { env: { CODEX_AUTH_CODEX_BIN: bin, CODEX_HOME: '.codex' } });
    expect(r.code, r.stderr).toBe(0);
    expect(seen()).toBe(sb.codexHome);
  });
});

let n = 0;
/** A ChatGPT account the fake knows. */
function chatgpt(name: string): ChatgptAuthDoc {
  n += 1;
  return remember(fake.addChatgptAccount({ email: `${name}-${n}@example.com`, userId: `user-${name}-${n}`, accountId: `acc-${name}-${n}` }));
}
const idOf = (doc: ChatgptAuthDoc) => `chatgpt::user-${doc.tokens.account_id.slice(4)}::${doc.tokens.account_id}`;
const regFile = () => path.join(sb.codexHome, 'codex-auth', 'registry.json');
const activeId = () => JSON.parse(fs.readFileSync(regFile(), 'utf8')).activeId as string | null;

/** `live` in auth.json, the others imported. */
async function accounts(live: ChatgptAuthDoc, ...others: ChatgptAuthDoc[]): Promise<void> {
  sb.writeAuth(live);
  for (const d of others) {
    const f = path.join(sb.root, `${d.tokens.account_id}.json`);
    fs.writeFileSync(f, JSON.stringify(d));
    expect((await sb.run(['import', f])).code).toBe(0);
  }
}

describe('ephemeral credential store: Codex reads no stored login, so nothing claims a switch', () => {
  const ephemeral = () => fs.writeFileSync(path.join(sb.codexHome, 'config.toml'), 'cli_auth_credentials_store = "ephemeral"\n');

  it('switch refuses (exit 1), says why and how to fix it, and changes nothing', async () => {
    const [a, b] = [chatgpt('eph-a'), chatgpt('eph-b')];
    await accounts(a, b);
    ephemeral();
    const before = sb.readAuth();
    const r = await sb.run(['switch', b.tokens.account_id.replace('acc-', '')]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain('✓');
    expect(r.stderr).toContain('Codex keeps its login in memory only (cli_auth_credentials_store = "ephemeral" in');
    expect(r.stderr).toContain('nothing was changed');
    expect(r.stderr).toContain('set cli_auth_credentials_store = "file"');
    expect(sb.readAuth()).toBe(before);
    expect(activeId()).toBe(idOf(a));
    const j = await sb.run(['switch', '2', '--json']);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout).error.code).toBe('ephemeral_store');
  });

  it('doctor says a switch cannot change the account Codex uses (not "no lasting effect")', async () => {
    await accounts(chatgpt('eph-a'));
    ephemeral();
    const r = await sb.run(['doctor', '--json']);
    const check = JSON.parse(r.stdout).checks.find((c: { id: string }) => c.id === 'credential_store');
    expect(check).toMatchObject({ status: 'warn', fix: expect.stringContaining('cli_auth_credentials_store = "file"') });
    expect(check.message).toContain('ephemeral mode (config.toml): Codex keeps its login in memory only and reads neither');
    expect(check.message).toContain('so codex-auth cannot change the account Codex uses (switch refuses)');
  });

  it('switch without a query refuses before asking which account', async () => {
    const [a, b] = [chatgpt('eph-a'), chatgpt('eph-b')];
    await accounts(a, b);
    ephemeral();
    const r = await sb.run(['switch'], { tty: true });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('"ephemeral"');
    expect(r.stderr).not.toContain('Switch to');
  });

  it('automatic fallback (watch --once) warns instead of switching', async () => {
    const [a, b] = [chatgpt('eph-a'), chatgpt('eph-b')];
    await accounts(a, b);
    fake.setUsage(a.tokens.account_id, { primary: { usedPercent: 100, resetAt: nowSeconds() + 3600 }, secondary: { usedPercent: 40 } });
    fake.setUsage(b.tokens.account_id, { primary: { usedPercent: 10 }, secondary: { usedPercent: 10 } });
    expect((await sb.run(['fallback', 'enable'])).code).toBe(0);
    ephemeral();
    const before = sb.readAuth();
    const r = await sb.run(['watch', '--once', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1); // watch --once --json: one document
    const last = JSON.parse(r.stdout);
    expect(last).toMatchObject({ action: 'warn' });
    expect(last.reason).toContain(`automatic fallback would switch to eph-b-`);
    expect(last.reason).toContain('"ephemeral"');
    expect(last.reason).toContain('nothing was switched');
    expect(sb.readAuth()).toBe(before);
    expect(activeId()).toBe(idOf(a));
  });
});

describe('login: Codex\'s device-auth hint points at codex-auth, and the new account\'s switch is shown', () => {
  /** A fake `codex login` that prints what the real one prints (the hint on stderr, in two writes) and logs in to `doc`. */
  function fakeLogin(doc: ChatgptAuthDoc): string {
    const src = path.join(sb.root, 'login-result.json');
    fs.writeFileSync(src, JSON.stringify(doc));
    return script(
      'codex',
      [
        `echo 'Starting local login server on http://localhost:1455.'`,
        `printf 'On a remote or headless machine? Use \x60codex lo' >&2`,
        'sleep 0.02',
        `printf 'gin --device-auth\x60 instead.\\n' >&2`,
        `cp '${src}' "$CODEX_HOME/auth.json"`,
        `echo 'Successfully logged in'`,
      ].join('\n'),
    );
  }

  it('rewrites the hint as it passes through and says how to switch to the new account (row number)', async () => {
    const [a, b] = [chatgpt('login-a'), chatgpt('login-b')];
    await accounts(a);
    const r = await sb.run(['login'], { env: { CODEX_AUTH_CODEX_BIN: fakeLogin(b) } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Starting local login server on http://localhost:1455.\n');
    expect(r.stderr).toContain('On a remote or headless machine? Use `codex-auth login --device-auth` instead.\n');
    expect(r.stderr).not.toContain('`codex login');
    expect(r.stderr).toContain('Successfully logged in\n');
    expect(r.stdout).toContain('imported');
    expect(r.stderr).toContain('Switch to it: codex-auth switch 2\n');
    expect(activeId()).toBe(idOf(a)); // the current login stays active
    const list = JSON.parse((await sb.run(['list', '--json'])).stdout);
    expect(list.accounts.find((x: { number: number }) => x.number === 2).id).toBe(idOf(b));
  });

  it('with --alias the hint names the alias; no hint for the account Codex already uses', async () => {
    const [a, b] = [chatgpt('login-a'), chatgpt('login-b')];
    await accounts(a);
    let r = await sb.run(['login', '--alias', 'work'], { env: { CODEX_AUTH_CODEX_BIN: fakeLogin(b) } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Switch to it: codex-auth switch work\n');
    r = await sb.run(['login'], { env: { CODEX_AUTH_CODEX_BIN: fakeLogin(a) } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('Switch to it');
  });

  it('HintRewriter: the hint is rewritten however the stream is cut, everything else passes unchanged', () => {
    const text = 'x Use `codex login --device-auth` instead. codex login status; codex lo\nend codex login --device-auth';
    const want = text.replaceAll('codex login --device-auth', 'codex-auth login --device-auth');
    for (let size = 1; size <= text.length; size += 1) {
      const rw = new HintRewriter();
      let got = '';
      for (let i = 0; i < text.length; i += size) got += rw.push(text.slice(i, i + size));
      got += rw.flush();
      expect(got, `chunks of ${size}`).toBe(want);
    }
  });
});

describe('list fits a terminal\'s width', () => {
  const LONG = 'a-really-long-email-address-for-testing-wrapping@some-very-long-company-domain.example.com';
  const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

  async function world(): Promise<void> {
    const live = remember(fake.addChatgptAccount({ email: LONG, userId: 'user-long', accountId: 'acc-long' }));
    const other = chatgpt('short');
    await accounts(live, other);
    expect((await sb.run(['alias', 'short', '日本語チーム👨‍👩‍👧の名前'])).code).toBe(0);
  }

  it('on an 80-column terminal every row fits, the names shortened with …, numbers and plans whole', async () => {
    await world();
    const r = await sb.run(['list'], { tty: true, columns: 80 });
    expect(r.code, r.stderr).toBe(0);
    const lines = strip(r.stdout).trimEnd().split('\n');
    expect(lines.length).toBe(3);
    for (const l of lines) expect(visibleWidth(l), l).toBeLessThanOrEqual(80);
    expect(lines.join('\n')).toContain('…');
    expect(lines[1]).toMatch(/^\*\s+1\s+a-really-long-email-address-for-testing-\S*…\s+plus\s+-\s+-\s+-$/);
    // Cut between two wide characters (the family emoji is one), padded to the column's width.
    expect(lines[2]).toMatch(/^\s+2\s+short-\d+@example\.com \(日本語チーム👨‍👩‍👧の名…\s+plus\s+-\s+-\s+-$/);
    expect(visibleWidth(lines[0] as string)).toBe(80); // the header: every column at its width, LAST ACTIVITY last
  });

  it('COLUMNS is honoured on a terminal; a pipe gets every value in full', async () => {
    await world();
    const narrow = await sb.run(['list'], { tty: true, columns: 200, env: { COLUMNS: '60' } });
    const lines = strip(narrow.stdout).trimEnd().split('\n');
    for (const l of lines) expect(visibleWidth(l), l).toBeLessThanOrEqual(60);
    expect(lines[2]).toContain('…'); // the alias with wide characters is cut too, at a character boundary
    expect(lines[2]).toMatch(/\s+plus\s+-\s+-\s+-$/);
    const piped = await sb.run(['list'], { env: { COLUMNS: '60' } });
    expect(piped.stdout).toContain(LONG);
    expect(piped.stdout).toContain('(日本語チーム👨‍👩‍👧の名前)');
    expect(piped.stdout).not.toContain('…');
  });
});

describe('switch: the running-Codex warning counts this CODEX_HOME\'s Codex processes, once each', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) {
      try {
        if (c.pid) process.kill(c.pid, 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
  });

  /** A process whose argv[0] is …/codex (a link to sleep), with this environment. */
  function codexLink(): string {
    const link = path.join(sb.root, 'bin', 'codex');
    if (!fs.existsSync(link)) {
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.symlinkSync(fs.realpathSync('/bin/sleep'), link);
    }
    return link;
  }

  function codexProcess(env: Record<string, string>): ChildProcess {
    const c = spawn(codexLink(), ['60'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' });
    children.push(c);
    return c;
  }

  /** The npm launcher (`node …/codex.js`) and the native codex it starts, as the real package does. */
  async function launcherPair(env: Record<string, string>): Promise<{ launcher: ChildProcess; child: number }> {
    const js = path.join(sb.root, 'npm', 'bin', 'codex.js');
    fs.mkdirSync(path.dirname(js), { recursive: true });
    fs.writeFileSync(js, `const c = require('node:child_process').spawn(${JSON.stringify(codexLink())}, ['60'], { stdio: 'ignore' });\nc.unref();\nsetTimeout(() => {}, 60000);\n`);
    const launcher = spawn(process.execPath, [js], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' });
    children.push(launcher);
    const childrenFile = `/proc/${launcher.pid}/task/${launcher.pid}/children`;
    for (let i = 0; i < 100; i += 1) {
      const kids = fs.readFileSync(childrenFile, 'utf8').trim();
      if (kids) {
        const child = Number(kids.split(' ')[0]);
        children.push({ pid: child } as ChildProcess);
        return { launcher, child };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the launcher did not start its codex');
  }

  it.skipIf(process.platform !== 'linux')('counts CODEX_HOME=this and the default home, not another home; a launcher and its codex once', async () => {
    assertBuilt();
    const [a, b] = [chatgpt('proc-a'), chatgpt('proc-b')];
    await accounts(a, b);
    const other = path.join(sb.root, 'other-home');
    fs.mkdirSync(other);
    const direct = codexProcess({ CODEX_HOME: sb.codexHome });
    const byDefault = codexProcess({ HOME: sb.home }); // no CODEX_HOME: ~/.codex, which is sb.codexHome
    const elsewhere = codexProcess({ CODEX_HOME: other });
    const pair = await launcherPair({ CODEX_HOME: sb.codexHome });
    const r = await runBin(['switch', 'proc-b'], { home: sb.home, codexHome: sb.codexHome, env: { CODEX_AUTH_NO_CODEX_LOCKS: '' } });
    sb.transcript.push(r.stdout, r.stderr);
    expect(r.code, r.stderr).toBe(0);
    const m = /(\d+) running Codex process(?:es keep| keeps) the old account until restarted \(pid ([\d, ]+)\)/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const pids = (m?.[2] ?? '').split(', ').map(Number).sort((x, y) => x - y);
    expect(pids).toEqual([direct.pid, byDefault.pid, pair.launcher.pid].sort((x, y) => (x ?? 0) - (y ?? 0)));
    expect(m?.[1]).toBe('3');
    expect(pids).not.toContain(elsewhere.pid);
    expect(pids).not.toContain(pair.child);
  });
});
