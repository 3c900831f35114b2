/**
 * Packaging, as a user gets it: `npm pack`, then `npm install -g` of the tarball into a fresh prefix
 * with a fresh HOME (and npm cache), then the installed `codex-auth` — run from a directory outside
 * the repository, with an isolated HOME and CODEX_HOME — does --version, list, import, switch,
 * status and doctor without any file of the repository.
 *
 * The tarball is packed from a copy of the repository (its node_modules linked in): `npm pack` runs
 * the `prepare` script, a full build, and that must not replace the dist/ that the other end-to-end
 * suites are running at the same time. The copy is deleted before anything installed runs, so a path
 * baked into the build would fail here too.
 *
 * npm gets the machine's network settings (proxy variables, the npmrc of the npm installation and
 * the user's npmrc: a registry mirror or a CA bundle live there) but nothing else of the user's:
 * fresh HOME, cache and prefix. Its registry must be reachable.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedEnv, REPO_ROOT, type RunResult, runProcess } from '../support/codex.js';
import { chatgptAuth } from '../support/jwt.js';

const ALICE = { email: 'alice@example.com', userId: 'user-alice', accountId: 'acc-alice', plan: 'plus' };
const BOB = { email: 'bob@example.com', userId: 'user-bob', accountId: 'acc-bob', plan: 'pro' };

const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { name: string; version: string; bin?: string | Record<string, string> };
/** package.json's executables: name → path inside the package. */
const bins: Record<string, string> = typeof pkg.bin === 'string' ? { [pkg.name]: pkg.bin } : (pkg.bin ?? {});

/** Nothing from the build tree is copied: it is rebuilt by `npm pack`. */
const NOT_COPIED = new Set(['.git', 'node_modules', 'dist', 'coverage', '.vitest-tmp', '.cache']);

const INSTALL_TIMEOUT_MS = 5 * 60_000;

let root: string;
let buildCopy: string;
let tarball: string;
let prefix: string;
let installed: string;
let binPath: string;
let home: string;
let codexHome: string;
let cwd: string;
const transcript: string[] = [];
const secrets: string[] = [];

