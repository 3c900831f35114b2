/**
 * Edges of import, the registry and --json output (issue 13): special files, stdin, symlinks, badly
 * shaped keys, a registry that is not a file or lists an account twice, homes that cannot be
 * written, and one JSON document per --json command.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliSuite, fakeEnv } from '../support/cli-suite.js';
import { chatgptAuth, fakeApiKey } from '../support/jwt.js';

const ALICE = { email: 'alice@example.com', userId: 'user-alice', accountId: 'acc-alice', plan: 'plus' };
const BOB = { email: 'bob@example.com', userId: 'user-bob', accountId: 'acc-bob', plan: 'pro' };

const { sb, fake, secrets, remember } = cliSuite({ env: (f) => ({ ...fakeEnv.openai(f), CODEX_AUTH_HTTP_TIMEOUT_MS: '1500' }) });

function writeFile(name: string, doc: object | string): string {
  const p = path.join(sb.root, 'in', name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return p;
}

function regFile(): string {
  return path.join(sb.codexHome, 'codex-auth', 'registry.json');
}

function registry(): { activeId: string | null; accounts: Array<Record<string, any>> } {
  return JSON.parse(fs.readFileSync(regFile(), 'utf8'));
}

function mkfifo(p: string): void {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  execFileSync('mkfifo', [p]);
}

describe('import: files that are not regular files', () => {
  it('skips a FIFO given as PATH without blocking on it, and imports the rest', async () => {
    const fifo = path.join(sb.root, 'in', 'pipe.json');
    mkfifo(fifo);
    const good = writeFile('good.json', remember(chatgptAuth(ALICE)));
    const r = await sb.run(['import', fifo, good]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^skipped\s+.*pipe\.json \(not a regular file: a FIFO\)$/m);
    expect(r.stdout).toMatch(/^imported\s+.*good\.json/m);
  });

  it('skips a FIFO and a directory named *.json found in a directory, each with its reason', async () => {
    mkfifo(path.join(sb.root, 'in', 'dir', 'pipe.json'));
    fs.mkdirSync(path.join(sb.root, 'in', 'dir', 'folder.json'));
    writeFile('dir/a.json', remember(chatgptAuth(ALICE)));
    const r = await sb.run(['import', path.join(sb.root, 'in', 'dir')]);
    expect(r.stdout).toMatch(/^skipped\s+.*dir\/pipe\.json \(not a regular file: a FIFO\)$/m);
    expect(r.stdout).toMatch(/^skipped\s+.*dir\/folder\.json \(a directory \(use -r to search subdirectories\)\)$/m);
    expect(r.stdout).toMatch(/^imported\s+.*dir\/a\.json/m);
    expect(r.code).toBe(1);
  });

  it('skips a device given as PATH', async () => {
    const r = await sb.run(['import', '/dev/zero']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^skipped\s+\/dev\/zero \(not a regular file: a character device\)$/m);
  });
});

describe('import -', () => {
  it('reads one auth.json from standard input', async () => {
    const doc = remember(chatgptAuth(ALICE));
    const r = await sb.run(['import', '-', '--alias', 'piped'], { input: JSON.stringify(doc) });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^imported\s+\(standard input\)\s+piped — alice@example\.com \(plus\)$/m);
    expect(registry().accounts).toMatchObject([{ id: 'chatgpt::user-alice::acc-alice', alias: 'piped' }]);
    const stored = fs.readFileSync(path.join(sb.codexHome, 'codex-auth', 'accounts', 'chatgpt__user-alice__acc-alice.json'), 'utf8');
    expect(JSON.parse(stored)).toEqual(doc);
  });

  it('refuses empty, invalid and oversized input clearly, storing nothing', async () => {
    const empty = await sb.run(['import', '-'], { input: '' });
    expect(empty.code).toBe(1);
    expect(empty.stdout).toMatch(/^skipped\s+\(standard input\) \(invalid auth\.json: it is empty\)$/m);
    const bad = await sb.run(['import', '-'], { input: '{"tokens":' });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('(standard input) (invalid auth.json: it is not valid JSON)');
    const big = await sb.run(['import', '-'], { input: `{"x":"${'a'.repeat(1024 * 1024 + 10)}"}` });
    expect(big.code).toBe(1);
    expect(big.stdout).toContain('(standard input) (cannot read it (stdin is larger than 1 MiB))');
    expect(fs.existsSync(regFile())).toBe(false);
  });

  it('is allowed only once', async () => {
    const r = await sb.run(['import', '-', '-'], { input: '{}' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"-" (standard input) can be given only once');
  });
});

describe('import: symbolic links', () => {
  it('follows links to regular files (and says so), skips broken links and linked directories with a reason', async () => {
    const target = writeFile('elsewhere/alice.json', remember(chatgptAuth(ALICE)));
    const dir = path.join(sb.root, 'in', 'dir');
    fs.mkdirSync(dir, { recursive: true });
    fs.symlinkSync(target, path.join(dir, 'link.json'));
    fs.symlinkSync(path.join(sb.root, 'nowhere.json'), path.join(dir, 'broken.json'));
    fs.mkdirSync(path.join(dir, 'sub'));
    writeFile('dir/sub/b.json', remember(chatgptAuth(BOB)));
    // A loop: dir/sub/up -> dir.
    fs.symlinkSync(dir, path.join(dir, 'sub', 'up'));
    const r = await sb.run(['import', '-r', dir]);
    expect(r.stdout).toMatch(/^imported\s+.*dir\/link\.json\s+alice@example\.com \(plus\) \(a link to .*elsewhere\/alice\.json\)$/m);
    expect(r.stdout).toMatch(/^skipped\s+.*dir\/broken\.json \(a broken symbolic link\)$/m);
    expect(r.stdout).toMatch(/^skipped\s+.*dir\/sub\/up \(a symbolic link to a directory: not followed\)$/m);
    expect(r.stdout).toMatch(/^imported\s+.*dir\/sub\/b\.json\s+bob@example\.com/m);
    expect(r.code).toBe(1);
    expect(registry().accounts).toHaveLength(2);
  });
});

describe('API keys that are not key-shaped', () => {
  it('import skips an auth.json whose key does not look like an API key, asking no one', async () => {
    const before = fake.requests({ path: '/v1/me' }).length;
    const r = await sb.run(['import', writeFile('k.json', { auth_mode: 'apikey', OPENAI_API_KEY: 'hello-world' })]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/k\.json \(its OPENAI_API_KEY does not look like an OpenAI API key \(expected "sk-" followed by letters, digits, "-" or "_"\)\)$/m);
    expect(fake.requests({ path: '/v1/me' }).length).toBe(before);
    expect(fs.existsSync(regFile())).toBe(false);
  });

  it.each([
    ['a newline', (k: string) => `${k.slice(0, 10)}\n${k.slice(10)}`, 'a newline at position 11'],
    ['a control character', (k: string) => `${k.slice(0, 12)}\x07${k.slice(12)}`, 'a control character (U+0007) at position 13'],
    ['a non-ASCII character', (k: string) => `${k.slice(0, 5)}é${k.slice(5)}`, 'a non-ASCII character (U+00E9) at position 6'],
  ])('a key with %s is refused before any request, naming the position, never the key', async (_n, mangle, what) => {
    const key = mangle(fakeApiKey(`shape-${_n.length}`));
    secrets.push(key, key.replace(/[^\x20-\x7e]/g, ''));
    const before = fake.requests({ path: '/v1/me' }).length;
    const add = await sb.run(['add-api-key', '-'], { input: `${key}\n` });
    expect(add.code).toBe(1);
    expect(add.stderr).toContain(`The API key contains ${what}; nothing was stored.`);
    const imp = await sb.run(['import', writeFile('k.json', { auth_mode: 'apikey', OPENAI_API_KEY: key })]);
    expect(imp.code).toBe(1);
    expect(imp.stdout).toContain(`k.json (its OPENAI_API_KEY contains ${what})`);
    expect(fake.requests({ path: '/v1/me' }).length).toBe(before);
    expect(fs.existsSync(regFile())).toBe(false);
  });

  it('a trailing newline (stdin, or inside an auth.json) is trimmed, not an error', async () => {
    const key = fakeApiKey('trailing');
    secrets.push(key);
    fake.addApiKey(key, { id: 'user-trail', email: 'trail@example.com' });
    const imp = await sb.run(['import', writeFile('k.json', { auth_mode: 'apikey', OPENAI_API_KEY: `${key}\n` })]);
    expect(imp.code).toBe(0);
    expect(fake.requests({ path: '/v1/me' }).at(-1)?.headers.authorization).toBe(`Bearer ${key}`);
    const add = await sb.run(['add-api-key', '-', '--json'], { input: `${key}\r\n` });
    expect(add.code).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({ added: false });
    expect(registry().accounts).toHaveLength(1);
  });
});

/** Every file below `dir` with its content (directories as '<dir>'), to show nothing changed. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        out[path.relative(dir, p)] = '<dir>';
        walk(p);
      } else if (e.isFile()) out[path.relative(dir, p)] = fs.readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  return out;
}

describe('a registry.json that cannot be read', () => {
  it('a directory in its place: every command names the path and the fix, writes nothing, moves nothing', async () => {
    sb.writeAuth(remember(chatgptAuth(ALICE)));
    fs.mkdirSync(path.join(regFile(), 'inside'), { recursive: true });
    fs.writeFileSync(path.join(regFile(), 'inside', 'keep'), 'x');
    const key = fakeApiKey('regdir');
    secrets.push(key);
    fake.addApiKey(key);
    const before = tree(sb.codexHome);
    const good = writeFile('b.json', remember(chatgptAuth(BOB)));
    for (const [argv, input] of [
      [['list'], undefined],
      [['list', '--json'], undefined],
      [['status'], undefined],
      [['import'], undefined],
      [['import', good], undefined],
      [['add-api-key', '-'], key],
      [['switch', '1'], undefined],
      [['alias', '1', 'x'], undefined],
      [['remove', '1', '--yes'], undefined],
      [['refresh'], undefined],
      [['fallback', 'enable'], undefined],
      [['fallback', 'status'], undefined],
      [['watch', '--once'], undefined],
    ] as Array<[string[], string | undefined]>) {
      const r = await sb.run(argv, input !== undefined ? { input } : {});
      expect(r.code, argv.join(' ')).toBe(1);
      expect(r.stderr, argv.join(' ')).toContain(`${regFile()} cannot be read: it is a directory, not a file. Move it away (mv "${regFile()}" "${regFile()}.bak") and run the command again; nothing was changed.`);
      expect(r.stderr).not.toContain('EISDIR');
      if (argv.includes('--json')) expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'registry_unreadable' } });
    }
    // Lock files may appear (they are never deleted); nothing else changed.
    const after = Object.fromEntries(Object.entries(tree(sb.codexHome)).filter(([k]) => !k.endsWith('.lock') && !k.endsWith('locks')));
    expect(after).toEqual(before);
    const doc = await sb.run(['doctor', '--json']);
    expect(JSON.parse(doc.stdout).checks.find((c: { id: string }) => c.id === 'registry')).toMatchObject({ status: 'fail', message: `${regFile()} is a directory, not a file` });
  });

  it('no permission to read it: the path and the fix, nothing written (as an unprivileged user when run as root)', async () => {
    sb.writeAuth(remember(chatgptAuth(ALICE)));
    expect((await sb.run(['list'])).code).toBe(0);
    const before = fs.readFileSync(regFile(), 'utf8');
    fs.chmodSync(regFile(), 0o000);
    let stderr: string;
    let code: number;
    if (process.getuid?.() === 0) {
      // Root reads anything: run the built CLI as nobody, who owns everything but registry.json.
      const { spawnSync } = await import('node:child_process');
      execFileSync('chown', ['-R', '65534:65534', sb.root]);
      fs.chownSync(regFile(), 0, 0);
      fs.chmodSync(sb.root, 0o755);
      const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, path.resolve('bin/codex-auth.cjs'), 'list'], { env: { ...sb.env }, encoding: 'utf8' });
      expect(r.error).toBeUndefined();
      stderr = r.stderr;
      code = r.status ?? -1;
      sb.transcript.push(r.stdout, r.stderr);
    } else {
      const r = await sb.run(['list']);
      stderr = r.stderr;
      code = r.code;
    }
    fs.chmodSync(regFile(), 0o600);
    expect(code).toBe(1);
    expect(stderr).toContain(`${regFile()} cannot be read: EACCES. Make it readable and writable by you (chmod 600 "${regFile()}", and check that you own it), or point CODEX_AUTH_HOME at another directory; nothing was changed.`);
    expect(fs.readFileSync(regFile(), 'utf8')).toBe(before);
    expect(fs.readdirSync(path.dirname(regFile())).filter((f) => f.includes('corrupt'))).toEqual([]);
  });

  it('not valid JSON: moved aside loudly, as before', async () => {
    fs.mkdirSync(path.dirname(regFile()), { recursive: true });
    fs.writeFileSync(regFile(), '{"version": 1, ');
    const r = await sb.run(['list']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('registry.json is corrupt (it is not valid JSON). It was moved to');
    expect(fs.readdirSync(path.dirname(regFile())).filter((f) => f.startsWith('registry.json.corrupt-'))).toHaveLength(1);
  });
});

describe("homes that cannot be written", () => {
  it('CODEX_AUTH_HOME below a file (ENOTDIR): list says where it tried to write and that CODEX_AUTH_HOME moves it; no "Imported"', async () => {
    sb.writeAuth(remember(chatgptAuth(ALICE)));
    const file = path.join(sb.root, 'a-file');
    fs.writeFileSync(file, 'x');
    const home = path.join(file, 'codex-auth');
    const r = await sb.run(['list'], { env: { CODEX_AUTH_HOME: home } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Cannot write codex-auth's files in ${home} (ENOTDIR on ${home}`);
    expect(r.stderr).toContain('set the environment variable CODEX_AUTH_HOME to a writable directory');
    expect(r.stderr).not.toContain('Imported');
    expect(r.stderr).not.toContain('unexpected error');
    const j = await sb.run(['list', '--json'], { env: { CODEX_AUTH_HOME: home } });
    expect(JSON.parse(j.stdout)).toMatchObject({ error: { code: 'home_not_writable' } });
  });

  it('a CODEX_AUTH_HOME where even root cannot create files (/sys): the same, for import and add-api-key too', async () => {
    sb.writeAuth(remember(chatgptAuth(ALICE)));
    const home = '/sys/codex-auth-test';
    for (const argv of [['list'], ['import'], ['import', writeFile('b.json', remember(chatgptAuth(BOB)))]]) {
      const r = await sb.run(argv, { env: { CODEX_AUTH_HOME: home } });
      expect(r.code, argv.join(' ')).toBe(1);
      expect(r.stderr, argv.join(' ')).toMatch(new RegExp(`Cannot write codex-auth's files in ${home} \\((EACCES|EPERM|EROFS) on ${home}`));
      expect(r.stderr).not.toContain('Imported');
    }
    expect(fs.readdirSync(sb.codexHome)).toEqual(['auth.json']);
  });
});

describe('--json: exactly one JSON document on stdout', () => {
  function oneDocument(stdout: string, what: string): Record<string, any> {
    const lines = stdout.split('\n').filter((l) => l !== '');
    expect(lines, `${what}: ${stdout}`).toHaveLength(1);
    const doc = JSON.parse(lines[0] ?? '');
    expect(doc.schemaVersion, what).toBe(1);
    return doc;
  }

  it('watch --once --json prints one document when nothing switches', async () => {
    sb.writeAuth(remember(chatgptAuth(ALICE)));
    const r = await sb.run(['watch', '--once', '--json']);
    expect(r.code).toBe(0);
    expect(oneDocument(r.stdout, 'watch --once --json')).toEqual({ schemaVersion: 1, action: 'none', reason: 'automatic fallback is disabled', errors: [] });
  });

  it('every command that accepts --json, on success and on an error', async () => {
    sb.writeAuth(remember(chatgptAuth(ALICE)));
    const bob = writeFile('b.json', remember(chatgptAuth(BOB)));
    const key = fakeApiKey('json-all');
    secrets.push(key);
    fake.addApiKey(key, { id: 'user-json', email: 'json@example.com' });
    const ok: Array<[string[], string?]> = [
      [['list', '--json']],
      [['import', bob, '--json']],
      [['add-api-key', '-', '--json'], key],
      [['switch', 'bob', '--json']],
      [['alias', 'bob', 'b', '--json']],
      [['refresh', '--json']],
      [['status', '--json']],
      [['fallback', 'enable', '--json']],
      [['fallback', 'status', '--json']],
      [['fallback', 'disable', '--json']],
      [['watch', '--once', '--json']],
      [['doctor', '--json']],
      [['remove', 'b', '--yes', '--json']],
    ];
    for (const [argv, input] of ok) {
      const r = await sb.run(argv, input !== undefined ? { input } : {});
      const doc = oneDocument(r.stdout, argv.join(' '));
      if (argv[0] !== 'doctor') expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(0);
      expect(doc.error, argv.join(' ')).toBeUndefined();
    }
    // Errors: a Codex home that does not exist, a bad argument, or what the command refuses.
    const missing = path.join(sb.root, 'missing');
    const bad: Array<[string[], string?]> = [
      [['list', '--json', '--codex-home', missing]],
      [['import', '--json', '--codex-home', missing]],
      [['login', '--json', '--codex-home', missing]],
      [['add-api-key', '-', '--json'], 'not-a-key'],
      [['switch', 'nobody', '--json']],
      [['remove', 'nobody', '--yes', '--json']],
      [['alias', 'nobody', 'x', '--json']],
      [['refresh', 'nobody', '--json']],
      [['status', '--json', '--codex-home', missing]],
      [['fallback', 'enable', '--threshold', '0', '--json']],
      [['fallback', 'status', '--json', '--codex-home', missing]],
      [['fallback', 'disable', '--json', '--codex-home', missing]],
      [['watch', '--once', '--interval', '1', '--json']],
      [['doctor', '--json', '--bogus']],
    ];
    for (const [argv, input] of bad) {
      const r = await sb.run(argv, input !== undefined ? { input } : {});
      expect(r.code, `${argv.join(' ')}: ${r.stdout}`).not.toBe(0);
      expect(oneDocument(r.stdout, argv.join(' ')).error, argv.join(' ')).toMatchObject({ code: expect.any(String), message: expect.any(String) });
    }
  });
});

describe('an account listed twice in registry.json', () => {
  async function twoAccounts(): Promise<void> {
    sb.writeAuth(remember(chatgptAuth(ALICE)));
    expect((await sb.run(['import', writeFile('b.json', remember(chatgptAuth(BOB)))])).code).toBe(0);
  }

  it('is merged into its newest entry (alias kept), said once, reported by doctor, and written once the registry changes', async () => {
    await twoAccounts();
    const reg = registry();
    const alice = reg.accounts.find((a) => a.email === 'alice@example.com') ?? {};
    const older = { ...alice, alias: 'old-alice', snapshot: { ...alice.snapshot, lastRefresh: '2020-01-01T00:00:00Z' } };
    fs.writeFileSync(regFile(), JSON.stringify({ ...reg, accounts: [...reg.accounts, older] }));
    const r = await sb.run(['list', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.accounts.map((a: { email: string; active: boolean }) => [a.email, a.active])).toEqual([
      ['alice@example.com', true],
      ['bob@example.com', false],
    ]);
    expect(j.accounts[0].alias).toBe('old-alice');
    expect(r.stderr.match(/more than once/g)).toHaveLength(1);
    expect(r.stderr).toContain('lists the account chatgpt::user-alice::acc-alice more than once; the newest entry is used');
    const doc = await sb.run(['doctor', '--json']);
    expect(JSON.parse(doc.stdout).checks.find((c: { id: string }) => c.id === 'registry')).toMatchObject({ status: 'warn', message: expect.stringContaining('lists the account chatgpt::user-alice::acc-alice more than once') });
    // A read command wrote nothing; a change writes the merged registry.
    expect(registry().accounts).toHaveLength(3);
    expect((await sb.run(['alias', 'bob', 'b'])).code).toBe(0);
    expect(registry().accounts.map((a) => [a.id, a.alias])).toEqual([
      ['chatgpt::user-alice::acc-alice', 'old-alice'],
      ['chatgpt::user-bob::acc-bob', 'b'],
    ]);
    expect(registry().accounts[0]?.snapshot.lastRefresh).toBe(alice.snapshot.lastRefresh);
    expect((await sb.run(['list'])).stderr).not.toContain('more than once');
  });

  it('with different stored secrets: refused with the fix, the file untouched', async () => {
    await twoAccounts();
    const reg = registry();
    const alice = reg.accounts.find((a) => a.email === 'alice@example.com') ?? {};
    const text = JSON.stringify({ ...reg, accounts: [...reg.accounts, { ...alice, secret: { store: 'file', ref: 'other-copy' } }] });
    fs.writeFileSync(regFile(), text);
    const r = await sb.run(['list', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'registry_duplicate', message: expect.stringContaining('lists the account chatgpt::user-alice::acc-alice 2 times, with different stored secrets') });
    expect(fs.readFileSync(regFile(), 'utf8')).toBe(text);
  });
});
