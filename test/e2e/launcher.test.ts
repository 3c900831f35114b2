/**
 * bin/codex-auth.cjs: Node's compile cache where Node has one, and the way output reaches files,
 * pipes and closed pipes (written directly, not through Node's streams).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import Module from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isolatedEnv, runProcess } from '../support/codex.js';
import { assertBuilt, BIN, runBin } from '../support/bin.js';
import { chatgptAuth } from '../support/jwt.js';

let root: string;
let home: string;
let codexHome: string;

beforeAll(() => assertBuilt());
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-launcher-'));
  home = path.join(root, 'home');
  codexHome = path.join(home, '.codex');
  fs.mkdirSync(codexHome, { recursive: true });
  const a = chatgptAuth({ email: 'alice@example.com', userId: 'user-alice', accountId: 'acc-alice', plan: 'plus' });
  fs.writeFileSync(path.join(codexHome, 'auth.json'), JSON.stringify(a), { mode: 0o600 });
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const run = (args: string[], env: Record<string, string> = {}) => runBin(args, { home, codexHome, env });

// Node's own compile cache (module.enableCompileCache) exists from Node 22.1; on Node 20 the
// launcher runs without one.
const hasCompileCache = typeof (Module as { enableCompileCache?: unknown }).enableCompileCache === 'function';
const compileCacheDir = () => path.join(home, '.cache', 'codex-auth', 'compile-cache');
const cacheFiles = (dir: string): string[] => (fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()) : []);

describe("the launcher and Node's compile cache", () => {
  it.runIf(hasCompileCache)("keeps Node's compile cache in the user's cache directory; the output never changes", async () => {
    const outputs: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const r = await run(['list']);
      expect(r.code, r.stderr).toBe(0);
      outputs.push(r.stdout);
    }
    expect(new Set(outputs).size).toBe(1);
    expect(outputs[0]).toContain('alice@example.com');
    expect(cacheFiles(compileCacheDir()).length).toBeGreaterThan(0);
    // Nothing in the shared temporary directory's default place is needed.
    expect(fs.existsSync(path.join(root, 'node-compile-cache'))).toBe(false);
  });

  it.runIf(hasCompileCache)('XDG_CACHE_HOME moves it; NODE_DISABLE_COMPILE_CACHE=1 turns it off', async () => {
    const xdg = path.join(root, 'xdg');
    expect((await run(['list'], { XDG_CACHE_HOME: xdg })).code).toBe(0);
    expect(cacheFiles(path.join(xdg, 'codex-auth', 'compile-cache')).length).toBeGreaterThan(0);
    const r = await run(['list'], { NODE_DISABLE_COMPILE_CACHE: '1' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('alice@example.com');
    expect(cacheFiles(compileCacheDir())).toEqual([]);
  });

  it.runIf(hasCompileCache)('is kept in a 0700 folder of ours, and not at all in a folder others can write to', async () => {
    const r = await run(['list']);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.statSync(path.dirname(compileCacheDir())).mode & 0o777).toBe(0o700);
    fs.rmSync(path.dirname(compileCacheDir()), { recursive: true });
    fs.mkdirSync(path.dirname(compileCacheDir()), { mode: 0o700 });
    fs.chmodSync(path.dirname(compileCacheDir()), 0o777);
    const open = await run(['list']);
    expect(open.code, open.stderr).toBe(0);
    expect(open.stdout).toContain('alice@example.com');
    expect(fs.existsSync(compileCacheDir())).toBe(false);
    // A folder others may read but not write (an older codex-auth made it 0755) is fine.
    fs.chmodSync(path.dirname(compileCacheDir()), 0o755);
    expect((await run(['list'])).code).toBe(0);
    expect(cacheFiles(compileCacheDir()).length).toBeGreaterThan(0);
  });

  it('a rebuilt bundle of the same size and modification time runs its new code, never the cached old one', async () => {
    // A copy of the installation whose bundle is edited in place: same length, same mtime.
    const app = path.join(root, 'app');
    fs.mkdirSync(path.join(app, 'bin'), { recursive: true });
    fs.mkdirSync(path.join(app, 'dist'));
    fs.copyFileSync(BIN, path.join(app, 'bin', path.basename(BIN)));
    const bundle = path.join(app, 'dist', 'cli.cjs');
    fs.copyFileSync(path.join(path.dirname(BIN), '..', 'dist', 'cli.cjs'), bundle);
    fs.symlinkSync(path.join(path.dirname(BIN), '..', 'node_modules'), path.join(app, 'node_modules'));
    const runApp = (args: string[]) => runProcess(process.execPath, [path.join(app, 'bin', path.basename(BIN)), ...args], { env: isolatedEnv(home, { CODEX_HOME: codexHome }), cwd: home, timeoutMs: 30_000 });
    const before = await runApp(['--help']);
    expect(before.code, before.stderr).toBe(0);
    expect(before.stdout).toContain('Manage several OpenAI Codex CLI identities');
    expect((await runApp(['--help'])).stdout).toBe(before.stdout); // the second run reads the cache
    const st = fs.statSync(bundle);
    const text = fs.readFileSync(bundle, 'utf8');
    const edited = text.replace('Manage several OpenAI Codex CLI identities', 'Manage SEVERAL OPENAI CODEX CLI IDENTITIES');
    expect(edited.length).toBe(text.length);
    expect(edited).not.toBe(text);
    fs.writeFileSync(bundle, edited);
    fs.utimesSync(bundle, st.atime, st.mtime);
    expect(fs.statSync(bundle).size).toBe(st.size);
    const after = await runApp(['--help']);
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toContain('Manage SEVERAL OPENAI CODEX CLI IDENTITIES');
  });

  it('runs without a home directory to cache in', async () => {
    const r = await runBin(['--version'], { home, env: { HOME: '', XDG_CACHE_HOME: '' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('colours', () => {
  it('are on when FORCE_COLOR asks, on every Node the package admits (our own SGR codes, no ESM-only library)', async () => {
    const bob = chatgptAuth({ email: 'bob@example.com', userId: 'user-bob', accountId: 'acc-bob', plan: 'pro' });
    fs.writeFileSync(path.join(root, 'bob.json'), JSON.stringify(bob));
    expect((await run(['import', path.join(root, 'bob.json')])).code).toBe(0);
    const r = await run(['switch', 'bob'], { NO_COLOR: '', FORCE_COLOR: '1' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('\u001b[32m✓\u001b[39m'); // green
    const plain = await run(['switch', 'alice']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).not.toContain('\u001b[');
    expect(plain.stderr).toContain('✓');
  });
});

describe('the running-Codex warning of switch (a real scan of /proc)', () => {
  it.skipIf(process.platform !== 'linux')('names running codex processes — the native binary and the npm launcher — and nothing else', async () => {
    const bob = chatgptAuth({ email: 'bob@example.com', userId: 'user-bob', accountId: 'acc-bob', plan: 'pro' });
    fs.writeFileSync(path.join(root, 'bob.json'), JSON.stringify(bob));
    expect((await run(['import', path.join(root, 'bob.json')])).code).toBe(0);
    // Stand-ins: a program called codex; node running a script called codex.js; and a process that
    // only mentions codex in its arguments (not Codex). All on this CODEX_HOME (only those count),
    // and a codex on another CODEX_HOME, which does not count either.
    const env = { ...process.env, CODEX_HOME: codexHome };
    const bin = path.join(root, 'bin');
    fs.mkdirSync(bin);
    fs.copyFileSync('/bin/sleep', path.join(bin, 'codex'));
    fs.chmodSync(path.join(bin, 'codex'), 0o755);
    fs.writeFileSync(path.join(bin, 'codex.js'), 'setTimeout(() => {}, 30000);\n');
    const procs = [
      spawn(path.join(bin, 'codex'), ['30'], { stdio: 'ignore', env }),
      spawn(process.execPath, [path.join(bin, 'codex.js')], { stdio: 'ignore', env }),
      spawn('/bin/sleep', ['30', 'codex'], { stdio: 'ignore', env }),
      spawn(path.join(bin, 'codex'), ['30'], { stdio: 'ignore', env: { ...env, CODEX_HOME: path.join(root, 'other-codex-home') } }),
    ];
    try {
      await new Promise((r) => setTimeout(r, 300));
      const r = await run(['switch', 'bob', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const warning = (JSON.parse(r.stdout).warnings as string[]).find((w) => w.includes('running Codex'));
      expect(warning).toBeDefined();
      const pids = (/\(pid ([\d, ]+)\)/.exec(warning ?? '')?.[1] ?? '').split(', ').map(Number);
      expect(pids).toEqual(expect.arrayContaining([procs[0]?.pid, procs[1]?.pid]));
      expect(pids).not.toContain(procs[2]?.pid);
      expect(pids).not.toContain(procs[3]?.pid);
    } finally {
      for (const p of procs) p.kill('SIGKILL');
    }
  });
});

describe("switch under Node's --pending-deprecation", () => {
  it('switches without printing any deprecation warning', async () => {
    const bob = chatgptAuth({ email: 'bob@example.com', userId: 'user-bob', accountId: 'acc-bob', plan: 'pro' });
    fs.writeFileSync(path.join(root, 'bob.json'), JSON.stringify(bob));
    expect((await run(['import', path.join(root, 'bob.json')])).code).toBe(0);
    for (const who of ['bob', 'alice']) {
      const r = await run(['switch', who], { NODE_OPTIONS: '--pending-deprecation --throw-deprecation' });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/Deprecation|DEP0/);
      expect(JSON.parse(fs.readFileSync(path.join(codexHome, 'auth.json'), 'utf8')).tokens.account_id).toBe(who === 'bob' ? 'acc-bob' : 'acc-alice');
    }
  });
});

describe('output to files and pipes', () => {
  it('to a file: everything, in order, and the exit code', async () => {
    const out = path.join(root, 'out.json');
    const fd = fs.openSync(out, 'w');
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'list', '--json'], { env: isolatedEnv(home, { CODEX_HOME: codexHome }), cwd: home, stdio: ['ignore', fd, 'pipe'] });
      child.on('exit', resolve);
    });
    fs.closeSync(fd);
    expect(code).toBe(0);
    const doc = JSON.parse(fs.readFileSync(out, 'utf8'));
    expect(doc.accounts.map((a: { email: string }) => a.email)).toEqual(['alice@example.com']);
  });

  it('to a pipe its reader has closed (`| head -0`): no EPIPE crash, no stack trace, exit 0', async () => {
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const env = isolatedEnv(home, { CODEX_HOME: codexHome });
      const child = spawn(process.execPath, [BIN, 'list'], { env, cwd: home, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.destroy(); // the reader is gone before the first byte: every write meets EPIPE
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(r.stderr).not.toMatch(/EPIPE|\n\s+at /);
    expect(r.code).toBe(0);
  });
});
