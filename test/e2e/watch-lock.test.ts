/**
 * One `watch` per CODEX_HOME, with the built binary: a second `watch` refuses while the first runs,
 * however old the first one's lock looks, and starts at once when the first was SIGKILLed (the
 * kernel frees a dead process's flock: nothing stale to wait out or clean up).
 *
 * No fixed sleeps: each step waits for a marker (the watch's "start" event, a process's exit).
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { BIN, keyringEnv, runBin } from '../support/bin.js';
import { codexSandbox, isolatedEnv } from '../support/codex.js';
import { e2eSuite, explain } from '../support/e2e.js';
import { waitFor as waitUntil } from '../support/wait.js';

const waitFor = (cond: () => boolean, what: string, deadlineMs = 45_000) => waitUntil(cond, what, deadlineMs);


describe('watch: one per CODEX_HOME', { timeout: 120_000 }, () => {
  const { fake, transcript, secrets } = e2eSuite();

  it('a second watch refuses while the first lives, however old its lock looks, and starts at once after the first is SIGKILLed', async () => {
    const sb = codexSandbox(onTestFinished);
    const env = { CODEX_AUTH_OPENAI_BASE_URL: fake.openaiBaseUrl, CODEX_AUTH_CHATGPT_BASE_URL: fake.chatgptBaseUrl, CODEX_REFRESH_TOKEN_URL_OVERRIDE: fake.refreshUrl };
    const auth = async (args: string[]) => {
      const r = await runBin(args, { home: sb.home, codexHome: sb.codexHome, env });
      transcript.push(r.stdout, r.stderr);
      return r;
    };
    // A registry with one (fabricated) login.
    const doc = fake.addChatgptAccount({ email: 'watch-lock@example.com', userId: 'user-watch-lock', accountId: 'acc-watch-lock' });
    secrets.push(doc.tokens.refresh_token, doc.tokens.access_token);
    const file = path.join(sb.home, 'login.json');
    fs.writeFileSync(file, JSON.stringify(doc), { mode: 0o600 });
    const imp = await auth(['import', file]);
    expect(imp.code, explain(imp)).toBe(0);

    const watchLock = path.join(sb.codexHome, 'codex-auth', 'watch.lock');
    const startWatch = () => {
      const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [BIN, 'watch', '--interval', '3600', '--json'], {
        env: isolatedEnv(sb.home, { ...keyringEnv(), CODEX_HOME: sb.codexHome, ...env }),
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
      onTestFinished(() => {
        child.kill('SIGKILL');
      });
      const started = async () => {
        await waitFor(() => out.includes('"event":"start"') || child.exitCode !== null, 'the watch loop to start');
        transcript.push(out, err);
        expect(out, err).toContain('"event":"start"');
      };
      return { child, exited, started, output: () => out + err };
    };

    const first = startWatch();
    await first.started();
    // The first watch's lock made to look older than any stale age the former lock had (5 minutes):
    // an old owner record and a file untouched for a day. It is still the first watch's.
    fs.writeFileSync(watchLock, JSON.stringify({ pid: first.child.pid, host: os.hostname(), at: 0 }));
    const longAgo = new Date(Date.now() - 24 * 3600_000);
    fs.utimesSync(watchLock, longAgo, longAgo);

    const second = await auth(['watch', '--interval', '3600']);
    expect(second.code, explain(second)).toBe(1);
    expect(second.stderr).toBe(`error: Another "codex-auth watch" is already running for ${sb.codexHome}; one is enough.\n`);
    expect(first.child.exitCode).toBeNull();

    first.child.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // At once: nothing to wait out, nothing stale to delete first.
    const third = startWatch();
    await third.started();
    expect(third.output()).not.toContain('already running');
    // ...and it holds the lock now: yet another one refuses.
    const fourth = await auth(['watch', '--interval', '3600']);
    expect(fourth.code, explain(fourth)).toBe(1);
    expect(fourth.stderr).toContain('already running');

    third.child.kill('SIGTERM');
    expect(await third.exited).toEqual({ code: 0, signal: null });
    // Released on exit; the lock file itself stays (never deleted while it could be in use).
    expect(fs.existsSync(watchLock)).toBe(true);
    expect(spawnSync('flock', ['-n', '-x', watchLock, 'true']).status).toBe(0);
  });
});
