/**
 * Security properties of the built binary:
 * - files 0600 and folders 0700 even under `umask 000`, for everything codex-auth creates;
 * - a warning when Codex's auth.json can be read by others;
 * - secrets never in the argv (or environment) of child processes: the `codex login` it spawns and
 *   every descendant, and the flock helpers of a switch, read from /proc while they run;
 * - no secret in any output, in --debug output, in the registry or in the events log; an API key
 *   kept in the keyring never lands in a file (backups included);
 * - planted symlinks (lock files, the events log, secret files, auth.json, backups) never make
 *   codex-auth write to the file they point at.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import Module from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireKeyring } from '../support/bin.js';
import { CODEX_BIN, codexAvailable } from '../support/codex.js';
import { FakeOpenAI } from '../support/fake-openai.js';
import { findSecrets } from '../support/inprocess.js';
import { type ChatgptAuthDoc, fakeApiKey } from '../support/jwt.js';
import { assertBuilt, type BinRun, explain, readRegistry, runNode, sleep, walk } from '../torture/helpers.js';

const keyring = requireKeyring();
let fake: FakeOpenAI;
const transcript: string[] = [];
const secrets: string[] = [];
const roots: string[] = [];
let n = 0;

beforeAll(async () => {
  assertBuilt();
  fake = await FakeOpenAI.start();
});
afterAll(async () => {
  await fake.close();
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
  // The final scan: every stdout and stderr this suite captured, against every secret it used.
  expect(findSecrets(transcript, secrets)).toEqual([]);
});

interface World {
  root: string;
  home: string;
  codexHome: string;
  authHome: string;
  env: Record<string, string>;
  run(args: string[], o?: { input?: string; wrap?: string; env?: Record<string, string>; onSpawn?: (pid: number) => void }): Promise<BinRun>;
  chatgpt(name: string, opts?: { accessExp?: number }): ChatgptAuthDoc;
  key(name: string): string;
  file(name: string, doc: unknown): string;
}

function world(opts: { codexHomeExists?: boolean } = {}): World {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-sec-'));
  roots.push(root);
  const home = path.join(root, 'home');
  fs.mkdirSync(home);
  const codexHome = path.join(home, '.codex');
  if (opts.codexHomeExists !== false) fs.mkdirSync(codexHome, { mode: 0o700 });
  const env = { CODEX_AUTH_OPENAI_BASE_URL: fake.openaiBaseUrl, CODEX_AUTH_CHATGPT_BASE_URL: fake.chatgptBaseUrl, CODEX_REFRESH_TOKEN_URL_OVERRIDE: fake.refreshUrl, CODEX_AUTH_HTTP_TIMEOUT_MS: '5000' };
  const w: World = {
    root,
    home,
    codexHome,
    authHome: path.join(codexHome, 'codex-auth'),
    env,
    async run(args, o = {}) {
      // Without CODEX_HOME in the environment when the test wants codex-auth to create ~/.codex itself.
      const r = await runNode(args, {
        home,
        codexHome: opts.codexHomeExists === false ? '' : codexHome,
        env: { ...env, ...o.env },
        ...(o.input !== undefined ? { input: o.input } : {}),
        ...(o.wrap !== undefined ? { wrap: o.wrap } : {}),
        ...(o.onSpawn ? { onSpawn: o.onSpawn } : {}),
      });
      transcript.push(r.stdout, r.stderr);
      return r;
    },
    chatgpt(name, o = {}) {
      n += 1;
      const doc = fake.addChatgptAccount({ email: `${name}-${n}@example.com`, userId: `user-${name}-${n}`, accountId: `acc-${name}-${n}`, ...(o.accessExp !== undefined ? { accessExp: o.accessExp } : {}) });
      secrets.push(doc.tokens.refresh_token, doc.tokens.access_token, doc.tokens.id_token);
      return doc;
    },
    key(name) {
      n += 1;
      const k = fakeApiKey(`sec-${name}-${n}`);
      secrets.push(k);
      fake.addApiKey(k, { id: `user-${name}-${n}`, email: `${name}-${n}@example.com` });
      return k;
    },
    file(name, doc) {
      const f = path.join(root, name);
      fs.writeFileSync(f, typeof doc === 'string' ? doc : JSON.stringify(doc));
      return f;
    },
  };
  return w;
}

/** Tokens the fake issued by refreshing: secrets too. */
function issuedSecrets(): string[] {
  return fake.refreshAttempts().flatMap((a) => ['refresh_token', 'access_token', 'id_token'].map((k) => String(a.body[k] ?? ''))).filter((s) => s.length > 8);
}

