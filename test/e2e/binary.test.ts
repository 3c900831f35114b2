/** The built binary, run as a user would: isolated HOME and CODEX_HOME, a fake OpenAI on 127.0.0.1. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, BIN, runBin } from '../support/bin.js';
import { FakeOpenAI } from '../support/fake-openai.js';
import { findSecrets } from '../support/inprocess.js';
import { apiKeyAuth, chatgptAuth, fakeApiKey } from '../support/jwt.js';

const ALICE = { email: 'alice@example.com', userId: 'user-alice', accountId: 'acc-alice', plan: 'plus' };
const BOB = { email: 'bob@example.com', userId: 'user-bob', accountId: 'acc-bob', plan: 'pro' };

let fake: FakeOpenAI;
let root: string;
let home: string;
let codexHome: string;
const transcript: string[] = [];
const secrets: string[] = [];

async function run(args: string[], extra: { env?: Record<string, string>; input?: string } = {}) {
  const r = await runBin(args, { home, codexHome, env: { CODEX_AUTH_OPENAI_BASE_URL: fake.openaiBaseUrl, CODEX_AUTH_HTTP_TIMEOUT_MS: '1500', ...extra.env }, ...(extra.input !== undefined ? { input: extra.input } : {}) });
  transcript.push(r.stdout, r.stderr);
  return r;
}

function write(name: string, doc: object | string): string {
  const p = path.join(root, name);
  fs.writeFileSync(p, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return p;
}

beforeAll(async () => {
  assertBuilt();
  fake = await FakeOpenAI.start();
});
afterAll(async () => {
  await fake.close();
  expect(findSecrets(transcript, secrets)).toEqual([]);
});
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-e2e-'));
  home = path.join(root, 'home');
  codexHome = path.join(home, '.codex');
  fs.mkdirSync(codexHome, { recursive: true });
});
afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe('the built binary', () => {
  it('prints its version and help with examples', async () => {
    const v = await run(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')).version);
    for (const cmd of ['list', 'import', 'switch', 'remove', 'alias', 'status']) {
      const h = await run([cmd, '--help']);
      expect(h.code).toBe(0);
      expect(h.stdout).toContain('Examples:');
      expect(h.stdout).toContain(`$ codex-auth ${cmd}`);
    }
  });

  it('works on a fresh machine with no ~/.codex at all, and creates nothing', async () => {
    fs.rmSync(codexHome, { recursive: true });
    const r = await runBin(['list'], { home });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('No accounts yet');
    expect(fs.existsSync(codexHome)).toBe(false);
  });

  it('imports, lists and switches end to end, without leaking secrets', async () => {
    const a = chatgptAuth(ALICE);
    const b = chatgptAuth(BOB);
    const key = fakeApiKey('e2e');
    secrets.push(a.tokens.refresh_token, a.tokens.access_token, b.tokens.refresh_token, b.tokens.access_token, key);
    fake.addApiKey(key, { id: 'user-e2e', email: 'e2e@example.com' });
    fs.writeFileSync(path.join(codexHome, 'auth.json'), JSON.stringify(a));
    const imp = await run(['import', write('b.json', b), write('k.json', apiKeyAuth(key))]);
    expect(imp.code).toBe(0);
    expect(imp.stderr).toContain("Imported Codex's current login");
    expect(imp.stderr).toContain('2 imported, 0 updated, 0 unchanged, 0 skipped.');
    const list = JSON.parse((await run(['list', '--json'])).stdout);
    expect(list.accounts.map((x: { email: string; kind: string }) => `${x.email}/${x.kind}`)).toEqual(['alice@example.com/chatgpt', 'bob@example.com/chatgpt', 'e2e@example.com/apikey']);
    const sw = await run(['switch', 'e2e']);
    expect(sw.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(codexHome, 'auth.json'), 'utf8'))).toEqual(apiKeyAuth(key));
    expect((await run(['switch', '-'])).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(codexHome, 'auth.json'), 'utf8'))).toEqual(a);
  });

  it('waits for Codex\'s flock on auth.lock before writing auth.json', async () => {
    const a = chatgptAuth(ALICE);
    const b = chatgptAuth(BOB);
    secrets.push(a.tokens.refresh_token, b.tokens.refresh_token);
    fs.writeFileSync(path.join(codexHome, 'auth.json'), JSON.stringify(a));
    expect((await run(['import', write('b.json', b)])).code).toBe(0);
    const held = path.join(root, 'held');
    const released = path.join(root, 'released');
    // Another process (standing in for Codex refreshing a token) holds the exclusive flock for 1.5 s.
    const holder = spawn('flock', ['-x', path.join(codexHome, 'auth.lock'), 'sh', '-c', `touch "${held}"; sleep 1.5; date +%s%N > "${released}"`], { stdio: 'ignore' });
    const holderExit = new Promise((r) => holder.on('exit', r));
    for (let i = 0; i < 200 && !fs.existsSync(held); i += 1) await new Promise((r) => setTimeout(r, 10));
    expect(fs.existsSync(held)).toBe(true);
    const sw = await run(['switch', 'bob']);
    expect(sw.code).toBe(0);
    // The switch could only finish after the holder let go: the release mark exists and predates auth.json.
    expect(fs.existsSync(released)).toBe(true);
    const releasedNs = BigInt(fs.readFileSync(released, 'utf8').trim());
    const writtenNs = fs.statSync(path.join(codexHome, 'auth.json'), { bigint: true }).mtimeNs;
    expect(writtenNs >= releasedNs - 5_000_000n).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(codexHome, 'auth.json'), 'utf8'))).toEqual(b);
    await holderExit;
  });

  it('gives up on /v1/me that never answers within the timeout, storing nothing', async () => {
    const key = fakeApiKey('hang');
    secrets.push(key);
    fake.addApiKey(key, {}, { hang: true });
    const r = await run(['import', write('k.json', apiKeyAuth(key))], { env: { CODEX_AUTH_HTTP_TIMEOUT_MS: '800' } });
    expect(r.code).toBe(1);
    expect(r.timedOut).toBe(false);
    expect(r.stdout).toContain('no answer from http://127.0.0.1');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(fs.existsSync(path.join(codexHome, 'codex-auth', 'registry.json'))).toBe(false);
  });

  it('reports an unwritable CODEX_HOME clearly and changes nothing', async () => {
    const a = chatgptAuth(ALICE);
    const b = chatgptAuth(BOB);
    secrets.push(a.tokens.refresh_token, b.tokens.refresh_token);
    fs.writeFileSync(path.join(codexHome, 'auth.json'), JSON.stringify(a));
    expect((await run(['import', write('b.json', b)])).code).toBe(0);
    const before = fs.readFileSync(path.join(codexHome, 'auth.json'), 'utf8');
    const registryBefore = fs.readFileSync(path.join(codexHome, 'codex-auth', 'registry.json'), 'utf8');
    let r;
    if (process.getuid?.() === 0) {
      // Root ignores permission bits: run the binary as nobody over a tree nobody owns.
      fs.chmodSync(root, 0o755);
      fs.chmodSync(home, 0o755);
      for (const p of [home, codexHome, path.join(codexHome, 'codex-auth'), ...fs.readdirSync(path.join(codexHome, 'codex-auth'), { recursive: true }).map((f) => path.join(codexHome, 'codex-auth', String(f)))]) fs.chownSync(p, 65534, 65534);
      fs.chownSync(path.join(codexHome, 'auth.json'), 65534, 65534);
      fs.chmodSync(codexHome, 0o500);
      const { runProcess, isolatedEnv } = await import('../support/codex.js');
      r = await runProcess('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, 'switch', 'bob'], {
        env: isolatedEnv(home, { CODEX_HOME: codexHome, CODEX_AUTH_HOME: path.join(codexHome, 'codex-auth') }),
        cwd: '/',
      });
      transcript.push(r.stdout, r.stderr);
    } else {
      fs.chmodSync(codexHome, 0o500);
      r = await run(['switch', 'bob'], { env: { CODEX_AUTH_HOME: path.join(codexHome, 'codex-auth') } });
    }
    fs.chmodSync(codexHome, 0o700);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Cannot write in .*\.codex \(EACCES on auth\.lock\); nothing was changed/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(fs.readFileSync(path.join(codexHome, 'auth.json'), 'utf8')).toBe(before);
    expect(fs.readFileSync(path.join(codexHome, 'codex-auth', 'registry.json'), 'utf8')).toBe(registryBefore);
  });
});
