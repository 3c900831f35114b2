/**
 * bin/codex-auth.cjs: the compiled-code cache it keeps per kind of run, what it trusts, and the way
 * output reaches files, pipes and closed pipes (written directly, not through Node's streams).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isolatedEnv } from '../support/codex.js';
import { assertBuilt, BIN, runBin } from '../support/bin.js';
import { chatgptAuth } from '../support/jwt.js';

let root: string;
let home: string;
let codexHome: string;
let cacheDir: string;

beforeAll(() => assertBuilt());
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-launcher-'));
  home = path.join(root, 'home');
  codexHome = path.join(home, '.codex');
  cacheDir = path.join(home, '.cache', 'codex-auth');
  fs.mkdirSync(codexHome, { recursive: true });
  const a = chatgptAuth({ email: 'alice@example.com', userId: 'user-alice', accountId: 'acc-alice', plan: 'plus' });
  fs.writeFileSync(path.join(codexHome, 'auth.json'), JSON.stringify(a), { mode: 0o600 });
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const run = (args: string[], env: Record<string, string> = {}) => runBin(args, { home, codexHome, env });
const caches = () => (fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir).sort() : []);
const ofKind = (kind: string) => caches().filter((f) => f.startsWith(`cli-${kind}-`));

describe('the compiled-code cache', () => {
  it('is written per kind of run, in three generations, then only read; the output never changes', async () => {
    const outputs: string[] = [];
    for (let i = 1; i <= 3; i += 1) {
      const r = await run(['list']);
      expect(r.code, r.stderr).toBe(0);
      outputs.push(r.stdout);
      expect(ofKind('list')).toEqual([expect.stringMatching(new RegExp(`\\.${i}\\.v8$`))]);
    }
    const file = path.join(cacheDir, ofKind('list')[0] as string);
    const before = fs.statSync(file);
    const r = await run(['list']);
    outputs.push(r.stdout);
    const after = fs.statSync(file);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
    expect(new Set(outputs).size).toBe(1);
    expect(outputs[0]).toContain('alice@example.com');

    // Another kind gets a cache of its own, and leaves the list cache alone.
    expect((await run(['--version'])).code).toBe(0);
    expect((await run(['status'])).code).toBe(0);
    expect(ofKind('version')).toHaveLength(1);
    expect(ofKind('status')).toHaveLength(1);
    expect(ofKind('list')).toEqual([path.basename(file)]);
    // Private: compiled code is code.
    expect(fs.statSync(cacheDir).mode & 0o777).toBe(0o700);
    for (const f of caches()) expect(fs.statSync(path.join(cacheDir, f)).mode & 0o777).toBe(0o600);
  });

  it('the commander program (any other command) is cached too, beside the entry bundle', async () => {
    const outputs: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      const r = await run(['fallback', 'status']);
      expect(r.code, r.stderr).toBe(0);
      outputs.push(r.stdout);
    }
    expect(new Set(outputs).size).toBe(1);
    expect(outputs[0]).toContain('Fallback');
    expect(caches().filter((f) => f.startsWith('program-other-'))).toEqual([expect.stringMatching(/\.3\.v8$/)]);
    expect(ofKind('other')).toEqual([expect.stringMatching(/\.3\.v8$/)]);
    // A fast command does not load the program at all.
    expect((await run(['list'])).code).toBe(0);
    expect(caches().filter((f) => f.startsWith('program-'))).toHaveLength(1);
  });

  it('a corrupt cache is rejected by V8 and replaced; the run is unaffected', async () => {
    for (let i = 0; i < 3; i += 1) expect((await run(['list'])).code).toBe(0);
    const [name] = ofKind('list');
    const good = (await run(['list'])).stdout;
    fs.writeFileSync(path.join(cacheDir, name as string), Buffer.alloc(4096, 7), { mode: 0o600 });
    const r = await run(['list']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(good);
    expect(r.stderr).toBe('');
    // Rejected: written anew as a first generation; the garbage is gone.
    expect(ofKind('list')).toEqual([expect.stringMatching(/\.1\.v8$/)]);
  });

  it("removes this installation's caches of another build or Node, and other installations' only when long unused", async () => {
    expect((await run(['--version'])).code).toBe(0);
    const [own] = ofKind('version');
    const install = /^cli-version-([0-9a-f]{8})-/.exec(own as string)?.[1];
    expect(install).toBeDefined();
    const stale = [`cli-list-${install}-v18.0.0-x64-1-1.3.v8`, `cli-switch-${install}-v20.20.2-x64-999-999.1.v8`];
    const otherInstall = ['cli-list-0badf00d-v20.20.2-x64-5-5.3.v8', 'cli-list-0ddba11a-v20.20.2-x64-6-6.3.v8'];
    for (const f of [...stale, ...otherInstall, 'not-ours.txt']) fs.writeFileSync(path.join(cacheDir, f), 'old', { mode: 0o600 });
    const longAgo = new Date(Date.now() - 90 * 24 * 3600 * 1000);
    fs.utimesSync(path.join(cacheDir, otherInstall[1] as string), longAgo, longAgo);
    expect((await run(['list'])).code).toBe(0);
    const left = caches();
    expect(left).toHaveLength(4);
    expect(left).toEqual(expect.arrayContaining([otherInstall[0], own, 'not-ours.txt']));
    expect(left.filter((f) => new RegExp(`^cli-list-${install}-.*\\.1\\.v8$`).test(f))).toHaveLength(1);
  });

  it('is neither read nor written in a directory others can write to', async () => {
    fs.mkdirSync(cacheDir, { recursive: true });
    fs.chmodSync(cacheDir, 0o777);
    const r = await run(['list']);
    expect(r.code, r.stderr).toBe(0);
    expect(caches()).toEqual([]);
  });

  it('ignores a cache file that is a symbolic link, and leaves what it points to alone', async () => {
    for (let i = 0; i < 3; i += 1) expect((await run(['list'])).code).toBe(0);
    const [name] = ofKind('list');
    const elsewhere = path.join(root, 'elsewhere.v8');
    fs.renameSync(path.join(cacheDir, name as string), elsewhere);
    const content = fs.readFileSync(elsewhere);
    fs.symlinkSync(elsewhere, path.join(cacheDir, name as string));
    expect((await run(['list'])).code).toBe(0);
    expect(fs.readFileSync(elsewhere).equals(content)).toBe(true);
    // Not trusted, so this run counted as a first: a real first-generation file, the link removed.
    expect(ofKind('list')).toEqual([expect.stringMatching(/\.1\.v8$/)]);
    expect(fs.lstatSync(path.join(cacheDir, ofKind('list')[0] as string)).isFile()).toBe(true);
  });

  it('NODE_DISABLE_COMPILE_CACHE=1 turns it off', async () => {
    const r = await run(['list'], { NODE_DISABLE_COMPILE_CACHE: '1' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('alice@example.com');
    expect(caches()).toEqual([]);
  });
});

describe('the running-Codex warning of switch (a real scan of /proc)', () => {
  it.skipIf(process.platform !== 'linux')('names running codex processes — the native binary and the npm launcher — and nothing else', async () => {
    const bob = chatgptAuth({ email: 'bob@example.com', userId: 'user-bob', accountId: 'acc-bob', plan: 'pro' });
    fs.writeFileSync(path.join(root, 'bob.json'), JSON.stringify(bob));
    expect((await run(['import', path.join(root, 'bob.json')])).code).toBe(0);
    // Stand-ins: a program called codex; node running a script called codex.js; and a process that
    // only mentions codex in its arguments (not Codex).
    const bin = path.join(root, 'bin');
    fs.mkdirSync(bin);
    fs.copyFileSync('/bin/sleep', path.join(bin, 'codex'));
    fs.chmodSync(path.join(bin, 'codex'), 0o755);
    fs.writeFileSync(path.join(bin, 'codex.js'), 'setTimeout(() => {}, 30000);\n');
    const procs = [
      spawn(path.join(bin, 'codex'), ['30'], { stdio: 'ignore' }),
      spawn(process.execPath, [path.join(bin, 'codex.js')], { stdio: 'ignore' }),
      spawn('/bin/sleep', ['30', 'codex'], { stdio: 'ignore' }),
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