/** Every file codex-auth can create or write under CODEX_HOME: mode 0600; every folder 0700. */
function expectPrivate(root: string, label: string): void {
  const st = fs.statSync(root);
  expect((st.mode & 0o777).toString(8), `${label}: ${root}`).toBe('700');
  for (const rel of walk(root)) {
    const p = path.join(root, rel);
    const s = fs.lstatSync(p);
    const mode = (s.mode & 0o777).toString(8);
    if (s.isDirectory()) expect(mode, `${label}: folder ${rel}`).toBe('700');
    else expect(mode, `${label}: file ${rel}`).toBe('600');
  }
}

// ---------------------------------------------------------------------------------- permissions

describe('permissions under umask 000', () => {
  it('import, switch, add-api-key --insecure-storage, refresh, fallback: 0600 files, 0700 folders — ~/.codex included', async () => {
    const w = world({ codexHomeExists: false });
    const wrap = 'umask 000';
    const a = w.chatgpt('perm-a');
    const b = w.chatgpt('perm-b');
    const k = w.key('perm');
    // ~/.codex does not exist yet: codex-auth creates it, and its own home inside.
    let r = await w.run(['import', w.file('a.json', a), w.file('b.json', b)], { wrap });
    expect(r.code, explain(r)).toBe(0);
    expect(fs.existsSync(w.codexHome)).toBe(true);
    r = await w.run(['switch', 'perm-a'], { wrap });
    expect(r.code, explain(r)).toBe(0);
    r = await w.run(['switch', 'perm-b'], { wrap });
    expect(r.code, explain(r)).toBe(0);
    r = await w.run(['add-api-key', '-', '--insecure-storage'], { wrap, input: k });
    expect(r.code, explain(r)).toBe(0);
    r = await w.run(['refresh', '--force'], { wrap });
    expect(r.code, explain(r)).toBe(0);
    r = await w.run(['alias', 'perm-a', 'personal'], { wrap });
    expect(r.code, explain(r)).toBe(0);
    // An automatic fallback writes the events log: the active account is exhausted.
    r = await w.run(['fallback', 'enable'], { wrap });
    expect(r.code, explain(r)).toBe(0);
    fake.setUsage(b.tokens.account_id, { primary: { usedPercent: 100, resetAfterSeconds: 3600 }, secondary: { usedPercent: 100, resetAfterSeconds: 86400 }, limitReached: true });
    fake.setUsage(a.tokens.account_id, { primary: { usedPercent: 100, resetAfterSeconds: 3600 }, limitReached: true });
    r = await w.run(['watch', '--once'], { wrap });
    expect(r.code, explain(r)).toBe(0);
    secrets.push(...issuedSecrets());

    const names = walk(w.codexHome);
    for (const expected of ['auth.json', 'auth.lock', 'auth.json.lock', 'codex-auth/registry.json', 'codex-auth/accounts', 'codex-auth/backups', 'codex-auth/locks', 'codex-auth/events.jsonl']) {
      expect(names, `codex-auth created ${expected}`).toContain(expected);
    }
    expect(fs.readdirSync(path.join(w.authHome, 'accounts')).length).toBe(3);
    expect(fs.readdirSync(path.join(w.authHome, 'backups')).length).toBeGreaterThan(0);
    expectPrivate(w.codexHome, 'umask 000');
    // Node's compile cache (Node 22.1+) is code codex-auth runs: it lives in a 0700 folder of ours,
    // so nobody else can read or write what Node puts inside (with the umask's modes).
    const cache = path.join(w.home, '.cache', 'codex-auth');
    if (typeof (Module as { enableCompileCache?: unknown }).enableCompileCache === 'function') {
      expect((fs.statSync(cache).mode & 0o777).toString(8), `umask 000, compile cache: ${cache}`).toBe('700');
      expect(fs.readdirSync(path.join(cache, 'compile-cache')).length).toBeGreaterThan(0);
    }
    // The API key lives in a 0600 file here (--insecure-storage), never in the registry.
    expect(fs.readFileSync(path.join(w.authHome, 'registry.json'), 'utf8')).not.toContain(k);
  });
});