function explain(r: RunResult): string {
  return `exit=${String(r.code)} signal=${String(r.signal)} timedOut=${String(r.timedOut)}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** The npmrc of the npm on PATH's own installation (`<prefix>/lib/node_modules/npm` → `<prefix>/etc/npmrc`). */
function machineNpmrc(): string | undefined {
  const candidates: string[] = [];
  if (process.env.npm_config_globalconfig) candidates.push(process.env.npm_config_globalconfig);
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const npm = path.join(dir, 'npm');
    if (!dir || !fs.existsSync(npm)) continue;
    const m = /^(.*)\/lib\/node_modules\/npm\/bin\/npm-cli\.js$/.exec(fs.realpathSync(npm));
    if (m) candidates.push(path.join(m[1] as string, 'etc', 'npmrc'));
    break;
  }
  candidates.push(path.join(path.dirname(path.dirname(process.execPath)), 'etc', 'npmrc'));
  return candidates.find((c) => fs.existsSync(c));
}

/** Environment for npm: the machine's, with a fresh HOME and cache and no npm_* of an outer npm run. */
function npmEnv(npmHome: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(npm_|NODE_PATH$|INIT_CWD$|OPENAI_|CODEX_)/i.test(k)) continue;
    env[k] = v;
  }
  const userNpmrc = process.env.npm_config_userconfig ?? path.join(os.homedir(), '.npmrc');
  const globalNpmrc = machineNpmrc();
  return {
    ...env,
    HOME: npmHome,
    npm_config_cache: path.join(npmHome, '.npm'),
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    ...(globalNpmrc ? { npm_config_globalconfig: globalNpmrc } : {}),
    ...(fs.existsSync(userNpmrc) ? { npm_config_userconfig: userNpmrc } : {}),
  };
}

/** Run the installed codex-auth from `cwd`, isolated; no network beyond a closed local port. */
async function run(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  const base = isolatedEnv(home, {
    CODEX_HOME: codexHome,
    TZ: 'UTC',
    // Nothing here should reach the network; should it try, it meets a closed port, not OpenAI.
    CODEX_AUTH_OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
    CODEX_AUTH_CHATGPT_BASE_URL: 'http://127.0.0.1:9/backend-api',
    CODEX_REFRESH_TOKEN_URL_OVERRIDE: 'http://127.0.0.1:9/oauth/token',
    CODEX_AUTH_HTTP_TIMEOUT_MS: '2000',
    ...env,
  });
  for (const k of Object.keys(base)) if (/^(npm_|NODE_PATH$|INIT_CWD$)/i.test(k)) delete base[k];
  // A user's PATH: not the repository's node_modules/.bin that `npm test` puts first (its codex
  // would be found by doctor, rightly, and named).
  base.PATH = (base.PATH ?? '')
    .split(path.delimiter)
    .filter((d) => d !== '' && path.relative(REPO_ROOT, d).startsWith('..'))
    .join(path.delimiter);
  const r = await runProcess(binPath, args, { env: base, cwd, timeoutMs: 60_000 });
  transcript.push(r.stdout, r.stderr);
  return r;
}

function authJson(): { tokens?: { account_id?: string } } {
  return JSON.parse(fs.readFileSync(path.join(codexHome, 'auth.json'), 'utf8')) as { tokens?: { account_id?: string } };
}

/** Every file below `dir` (symbolic links not followed). */
function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-test-package-'));
  buildCopy = path.join(root, 'build');
  const packDir = path.join(root, 'pack');
  const npmHome = path.join(root, 'npm-home');
  prefix = path.join(root, 'prefix');
  home = path.join(root, 'home');
  codexHome = path.join(home, '.codex');
  cwd = path.join(root, 'elsewhere');
  for (const d of [packDir, npmHome, prefix, cwd]) fs.mkdirSync(d);
  fs.mkdirSync(codexHome, { recursive: true, mode: 0o700 });

  fs.cpSync(REPO_ROOT, buildCopy, {
    recursive: true,
    filter: (src) => {
      const rel = path.relative(REPO_ROOT, src);
      return !NOT_COPIED.has(rel.split(path.sep)[0] as string) && path.basename(src) !== 'node_modules' && !rel.endsWith('.log');
    },
  });
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(buildCopy, 'node_modules'), 'dir');

  const pack = await runProcess('npm', ['pack', '--pack-destination', packDir], { env: npmEnv(npmHome), cwd: buildCopy, timeoutMs: INSTALL_TIMEOUT_MS });
  if (pack.code !== 0) throw new Error(`npm pack failed:\n${explain(pack)}`);
  const tgz = fs.readdirSync(packDir).filter((f) => f.endsWith('.tgz'));
  if (tgz.length !== 1) throw new Error(`npm pack made ${JSON.stringify(tgz)}, not one tarball:\n${explain(pack)}`);
  tarball = path.join(packDir, tgz[0] as string);
  fs.rmSync(buildCopy, { recursive: true, force: true });

  const install = await runProcess('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', tarball], {
    env: npmEnv(npmHome),
    cwd,
    timeoutMs: INSTALL_TIMEOUT_MS,
  });
  if (install.code !== 0) throw new Error(`npm install -g of the tarball failed:\n${explain(install)}`);
  installed = path.join(prefix, 'lib', 'node_modules', pkg.name);
  binPath = path.join(prefix, 'bin', Object.keys(bins)[0] ?? pkg.name);
}, 2 * INSTALL_TIMEOUT_MS + 60_000);

afterAll(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
  // No secret of the fabricated logins in any output.
  expect(secrets.filter((s) => transcript.some((t) => t.includes(s))).map((s) => `${s.slice(0, 6)}…`)).toEqual([]);
});

describe('the npm package', () => {
  it('holds the executables, dist/, LICENSE, README and package.json, and no sources or tests', async () => {
    const list = await runProcess('tar', ['-tzf', tarball], { env: isolatedEnv(home), cwd });
    expect(list.code, explain(list)).toBe(0);
    const files = list.stdout
      .split('\n')
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, ''));
    expect(files).toContain('package.json');
    expect(files).toContain('LICENSE');
    expect(files).toContain('README.md');
    expect(Object.keys(bins).length).toBeGreaterThan(0);
    for (const b of Object.values(bins)) expect(files).toContain(path.posix.normalize(b));
    expect(files.some((f) => f.startsWith('dist/'))).toBe(true);
    const unwanted = files.filter((f) => /^(src|test|bench|\.ci|node_modules)\//.test(f) || /^(tsup|vitest)\.config\.ts$|^tsconfig\.json$/.test(f));
    expect(unwanted).toEqual([]);
    expect(fs.readFileSync(path.join(installed, 'LICENSE'), 'utf8')).toBe(fs.readFileSync(path.join(REPO_ROOT, 'LICENSE'), 'utf8'));
  });

  it('installs as files of its own, every executable on the prefix\'s bin/', () => {
    expect(fs.lstatSync(installed).isSymbolicLink()).toBe(false);
    for (const name of Object.keys(bins)) expect(fs.existsSync(path.join(prefix, 'bin', name)), name).toBe(true);
    // Nothing installed names the repository or the copy it was built in by an absolute path. (The
    // bundle's module names are relative — through the linked node_modules they read
    // `../../../<repo>/node_modules/commander/…` here — and are names only, never opened.)
    const absolute = (dir: string): RegExp => new RegExp(`(?<![\\w.-])${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w.-])`);
    const naming = walk(installed).filter((f) => {
      const text = fs.readFileSync(f, 'latin1');
      return absolute(REPO_ROOT).test(text) || absolute(buildCopy).test(text);
    });
    expect(naming).toEqual([]);
  });

  it('prints package.json\'s version', async () => {
    const r = await run(['--version']);
    expect(r.code, explain(r)).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('lists, imports, switches, shows status and passes doctor from the installed files only', async () => {
    const a = chatgptAuth(ALICE);
    const b = chatgptAuth(BOB);
    secrets.push(a.tokens.refresh_token, a.tokens.access_token, a.tokens.id_token, b.tokens.refresh_token, b.tokens.access_token, b.tokens.id_token);
    fs.writeFileSync(path.join(codexHome, 'auth.json'), JSON.stringify(a), { mode: 0o600 });

    // list: Codex's current login is imported and shown. Node's module debug log names every
    // CommonJS file it loads: all of them must come from the install prefix.
    const list = await run(['list'], { NODE_DEBUG: 'module' });
    expect(list.code, explain(list)).toBe(0);
    expect(list.stdout).toContain('alice@example.com');
    const loaded = [...list.stderr.matchAll(/"(\/[^"]+\.(?:[cm]?js|node|json))"/g)].map((m) => m[1] as string);
    expect(loaded.some((f) => f.startsWith(path.join(installed, 'dist')))).toBe(true);
    expect(loaded.filter((f) => !f.startsWith(prefix + path.sep))).toEqual([]);

    // import two auth.json files, then switch between them.
    const files = path.join(root, 'imports');
    fs.mkdirSync(files);
    fs.writeFileSync(path.join(files, 'alice.json'), JSON.stringify(a));
    fs.writeFileSync(path.join(files, 'bob.json'), JSON.stringify(b));
    const imp = await run(['import', path.join(files, 'alice.json'), path.join(files, 'bob.json')]);
    expect(imp.code, explain(imp)).toBe(0);
    const listed = await run(['list', '--json']);
    expect(listed.code, explain(listed)).toBe(0);
    const accounts = (JSON.parse(listed.stdout) as { accounts: Array<{ email: string }> }).accounts.map((x) => x.email).sort();
    expect(accounts).toEqual(['alice@example.com', 'bob@example.com']);

    expect(authJson().tokens?.account_id).toBe(ALICE.accountId);
    const toBob = await run(['switch', 'bob@example.com']);
    expect(toBob.code, explain(toBob)).toBe(0);
    expect(authJson().tokens?.account_id).toBe(BOB.accountId);
    const back = await run(['switch', '-']);
    expect(back.code, explain(back)).toBe(0);
    expect(authJson().tokens?.account_id).toBe(ALICE.accountId);

    const status = await run(['status']);
    expect(status.code, explain(status)).toBe(0);
    expect(status.stdout).toContain('alice@example.com');

    // doctor: 0 when no check failed (warnings, e.g. no Codex CLI or OS keyring here, are fine).
    const doctor = await run(['doctor', '--json']);
    const doc = JSON.parse(doctor.stdout) as { checks: Array<{ id: string; status: string; message: string }> };
    expect(doc.checks.filter((c) => c.status === 'fail'), explain(doctor)).toEqual([]);
    expect(doctor.code, explain(doctor)).toBe(0);
    const human = await run(['doctor']);
    expect(human.code, explain(human)).toBe(0);

    // Nothing anywhere points back into the repository, and nothing crashed with a stack trace.
    for (const t of transcript) {
      expect(t).not.toContain(REPO_ROOT);
      expect(t).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
    }
  });
});