describe('auth.json readable by others', () => {
  it.each([
    [0o644, 'every user'],
    [0o640, 'its group'],
    [0o604, 'every user'],
  ])('mode %s: list warns with the fix and still works', async (mode, who) => {
    const w = world();
    const a = w.chatgpt('wide');
    fs.writeFileSync(path.join(w.codexHome, 'auth.json'), JSON.stringify(a));
    fs.chmodSync(path.join(w.codexHome, 'auth.json'), mode);
    const r = await w.run(['list']);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stderr).toContain(`warning: ${path.join(w.codexHome, 'auth.json')} can be read by ${who} (mode 0${mode.toString(8)}); fix it: chmod 600 "${path.join(w.codexHome, 'auth.json')}"`);
    expect(r.stderr.match(/can be read by/g)?.length).toBe(1);
  });

  it('no warning for 0600', async () => {
    const w = world();
    fs.writeFileSync(path.join(w.codexHome, 'auth.json'), JSON.stringify(w.chatgpt('tight')), { mode: 0o600 });
    const r = await w.run(['list']);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stderr).not.toContain('can be read by');
  });
});

// ---------------------------------------------------------------------------------- argv of children

interface Seen {
  pid: number;
  cmdline: string;
  environ: string;
}

/** The pid's descendants right now (from /proc/<pid>/stat's ppid). */
function descendants(rootPid: number): number[] {
  const kids = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    kids.set(ppid, [...(kids.get(ppid) ?? []), Number(name)]);
  }
  const out: number[] = [];
  const queue = [rootPid];
  while (queue.length > 0) {
    const p = queue.shift() as number;
    for (const c of kids.get(p) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

function readProc(pid: number, what: 'cmdline' | 'environ'): string | null {
  try {
    return fs.readFileSync(`/proc/${pid}/${what}`).toString('utf8').replaceAll('\0', ' ');
  } catch {
    return null;
  }
}

/** Poll the process tree under `pid` every few ms until `done` settles; every cmdline and environ seen. */
async function watchTree(pid: () => number | undefined, done: Promise<unknown>): Promise<Seen[]> {
  const seen = new Map<string, Seen>();
  let finished = false;
  void done.finally(() => {
    finished = true;
  });
  while (!finished) {
    const root = pid();
    if (root !== undefined) {
      for (const p of [root, ...descendants(root)]) {
        const cmdline = readProc(p, 'cmdline');
        const environ = readProc(p, 'environ');
        if (cmdline === null || cmdline === '') continue;
        seen.set(`${p}:${cmdline}`, { pid: p, cmdline, environ: environ ?? '' });
      }
    }
    await sleep(3);
  }
  return [...seen.values()];
}

describe('secrets never in the argv of child processes', () => {
  it.skipIf(keyring.skip || !codexAvailable())('login --with-api-key: the key reaches codex on stdin only, never argv or environment', async () => {
    const w = world();
    const k = w.key('login-argv');
    const wrapper = path.join(w.root, 'codex-wrapper.sh');
    const mark = path.join(w.root, 'wrapper-started');
    // Stays alive a moment so its own cmdline can be read, then becomes the real codex.
    fs.writeFileSync(wrapper, `#!/bin/sh\ntouch "${mark}"\nsleep 0.6\nexec "${CODEX_BIN}" "$@"\n`, { mode: 0o755 });
    let pid: number | undefined;
    const running = w.run(['login', '--with-api-key', '--alias', 'argv-check'], { input: `${k}\n`, env: { CODEX_AUTH_CODEX_BIN: wrapper }, onSpawn: (p) => (pid = p) });
    const seen = await watchTree(() => pid, running);
    const r = await running;
    expect(r.code, explain(r)).toBe(0);
    expect(fs.existsSync(mark)).toBe(true);
    const cmdlines = seen.map((s) => s.cmdline);
    expect(cmdlines.some((c) => c.includes('codex-wrapper.sh') && c.includes('login') && c.includes('--with-api-key')), cmdlines.join('\n')).toBe(true);
    expect(cmdlines.some((c) => !c.includes('codex-wrapper.sh') && /codex/.test(c) && c.includes('login')), `the real codex was seen too:\n${cmdlines.join('\n')}`).toBe(true);
    for (const s of seen) {
      expect(s.cmdline.includes(k), `key in argv of ${s.cmdline}`).toBe(false);
      expect(s.environ.includes(k), `key in environment of ${s.cmdline}`).toBe(false);
    }
    // And the key really went through: codex wrote it, codex-auth imported it.
    const list = await w.run(['list', '--json']);
    expect(JSON.parse(list.stdout).accounts.map((a: { alias: string }) => a.alias)).toContain('argv-check');
  });

  it("switch: the flock helpers holding Codex's locks carry no token in argv or environment", async () => {
    const w = world();
    const a = w.chatgpt('flock-a');
    const b = w.chatgpt('flock-b');
    fs.writeFileSync(path.join(w.codexHome, 'auth.json'), JSON.stringify(a), { mode: 0o600 });
    expect((await w.run(['import', w.file('b.json', b)])).code).toBe(0);
    // Codex (stand-in) holds auth.lock for a moment, so the helper is alive long enough to be seen.
    const held = path.join(w.root, 'held');
    const holder = spawn('flock', ['-x', path.join(w.codexHome, 'auth.lock'), 'sh', '-c', `touch "${held}"; sleep 0.5`], { stdio: 'ignore' });
    const holderDone = new Promise((res) => holder.on('exit', res));
    for (let i = 0; i < 200 && !fs.existsSync(held); i += 1) await sleep(5);
    let pid: number | undefined;
    const running = w.run(['switch', 'flock-b', '--debug'], { onSpawn: (p) => (pid = p) });
    const seen = await watchTree(() => pid, running);
    const r = await running;
    await holderDone;
    expect(r.code, explain(r)).toBe(0);
    // The helper waiting for auth.lock: it locks the descriptor it inherited (fd 3), so no path either.
    expect(seen.some((s) => /(^|\/)flock -x -w \d+ -E 75 3\s*$/.test(s.cmdline)), seen.map((s) => s.cmdline).join('\n')).toBe(true);
    for (const s of seen) {
      for (const t of [a.tokens.refresh_token, a.tokens.access_token, b.tokens.refresh_token, b.tokens.access_token]) {
        expect(s.cmdline.includes(t), `token in argv of ${s.cmdline}`).toBe(false);
        expect(s.environ.includes(t), `token in environment of ${s.cmdline}`).toBe(false);
      }
    }
  });
});

// ---------------------------------------------------------------------------------- secrets at rest

describe('no secret in outputs, the registry or the events log', () => {
  it('a whole session with --debug and --json: every output, registry.json and events.jsonl are clean', async () => {
    const w = world();
    const a = w.chatgpt('scan-a');
    const b = w.chatgpt('scan-b', { accessExp: Math.floor(Date.now() / 1000) + 60 });
    const k = w.key('scan');
    fs.writeFileSync(path.join(w.codexHome, 'auth.json'), JSON.stringify(a), { mode: 0o600 });
    const steps: string[][] = [
      ['import', w.file('b.json', b), '--debug'],
      ['list', '--json', '--debug'],
      ['list', '--refresh', '--debug'],
      ['status', '--json', '--debug'],
      ['switch', 'scan-b', '--debug', '--json'],
      ['refresh', '--debug'],
      ['switch', '-', '--debug'],
      ['switch', 'nobody-matches-this', '--debug'],
    ];
    for (const s of steps) await w.run(s);
    expect((await w.run(['add-api-key', '-', '--insecure-storage', '--debug'], { input: k })).code).toBe(0);
    expect((await w.run(['fallback', 'enable', '--debug'])).code).toBe(0);
    fake.setUsage(a.tokens.account_id, { primary: { usedPercent: 100, resetAfterSeconds: 3600 }, limitReached: true });
    fake.setUsage(b.tokens.account_id, { primary: { usedPercent: 100, resetAfterSeconds: 3600 }, limitReached: true });
    const once = await w.run(['watch', '--once', '--json', '--debug']);
    expect(once.code, explain(once)).toBe(0);
    expect((await w.run(['fallback', 'status', '--json', '--debug'])).code).toBe(0);
    expect((await w.run(['list', '--debug'])).code).toBe(0);
    secrets.push(...issuedSecrets());
    const all = [...secrets];
    // The registry and the events log hold no secret at all (of any account, any generation).
    const reg = fs.readFileSync(path.join(w.authHome, 'registry.json'), 'utf8');
    readRegistry(path.join(w.authHome, 'registry.json'));
    expect(findSecrets([reg], all)).toEqual([]);
    const events = fs.readFileSync(path.join(w.authHome, 'events.jsonl'), 'utf8');
    expect(events).toContain('"event":"switch"');
    expect(findSecrets([events], all)).toEqual([]);
    // Nor does anything else codex-auth keeps that is not a credential store by design.
    for (const rel of walk(w.authHome)) {
      if (/^(accounts|backups)(\/|$)/.test(rel) || fs.lstatSync(path.join(w.authHome, rel)).isDirectory()) continue;
      expect(findSecrets([fs.readFileSync(path.join(w.authHome, rel), 'utf8')], all), rel).toEqual([]);
    }
    expect(findSecrets(transcript, all)).toEqual([]);
  });

  it.skipIf(keyring.skip)('an API key kept in the keyring never lands in a file: not in backups, the registry or the accounts folder', async () => {
    const w = world();
    const a = w.chatgpt('kr-a');
    const k = w.key('kr');
    fs.writeFileSync(path.join(w.codexHome, 'auth.json'), JSON.stringify(a), { mode: 0o600 });
    expect((await w.run(['list'])).code).toBe(0);
    const add = await w.run(['add-api-key', '-'], { input: k });
    expect(add.code, explain(add)).toBe(0);
    const keyEmail = `kr-${n}@example.com`;
    for (const q of [keyEmail, 'kr-a', keyEmail, 'kr-a']) {
      const r = await w.run(['switch', q]);
      expect(r.code, explain(r)).toBe(0);
    }
    expect(fs.readdirSync(path.join(w.authHome, 'backups')).length, 'the ChatGPT login was backed up').toBeGreaterThan(0);
    for (const rel of walk(w.authHome)) {
      const p = path.join(w.authHome, rel);
      if (fs.lstatSync(p).isDirectory()) continue;
      expect(fs.readFileSync(p, 'utf8').includes(k), `the keyring-stored key was written to ${rel}`).toBe(false);
    }
  });
});

// ---------------------------------------------------------------------------------- planted symlinks

describe('planted symlinks are never written through', () => {
  function victim(w: World): { path: string; unchanged: () => void } {
    const p = path.join(w.root, 'victim.txt');
    fs.writeFileSync(p, 'VICTIM: must never change\n', { mode: 0o600 });
    const old = new Date(Date.now() - 3600_000);
    fs.utimesSync(p, old, old);
    const before = fs.statSync(p);
    return {
      path: p,
      unchanged: () => {
        const now = fs.statSync(p);
        expect(fs.readFileSync(p, 'utf8')).toBe('VICTIM: must never change\n');
        expect(now.mtimeMs).toBe(before.mtimeMs);
        expect(now.size).toBe(before.size);
      },
    };
  }

  it('a secret file pointing outside: replaced, never written through', async () => {
    const w = world();
    const a = w.chatgpt('sym-a');
    const b = w.chatgpt('sym-b');
    fs.writeFileSync(path.join(w.codexHome, 'auth.json'), JSON.stringify(a), { mode: 0o600 });
    expect((await w.run(['import', w.file('b.json', b)])).code).toBe(0);
    const v = victim(w);
    const reg = readRegistry(path.join(w.authHome, 'registry.json'));
    const refB = reg.accounts.find((x) => x.email?.startsWith('sym-b'))?.secret.ref as string;
    const sw = await w.run(['switch', 'sym-b']);
    expect(sw.code, explain(sw)).toBe(0);
    const rf = await w.run(['refresh', '--force']);
    expect(rf.code, explain(rf)).toBe(0);
    secrets.push(...issuedSecrets());
    // A secret file replaced by a symlink: the next save replaces the link, not its target.
    fs.rmSync(path.join(w.authHome, 'accounts', `${refB}.json`));
    fs.symlinkSync(v.path, path.join(w.authHome, 'accounts', `${refB}.json`));
    const newer = { ...b, tokens: { ...b.tokens, refresh_token: `${b.tokens.refresh_token}x` }, last_refresh: new Date(Date.now() + 60_000).toISOString() };
    secrets.push(newer.tokens.refresh_token);
    const imp = await w.run(['import', w.file('b2.json', newer)]);
    expect(imp.code, explain(imp)).toBe(0);
    expect(fs.lstatSync(path.join(w.authHome, 'accounts', `${refB}.json`)).isSymbolicLink()).toBe(false);
    v.unchanged();
  });

  it.each(['auth.lock', 'auth.json.lock'])("%s as a link (to a file outside, or dangling): the switch refuses in one clear line and changes nothing", async (name) => {
    for (const dangling of [false, true]) {
      const w = world();
      const a = w.chatgpt('lk-a');
      const b = w.chatgpt('lk-b');
      fs.writeFileSync(path.join(w.codexHome, 'auth.json'), JSON.stringify(a), { mode: 0o600 });
      expect((await w.run(['import', w.file('b.json', b)])).code).toBe(0);
      const v = victim(w);
      const target = dangling ? path.join(w.root, 'would-be-created') : v.path;
      fs.rmSync(path.join(w.codexHome, name), { force: true });
      fs.symlinkSync(target, path.join(w.codexHome, name));
      const before = fs.readFileSync(path.join(w.codexHome, 'auth.json'), 'utf8');
      const r = await w.run(['switch', 'lk-b']);
      expect(r.code, explain(r)).toBe(1);
      expect(r.stderr).toBe(`error: ${path.join(w.codexHome, name)} is a symbolic link, not Codex's lock file; nothing was changed. Remove it (rm "${path.join(w.codexHome, name)}") and try again.\n`);
      expect(fs.readFileSync(path.join(w.codexHome, 'auth.json'), 'utf8')).toBe(before);
      v.unchanged();
      expect(fs.existsSync(path.join(w.root, 'would-be-created'))).toBe(false);
    }
  });

  it('auth.json itself, the events log and planted backup names pointing outside', async () => {
    const w = world();
    const a = w.chatgpt('symb-a');
    const b = w.chatgpt('symb-b');
    const k = w.key('symb');
    fs.writeFileSync(path.join(w.codexHome, 'auth.json'), JSON.stringify(a), { mode: 0o600 });
    expect((await w.run(['import', w.file('b.json', b)])).code).toBe(0);
    expect((await w.run(['add-api-key', '-', '--insecure-storage'], { input: k })).code).toBe(0);
    const v = victim(w);
    // Backups are named by the time of the switch: plant a link at every name of the next 3 seconds.
    const backups = path.join(w.authHome, 'backups');
    fs.mkdirSync(backups, { recursive: true, mode: 0o700 });
    const t0 = Date.now();
    for (let ms = 0; ms < 3000; ms += 1) {
      const stamp = new Date(t0 + ms).toISOString().replace(/[:.]/g, '-');
      fs.symlinkSync(v.path, path.join(backups, `auth-${stamp}.json`));
    }
    let r = await w.run(['switch', 'symb-b']);
    expect(r.code, explain(r)).toBe(0);
    // auth.json replaced by a link to the victim: a switch replaces the link, never writes the target.
    fs.rmSync(path.join(w.codexHome, 'auth.json'));
    fs.symlinkSync(v.path, path.join(w.codexHome, 'auth.json'));
    r = await w.run(['switch', 'symb-a']);
    expect(r.code, explain(r)).toBe(0);
    expect(fs.lstatSync(path.join(w.codexHome, 'auth.json')).isSymbolicLink()).toBe(false);
    // The events log as a link: the fallback switch must not append to the victim.
    fs.symlinkSync(v.path, path.join(w.authHome, 'events.jsonl'));
    expect((await w.run(['fallback', 'enable'])).code).toBe(0);
    fake.setUsage(a.tokens.account_id, { primary: { usedPercent: 100, resetAfterSeconds: 3600 }, limitReached: true });
    fake.setUsage(b.tokens.account_id, { primary: { usedPercent: 100, resetAfterSeconds: 3600 }, limitReached: true });
    r = await w.run(['watch', '--once']);
    // The switch is made; the log it could not write is a clear warning, not an "unexpected error".
    expect(r.code, explain(r)).toBe(0);
    expect(r.stderr).toContain(`warning: Could not append to the events log ${path.join(w.authHome, 'events.jsonl')} (it is a symbolic link); the switch itself was made.`);
    expect(r.stderr).not.toMatch(/unexpected error|\bat .*:\d+:\d+/);
    expect(fs.lstatSync(path.join(w.authHome, 'events.jsonl')).isSymbolicLink()).toBe(true);
    v.unchanged();
    for (const f of fs.readdirSync(backups)) {
      const st = fs.lstatSync(path.join(backups, f));
      if (!st.isSymbolicLink()) expect((st.mode & 0o777).toString(8)).toBe('600');
    }
  });

  it.each([['registry.lock', 'switch'], ['the token locks', 'refresh --force']])(
    "%s as a link (to a file outside, or dangling): %s refuses in bounded time, saying which file to remove; nothing written through or created; fine once removed",
    async (which) => {
      for (const dangling of [false, true]) {
        const w = world();
        const a = w.chatgpt('lko-a');
        const b = w.chatgpt('lko-b');
        fs.writeFileSync(path.join(w.codexHome, 'auth.json'), JSON.stringify(a), { mode: 0o600 });
        expect((await w.run(['import', w.file('b.json', b)])).code).toBe(0);
        const reg = readRegistry(path.join(w.authHome, 'registry.json'));
        const v = victim(w);
        const target = dangling ? path.join(w.root, 'would-be-created') : v.path;
        fs.mkdirSync(path.join(w.authHome, 'locks'), { recursive: true, mode: 0o700 });
        const links = which === 'registry.lock' ? [path.join(w.authHome, 'registry.lock')] : reg.accounts.map((x) => path.join(w.authHome, 'locks', `${x.secret.ref}.lock`));
        for (const l of links) {
          fs.rmSync(l, { force: true });
          fs.symlinkSync(target, l);
        }
        const args = which === 'registry.lock' ? ['switch', 'lko-b'] : ['refresh', '--force'];
        const before = fs.readFileSync(path.join(w.codexHome, 'auth.json'), 'utf8');
        const r = await runNode(args, { home: w.home, codexHome: w.codexHome, env: w.env, timeoutMs: 15_000 });
        transcript.push(r.stdout, r.stderr);
        expect(r.signal, 'a lock link must not make codex-auth hang until killed').toBeNull();
        expect(r.code, explain(r)).toBe(1);
        for (const l of links) expect(r.stdout + r.stderr, explain(r)).toContain(`${l} is a symbolic link, not codex-auth's lock file; nothing was changed. Remove it (rm "${l}") and try again`);
        expect(fake.refreshAttempts().some((x) => x.body.refresh_token === a.tokens.refresh_token || x.body.refresh_token === b.tokens.refresh_token)).toBe(false);
        expect(fs.readFileSync(path.join(w.codexHome, 'auth.json'), 'utf8')).toBe(before);
        v.unchanged();
        expect(fs.existsSync(path.join(w.root, 'would-be-created')), 'codex-auth created a file through a planted link').toBe(false);
        // The fix it names works.
        for (const l of links) fs.rmSync(l);
        const again = await w.run(args);
        secrets.push(...issuedSecrets());
        expect(again.code, explain(again)).toBe(0);
        for (const l of links) expect(fs.lstatSync(l).isFile(), `${l} is a lock file now`).toBe(true);
      }
    },
  );
});
