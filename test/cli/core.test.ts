/** In-process command tests over real temporary directories, with a fake OpenAI on 127.0.0.1. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliSuite, fakeEnv } from '../support/cli-suite.js';
import { typeWhen } from '../support/inprocess.js';
import { apiKeyAuth, type ChatgptAuthDoc, chatgptAuth, fakeApiKey, makeJwt } from '../support/jwt.js';

const ALICE = { email: 'alice@example.com', userId: 'user-alice', accountId: 'acc-alice', plan: 'plus' };
const ALICE_TEAM = { email: 'alice@example.com', userId: 'user-alice', accountId: 'acc-team', plan: 'team' };
const BOB = { email: 'bob@example.com', userId: 'user-bob', accountId: 'acc-bob', plan: 'pro' };

const { sb, fake, secrets, remember } = cliSuite({ env: (f) => ({ ...fakeEnv.openai(f), CODEX_AUTH_HTTP_TIMEOUT_MS: '1500' }) });

function writeFile(name: string, doc: object | string): string {
  const p = path.join(sb.root, 'in', name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return p;
}

function registry(): { activeId: string | null; previousId: string | null; accounts: Array<Record<string, unknown>>; removedLiveIds: string[] } {
  return JSON.parse(fs.readFileSync(path.join(sb.codexHome, 'codex-auth', 'registry.json'), 'utf8'));
}

function listJson(out: string): { active: string | null; accounts: Array<Record<string, any>> } {
  return JSON.parse(out);
}

describe('list and sync', () => {
  it('says how to start when there are no accounts, and prints an empty JSON document', async () => {
    const r = await sb.run(['list']);
    expect(r).toMatchObject({ code: 0, stdout: '' });
    expect(r.stderr).toContain('No accounts yet');
    const j = await sb.run(['list', '--json']);
    expect(JSON.parse(j.stdout)).toEqual({ schemaVersion: 1, active: null, gateway: null, accounts: [] });
  });

  it('imports the live login into an empty registry and says so', async () => {
    const doc = remember(chatgptAuth(ALICE));
    sb.writeAuth(doc);
    const r = await sb.run(['list']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("Imported Codex's current login into codex-auth: alice@example.com (plus)");
    expect(r.stdout).toMatch(/^\*\s+1\s+alice@example\.com\s+plus\s+-\s+-\s+-$/m);
    const stored = fs.readFileSync(path.join(sb.codexHome, 'codex-auth', 'accounts', 'chatgpt__user-alice__acc-alice.json'), 'utf8');
    expect(JSON.parse(stored)).toEqual(doc);
    expect(fs.statSync(path.join(sb.codexHome, 'codex-auth', 'accounts', 'chatgpt__user-alice__acc-alice.json')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(sb.codexHome, 'codex-auth')).mode & 0o777).toBe(0o700);
    // A second run has nothing to import.
    const again = await sb.run(['list']);
    expect(again.stderr).toBe('');
  });

  it('saves rotated tokens of the live account back, and never an older copy over a newer one', async () => {
    const doc = remember(chatgptAuth({ ...ALICE, lastRefresh: '2026-11-01T00:00:00Z' }));
    sb.writeAuth(doc);
    await sb.run(['list']);
    const rotated = remember({ ...doc, tokens: { ...doc.tokens, refresh_token: 'rt_rotated_1234567890', access_token: makeJwt({ exp: 9999999999, n: 1 }) }, last_refresh: '2026-11-02T00:00:00Z' });
    secrets.push('rt_rotated_1234567890');
    sb.writeAuth(rotated);
    await sb.run(['list']);
    const file = path.join(sb.codexHome, 'codex-auth', 'accounts', 'chatgpt__user-alice__acc-alice.json');
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).tokens.refresh_token).toBe('rt_rotated_1234567890');
    // An older live file (e.g. restored from a backup) does not overwrite the newer stored snapshot.
    sb.writeAuth(doc);
    await sb.run(['list']);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).tokens.refresh_token).toBe('rt_rotated_1234567890');
  });

  it('adds an unknown live account to a registry that has others', async () => {
    const a = remember(chatgptAuth(ALICE));
    sb.writeAuth(a);
    await sb.run(['list']);
    const b = remember(chatgptAuth(BOB));
    sb.writeAuth(b);
    const r = await sb.run(['list', '--json']);
    expect(r.stderr).toContain("Added Codex's current login to codex-auth: bob@example.com (pro)");
    const j = listJson(r.stdout);
    expect(j.accounts.map((x) => [x.email, x.active])).toEqual([
      ['alice@example.com', false],
      ['bob@example.com', true],
    ]);
  });

  it('shows a live API key known to the registry without asking the network again', async () => {
    const key = fakeApiKey('known');
    secrets.push(key);
    fake.addApiKey(key, { id: 'user-known', email: 'known@example.com' });
    sb.writeAuth(apiKeyAuth(key));
    // import identifies it (GET /v1/me); list never asks the network.
    const first = await sb.run(['import']);
    expect(first.code).toBe(0);
    const before = fake.requests({ path: '/v1/me', bearer: key }).length;
    expect(before).toBe(1);
    const j = listJson((await sb.run(['list', '--json'])).stdout);
    expect(fake.requests({ path: '/v1/me', bearer: key }).length).toBe(before);
    expect(j.accounts[0]).toMatchObject({ kind: 'apikey', plan: 'API_KEY', email: 'known@example.com', active: true, label: 'sk-proj-***' + key.slice(-4) });
    expect(j.accounts[0]?.id).toMatch(/^apikey::user-known::[0-9a-f]{64}$/);
  });

  it('groups several accounts of one email under a header with labelled children, and has the JSON fields', async () => {
    const key = fakeApiKey('alice-key');
    secrets.push(key);
    fake.addApiKey(key, { id: 'user-alice-api', email: 'alice@example.com' });
    const files = [writeFile('a.json', remember(chatgptAuth(ALICE))), writeFile('t.json', remember(chatgptAuth(ALICE_TEAM))), writeFile('k.json', apiKeyAuth(key)), writeFile('b.json', remember(chatgptAuth(BOB)))];
    expect((await sb.run(['import', ...files])).code).toBe(0);
    const table = (await sb.run(['list'])).stdout.split('\n');
    expect(table[0]).toMatch(/^\s+#\s+ACCOUNT\s+PLAN\s+5H\s+WEEKLY\s+LAST ACTIVITY$/);
    expect(table[1]).toMatch(/^\s+alice@example\.com$/);
    expect(table[2]).toMatch(/^\s+1\s{4}plus workspace acc-alic\s+plus\s+-\s+-\s+-$/);
    expect(table[3]).toMatch(/^\s+2\s{4}team workspace acc-team\s+team/);
    expect(table[4]).toMatch(new RegExp(`^\\s+3\\s{4}sk-proj-\\*\\*\\*${key.slice(-4)}\\s+API_KEY\\s+-\\s+-`));
    expect(table[5]).toMatch(/^\s+4\s+bob@example\.com\s+pro/);
    const j = listJson((await sb.run(['list', '--json'])).stdout);
    expect(j.accounts).toHaveLength(4);
    for (const a of j.accounts) {
      for (const k of ['id', 'number', 'kind', 'email', 'alias', 'label', 'plan', 'active', 'fallback', 'usage', 'lastActivityAt']) expect(a).toHaveProperty(k);
      expect(a.usage).toEqual({ fiveHour: null, weekly: null, fetchedAt: null, source: null, error: null });
    }
  });

  it('shows cached usage as what is left and when it resets', async () => {
    sb.writeAuth(remember(chatgptAuth(ALICE)));
    await sb.run(['list']);
    const regFile = path.join(sb.codexHome, 'codex-auth', 'registry.json');
    const reg = JSON.parse(fs.readFileSync(regFile, 'utf8'));
    reg.accounts[0].usage = {
      fiveHour: { usedPercent: 18, resetsAt: '2026-11-23T14:30:00.000Z', windowMinutes: 300 },
      weekly: { usedPercent: 100, resetsAt: '2026-11-24T09:00:00.000Z', windowMinutes: 10080 },
      fetchedAt: '2026-11-23T09:58:00.000Z',
      source: 'api',
    };
    fs.writeFileSync(regFile, JSON.stringify(reg));
    const now = new Date('2026-11-23T10:00:00Z');
    const r = await sb.run(['list'], { now });
    expect(r.stdout).toMatch(/alice@example\.com\s+plus\s+82% · 14:30\s+0% · Tue 09:00/);
    const j = listJson((await sb.run(['list', '--json'], { now })).stdout);
    expect(j.accounts[0]?.usage).toEqual({
      fiveHour: { usedPercent: 18, remainingPercent: 82, resetsAt: '2026-11-23T14:30:00.000Z' },
      weekly: { usedPercent: 100, remainingPercent: 0, resetsAt: '2026-11-24T09:00:00.000Z' },
      fetchedAt: '2026-11-23T09:58:00.000Z',
      source: 'api',
      error: null,
    });
  });

  it('warns when Codex\'s auth.json can be read by other users', async () => {
    sb.writeAuth(remember(chatgptAuth(ALICE)));
    expect((await sb.run(['list'])).stderr).not.toContain('can be read by');
    fs.chmodSync(sb.authJsonPath, 0o644);
    const r = await sb.run(['list']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`warning: ${sb.authJsonPath} can be read by every user (mode 0644); fix it: chmod 600`);
    expect(r.stderr.match(/can be read by/g)).toHaveLength(1);
    fs.chmodSync(sb.authJsonPath, 0o640);
    expect((await sb.run(['status'])).stderr).toContain('can be read by its group (mode 0640)');
  });

  it('colors only on a TTY, and never with NO_COLOR', async () => {
    sb.writeAuth(remember(chatgptAuth(ALICE)));
    expect((await sb.run(['list'])).stdout).not.toContain('\x1b[');
    expect((await sb.run(['list'], { tty: true })).stdout).toContain('\x1b[');
    expect((await sb.run(['list'], { tty: true, env: { NO_COLOR: '1' } })).stdout).not.toContain('\x1b[');
  });
});

describe('import', () => {
  it('imports files and directories, recursively with -r, and reports each file', async () => {
    writeFile('dir/a.json', remember(chatgptAuth(ALICE)));
    writeFile('dir/config.json', { model: 'x' });
    writeFile('dir/sub/b.json', remember(chatgptAuth(BOB)));
    const flat = await sb.run(['import', path.join(sb.root, 'in', 'dir')]);
    expect(flat.code).toBe(0);
    expect(flat.stdout).toMatch(/^imported\s+.*a\.json\s+alice@example\.com \(plus\)$/m);
    expect(flat.stdout).toMatch(/^skipped\s+.*config\.json \(not a Codex auth\.json\)$/m);
    expect(flat.stdout).not.toContain('b.json');
    expect(flat.stderr).toContain('1 imported, 0 updated, 0 unchanged, 1 skipped.');
    const rec = await sb.run(['import', '-r', path.join(sb.root, 'in', 'dir')]);
    expect(rec.stdout).toMatch(/^unchanged\s+.*a\.json/m);
    expect(rec.stdout).toMatch(/^imported\s+.*sub\/b\.json\s+bob@example\.com \(pro\)$/m);
    expect(registry().accounts.map((a) => a.id).sort()).toEqual(['chatgpt::user-alice::acc-alice', 'chatgpt::user-bob::acc-bob']);
  });

  it('imports the live credentials with no PATH, with an alias', async () => {
    sb.writeAuth(remember(chatgptAuth(ALICE)));
    const r = await sb.run(['import', '--alias', 'home']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^imported\s+.*auth\.json\s+home — alice@example\.com \(plus\)$/m);
    expect(registry()).toMatchObject({ activeId: 'chatgpt::user-alice::acc-alice', accounts: [{ alias: 'home' }] });
  });

  it('fails clearly when there is no live login to import', async () => {
    const r = await sb.run(['import']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Codex has no current login');
  });

  it('updates a stored account from a newer file and keeps the newer one otherwise', async () => {
    const old = remember(chatgptAuth({ ...ALICE, lastRefresh: '2026-11-01T00:00:00Z' }));
    const newer = remember(chatgptAuth({ ...ALICE, lastRefresh: '2026-11-05T00:00:00Z' }));
    await sb.run(['import', writeFile('new.json', newer)]);
    const r = await sb.run(['import', writeFile('old.json', old)]);
    expect(r.stdout).toMatch(/^unchanged\s+.*old\.json .*\(the stored copy is newer\)$/m);
    const r2 = await sb.run(['import', writeFile('new2.json', newer)]);
    expect(r2.stdout).toMatch(/^unchanged\s+.*new2\.json/m);
    const stored = JSON.parse(fs.readFileSync(path.join(sb.codexHome, 'codex-auth', 'accounts', 'chatgpt__user-alice__acc-alice.json'), 'utf8'));
    expect(stored.tokens.refresh_token).toBe(newer.tokens.refresh_token);
  });

  it('gets an API key identity from /v1/me', async () => {
    const key = fakeApiKey('import-me');
    secrets.push(key);
    fake.addApiKey(key, { id: 'user-imp', email: 'imp@example.com', name: 'Imp' });
    const r = await sb.run(['import', writeFile('key.json', apiKeyAuth(key))]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^imported\\s+.*key\\.json\\s+imp@example\\.com \\(API key sk-proj-\\*\\*\\*${key.slice(-4)}\\)$`, 'm'));
    const seen = fake.requests({ path: '/v1/me' }).at(-1);
    expect(seen?.headers.authorization).toBe(`Bearer ${key}`);
    expect(registry().accounts[0]).toMatchObject({ kind: 'apikey', plan: 'API_KEY', email: 'imp@example.com', meId: 'user-imp' });
  });

  const bad: Array<[string, string, string]> = [
    ['empty', '', 'invalid auth.json: it is empty'],
    ['not JSON', '{"tokens": ', 'invalid auth.json: it is not valid JSON'],
    ['wrongly typed', '{"OPENAI_API_KEY": 12}', 'invalid auth.json: "OPENAI_API_KEY" must be a string or null, found a number'],
    ['undecodable JWT', JSON.stringify({ tokens: { id_token: 'abc', access_token: 'x', refresh_token: 'y' } }), 'invalid auth.json: "tokens.id_token" is not a JWT (expected three dot-separated parts)'],
    ['missing ids', JSON.stringify({ tokens: { id_token: makeJwt({ email: 'x@y.z' }), access_token: 'x', refresh_token: 'y' } }), 'invalid auth.json: "tokens.id_token" has no chatgpt_user_id (or user_id) claim'],
  ];
  it.each(bad)('skips an %s file with a clear reason, exit 1, and keeps the good ones', async (_name, text, reason) => {
    const good = writeFile('good.json', remember(chatgptAuth(ALICE)));
    const badFile = writeFile('bad.json', text);
    const before = fs.readFileSync(badFile, 'utf8');
    const r = await sb.run(['import', good, badFile]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^imported\s+.*good\.json/m);
    expect(r.stdout).toContain(`bad.json (${reason}`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(fs.readFileSync(badFile, 'utf8')).toBe(before);
    expect(registry().accounts).toHaveLength(1);
  });

  it.each([
    ['401', { status: 401 }, 'OpenAI rejected this API key (HTTP 401)'],
    ['500', { status: 500 }, 'OpenAI answered HTTP 500'],
    ['a hang', { hang: true }, 'Could not verify the API key with OpenAI: no answer from'],
    ['garbage', { garbage: true }, 'without a user id'],
  ])('skips an API key when /v1/me answers %s, storing nothing', async (_n, fault, reason) => {
    const key = fakeApiKey(`bad-${_n}`);
    secrets.push(key);
    fake.addApiKey(key, {}, fault);
    const r = await sb.run(['import', writeFile('k.json', apiKeyAuth(key))]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(reason);
    expect(fs.existsSync(path.join(sb.codexHome, 'codex-auth', 'registry.json'))).toBe(false);
    expect(fs.existsSync(path.join(sb.codexHome, 'codex-auth', 'accounts'))).toBe(false);
  });

  it('reports a missing path and refuses --alias with several files', async () => {
    const r = await sb.run(['import', path.join(sb.root, 'nope.json')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^skipped\s+.*nope\.json \(no such file or directory\)$/m);
    const a = writeFile('a.json', remember(chatgptAuth(ALICE)));
    const b = writeFile('b.json', remember(chatgptAuth(BOB)));
    const two = await sb.run(['import', '--alias', 'x', a, b]);
    expect(two.code).toBe(2);
    expect(two.stderr).toContain('--alias names one account');
    const digits = await sb.run(['import', '--alias', '12', a]);
    expect(digits.code).toBe(2);
    expect(digits.stderr).toContain('cannot be only digits');
  });
});

describe('switch', () => {
  async function threeAccounts(): Promise<{ a: ChatgptAuthDoc; t: ChatgptAuthDoc; b: ChatgptAuthDoc }> {
    const a = remember(chatgptAuth(ALICE));
    const t = remember(chatgptAuth(ALICE_TEAM));
    const b = remember(chatgptAuth(BOB));
    sb.writeAuth(a);
    expect((await sb.run(['import', writeFile('t.json', t), writeFile('b.json', b)])).code).toBe(0);
    return { a, t, b };
  }

  it('switches by row number, alias, email, fragment and "-", writing exactly the stored snapshot', async () => {
    const { a, t, b } = await threeAccounts();
    let r = await sb.run(['switch', '3']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('Switched Codex to bob@example.com (pro).');
    expect(JSON.parse(sb.readAuth() ?? '')).toEqual(b);
    expect(fs.statSync(sb.authJsonPath).mode & 0o777).toBe(0o600);
    await sb.run(['alias', '2', 'work']);
    r = await sb.run(['switch', 'WORK']);
    expect(JSON.parse(sb.readAuth() ?? '')).toEqual(t);
    r = await sb.run(['switch', '-']);
    expect(JSON.parse(sb.readAuth() ?? '')).toEqual(b);
    r = await sb.run(['switch', 'plus workspace']);
    expect(r.code).toBe(0);
    expect(JSON.parse(sb.readAuth() ?? '')).toEqual(a);
    r = await sb.run(['switch', 'bob@example.com', '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ schemaVersion: 1, switched: true, from: { id: 'chatgpt::user-alice::acc-alice' }, to: { id: 'chatgpt::user-bob::acc-bob', kind: 'chatgpt', plan: 'pro' } });
    expect(listJson((await sb.run(['list', '--json'])).stdout).active).toBe('chatgpt::user-bob::acc-bob');
  });

  it('is a no-op when the account is already active', async () => {
    await threeAccounts();
    const before = fs.statSync(sb.authJsonPath).mtimeMs;
    const r = await sb.run(['switch', '1', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ switched: false });
    expect(r.stderr).toContain('already uses');
    expect(fs.statSync(sb.authJsonPath).mtimeMs).toBe(before);
    expect(fs.existsSync(path.join(sb.codexHome, 'codex-auth', 'backups'))).toBe(false);
  });

  it('CODEX_AUTH_NO_CODEX_LOCKS=1 switches without Codex\'s locks and says so (file mode)', async () => {
    const { b } = await threeAccounts();
    const r = await sb.run(['switch', 'bob@example.com'], { env: { ...sb.env, CODEX_AUTH_NO_CODEX_LOCKS: '1', PATH: '/nonexistent' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: CODEX_AUTH_NO_CODEX_LOCKS=1: writing Codex's credentials without Codex's locks/);
    expect(JSON.parse(sb.readAuth() ?? '')).toEqual(b);
  });

  it('saves the live (refreshed) tokens back before switching away, and restores them on return', async () => {
    const { a } = await threeAccounts();
    const refreshed = { ...a, tokens: { ...a.tokens, refresh_token: 'rt_after_refresh_0001' }, last_refresh: new Date(Date.now() + 1000).toISOString() };
    secrets.push('rt_after_refresh_0001');
    sb.writeAuth(refreshed);
    await sb.run(['switch', 'bob']);
    await sb.run(['switch', '-']);
    expect(JSON.parse(sb.readAuth() ?? '').tokens.refresh_token).toBe('rt_after_refresh_0001');
  });

  it('keeps the last 10 backups of the live auth.json', async () => {
    const { a, b } = await threeAccounts();
    for (let i = 0; i < 12; i += 1) await sb.run(['switch', i % 2 === 0 ? 'bob' : '1']);
    const dir = path.join(sb.codexHome, 'codex-auth', 'backups');
    const files = fs.readdirSync(dir);
    expect(files).toHaveLength(10);
    for (const f of files) {
      expect(fs.statSync(path.join(dir, f)).mode & 0o777).toBe(0o600);
      const tokens = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')).tokens;
      expect([a.tokens.refresh_token, b.tokens.refresh_token]).toContain(tokens.refresh_token);
    }
  });

  it('without a TTY: no QUERY or an ambiguous one exits 2 with the candidates; an unknown one exits 1', async () => {
    const { a } = await threeAccounts();
    let r = await sb.run(['switch']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Name the account to switch to');
    expect(r.stderr).toMatch(/3\s+bob@example\.com \(pro\)/);
    r = await sb.run(['switch', 'alice']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"alice" matches several accounts');
    r = await sb.run(['switch', 'alice', '--json']);
    expect(JSON.parse(r.stdout).error.code).toBe('ambiguous_query');
    r = await sb.run(['switch', 'carol']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('No account matches "carol"');
    r = await sb.run(['switch', '42', '--json']);
    expect(JSON.parse(r.stdout)).toEqual({ schemaVersion: 1, error: { code: 'not_found', message: expect.stringContaining('No account matches "42"') } });
    expect(JSON.parse(sb.readAuth() ?? '')).toEqual(a);
  });

  it('on a TTY, picks interactively when the query is missing or ambiguous', async () => {
    const { t } = await threeAccounts();
    // "alice" matches two accounts; the picker starts on the active one (alice), ↓ moves to the team one.
    const r = await sb.run(['switch', 'alice'], { tty: true, onStdin: typeWhen('switch to:', '\x1b[B', '\r') });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(sb.readAuth() ?? '')).toEqual(t);
    const cancel = await sb.run(['switch'], { tty: true, onStdin: typeWhen('switch to:', '\x03') });
    expect(cancel.code).toBe(130);
    expect(cancel.stderr).toContain('Cancelled; nothing was changed.');
    expect(cancel.stderr).not.toContain('error');
    expect(JSON.parse(sb.readAuth() ?? '')).toEqual(t);
  });

  it('the picker starts on the active account (Enter at once changes nothing), letters filter, Esc cancels', async () => {
    const { t, b } = await threeAccounts();
    expect((await sb.run(['switch', '2'])).code).toBe(0);
    const stay = await sb.run(['switch'], { tty: true, onStdin: typeWhen('switch to:', '\r') });
    expect(stay.code, stay.stderr).toBe(0);
    expect(stay.stderr).toContain('already');
    expect(JSON.parse(sb.readAuth() ?? '')).toEqual(t);
    // j, k and q are letters of the filter like any other: "bob" picks bob.
    const bob = await sb.run(['switch'], { tty: true, onStdin: typeWhen('switch to:', 'b', 'o', 'b', '\r') });
    expect(bob.code, bob.stderr).toBe(0);
    expect(JSON.parse(sb.readAuth() ?? '')).toEqual(b);
    const esc = await sb.run(['switch'], { tty: true, onStdin: typeWhen('switch to:', 'al', '\x1b') });
    expect(esc.code).toBe(130);
    expect(esc.stderr).toContain('Cancelled; nothing was changed.');
    expect(esc.stderr).not.toContain('error');
    expect(JSON.parse(sb.readAuth() ?? '')).toEqual(b);
  });

  it('no picker on a dumb terminal or in CI: exit 2 with the candidates, as without a terminal', async () => {
    await threeAccounts();
    for (const env of [{ TERM: 'dumb' }, { CI: 'true' }] as Record<string, string>[]) {
      const r = await sb.run(['switch'], { tty: true, env });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('bob@example.com');
    }
  });

  it("a QUERY that matches nothing still saves the sync: a new live login is added, Codex's file untouched", async () => {
    await threeAccounts();
    const carol = remember(chatgptAuth({ email: 'carol@example.com', userId: 'user-carol', accountId: 'acc-carol', plan: 'plus' }));
    sb.writeAuth(carol); // Codex logged in to an account codex-auth has not seen
    const r = await sb.run(['switch', 'nobody']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('No account matches "nobody"');
    expect(r.stderr).toMatch(/carol@example\.com/); // the candidates include it: resolved after the sync
    expect(JSON.parse(sb.readAuth() ?? '')).toEqual(carol);
    const reg = JSON.parse(fs.readFileSync(path.join(sb.codexHome, 'codex-auth', 'registry.json'), 'utf8'));
    expect(reg.accounts.map((x: { email: string }) => x.email)).toContain('carol@example.com');
    expect(reg.activeId).toBe('chatgpt::user-carol::acc-carol');
  });

  it("the picker never opens while Codex's locks are held", async () => {
    await threeAccounts();
    const lock = path.join(sb.codexHome, 'auth.lock');
    let heldDuringPicker: boolean | null = null;
    const r = await sb.run(['switch', 'alice'], {
      tty: true,
      onStdin: (stdin) => {
        setTimeout(() => {
          // The picker is on screen: another process (Codex) can take auth.lock right now.
          heldDuringPicker = spawnSync('flock', ['-n', '-x', lock, 'true']).status !== 0;
          stdin.write('\r');
        }, 60);
      },
    });
    expect(r.code).toBe(0);
    expect(heldDuringPicker).toBe(false);
  });

  it('warns about running codex processes and API-key environment variables', async () => {
    await threeAccounts();
    const r = await sb.run(['switch', 'bob'], { processes: [{ pid: 4242, command: 'codex' }], env: { OPENAI_API_KEY: 'sk-env-should-not-print-000000000000' } });
    secrets.push('sk-env-should-not-print-000000000000');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('1 running Codex process keeps the old account until restarted (pid 4242)');
    expect(r.stderr).toContain('OPENAI_API_KEY is set in this environment');
  });

  it('changes nothing when the target secret is missing', async () => {
    const { a } = await threeAccounts();
    fs.unlinkSync(path.join(sb.codexHome, 'codex-auth', 'accounts', 'chatgpt__user-bob__acc-bob.json'));
    const r = await sb.run(['switch', 'bob']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('The stored credentials of bob@example.com (pro) are missing; nothing was changed');
    expect(JSON.parse(sb.readAuth() ?? '')).toEqual(a);
    expect(registry().activeId).toBe('chatgpt::user-alice::acc-alice');
  });

  it('changes nothing when CODEX_HOME is not writable', async () => {
    const { a } = await threeAccounts();
    const regBefore = registry();
    if (process.getuid?.() === 0) {
      // root ignores permission bits; /sys is a directory in which even root cannot create files.
      const r = await sb.run(['switch', 'bob'], { env: { CODEX_HOME: '/sys', CODEX_AUTH_HOME: path.join(sb.codexHome, 'codex-auth') } });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/Cannot write in \/sys \(EACCES on auth\.lock\); nothing was changed/);
    } else {
      fs.chmodSync(sb.codexHome, 0o500);
      try {
        const r = await sb.run(['switch', 'bob']);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/Cannot write in .*nothing was changed/);
      } finally {
        fs.chmodSync(sb.codexHome, 0o700);
      }
    }
    expect(JSON.parse(sb.readAuth() ?? '')).toEqual(a);
    // (As root the run saw /sys as Codex's home, which has no login: only the accounts must be intact.)
    if (process.getuid?.() !== 0) expect(registry().activeId).toBe(regBefore.activeId);
    expect(registry().accounts).toEqual(regBefore.accounts);
    expect(fs.readdirSync(path.join(sb.codexHome, 'codex-auth', 'accounts'))).toHaveLength(3);
  });
});

describe('remove and alias', () => {
  async function two(): Promise<void> {
    sb.writeAuth(remember(chatgptAuth(ALICE)));
    await sb.run(['import', writeFile('b.json', remember(chatgptAuth(BOB)))]);
  }

  it('needs --yes without a terminal, and deletes the stored secret', async () => {
    await two();
    const secretFile = path.join(sb.codexHome, 'codex-auth', 'accounts', 'chatgpt__user-bob__acc-bob.json');
    let r = await sb.run(['remove', 'bob']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('pass --yes');
    expect(fs.existsSync(secretFile)).toBe(true);
    r = await sb.run(['remove', 'bob', '--yes']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('Removed bob@example.com (pro).');
    expect(fs.existsSync(secretFile)).toBe(false);
    expect(registry().accounts.map((a) => a.id)).toEqual(['chatgpt::user-alice::acc-alice']);
  });

  it('resolves every selector before deleting anything', async () => {
    await two();
    const r = await sb.run(['remove', 'bob', 'nobody', '--yes']);
    expect(r.code).toBe(1);
    expect(registry().accounts).toHaveLength(2);
    expect(fs.readdirSync(path.join(sb.codexHome, 'codex-auth', 'accounts'))).toHaveLength(2);
  });

  it('confirms on a TTY; No or Ctrl-C is a cancel: exit 130, no "error:", nothing removed', async () => {
    await two();
    const no = await sb.run(['remove', 'bob'], { tty: true, onStdin: typeWhen('delete the stored credentials?', 'n', '\r') });
    expect(no.code).toBe(130);
    expect(no.stderr).toContain('Cancelled; nothing was removed.');
    expect(no.stderr).not.toContain('error');
    expect(registry().accounts).toHaveLength(2);
    const ctrlC = await sb.run(['remove', 'bob'], { tty: true, onStdin: typeWhen('delete the stored credentials?', '\x03') });
    expect(ctrlC.code).toBe(130);
    expect(ctrlC.stderr).not.toContain('error');
    expect(registry().accounts).toHaveLength(2);
    const yes = await sb.run(['remove', 'bob'], { tty: true, onStdin: typeWhen('delete the stored credentials?', 'y', '\r') });
    expect(yes.code, yes.stderr).toBe(0);
    expect(registry().accounts).toHaveLength(1);
  });

  it('without a prompt (a dumb terminal, CI) remove needs --yes: exit 2', async () => {
    await two();
    for (const env of [{ TERM: 'dumb' }, { CI: '1' }] as Record<string, string>[]) {
      const r = await sb.run(['remove', 'bob'], { tty: true, env });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('pass --yes');
    }
    expect(registry().accounts).toHaveLength(2);
  });

  it('leaves the live login alone when removing the active account, and does not re-add it', async () => {
    await two();
    const live = sb.readAuth();
    const r = await sb.run(['remove', '1', '--yes']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("is still Codex's current login");
    expect(sb.readAuth()).toBe(live);
    const l = listJson((await sb.run(['list', '--json'])).stdout);
    expect(l.active).toBeNull();
    expect(l.accounts.map((a) => a.email)).toEqual(['bob@example.com']);
    // Importing it explicitly brings it back.
    await sb.run(['import']);
    expect(listJson((await sb.run(['list', '--json'])).stdout).accounts).toHaveLength(2);
  });

  it('names and unnames accounts, refusing duplicates and bad names', async () => {
    await two();
    expect((await sb.run(['alias', 'bob', 'work'])).code).toBe(0);
    expect(registry().accounts.find((a) => a.email === 'bob@example.com')?.alias).toBe('work');
    const dup = await sb.run(['alias', 'alice', 'Work']);
    expect(dup.code).toBe(2);
    expect(dup.stderr).toContain('already names');
    expect((await sb.run(['alias', 'work', '7'])).code).toBe(2);
    expect((await sb.run(['alias', 'work'])).code).toBe(2);
    expect((await sb.run(['alias', 'work', '--clear'])).code).toBe(0);
    expect(registry().accounts.find((a) => a.email === 'bob@example.com')?.alias).toBeNull();
  });
});

describe('registry safety and status', () => {
  it('moves a corrupt registry aside loudly instead of crashing', async () => {
    const home = path.join(sb.codexHome, 'codex-auth');
    fs.mkdirSync(home, { recursive: true });
    fs.writeFileSync(path.join(home, 'registry.json'), '{"version": 1, "accounts": "oops"');
    sb.writeAuth(remember(chatgptAuth(ALICE)));
    const r = await sb.run(['list']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/registry\.json is corrupt \(it is not valid JSON\)\. It was moved to .*registry\.json\.corrupt-/);
    const aside = fs.readdirSync(home).filter((f) => f.startsWith('registry.json.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(fs.readFileSync(path.join(home, aside[0] as string), 'utf8')).toBe('{"version": 1, "accounts": "oops"');
    expect(registry().accounts).toHaveLength(1);
  });

  it('reports a schema error with its path', async () => {
    const home = path.join(sb.codexHome, 'codex-auth');
    fs.mkdirSync(home, { recursive: true });
    fs.writeFileSync(path.join(home, 'registry.json'), JSON.stringify({ version: 1, activeId: null, previousId: null, accounts: [{ id: 5 }], fallback: {} }));
    const r = await sb.run(['list']);
    expect(r.stderr).toMatch(/registry\.json is corrupt \(accounts\.0\.id: /);
  });

  it('never overwrites a registry from a newer codex-auth', async () => {
    const home = path.join(sb.codexHome, 'codex-auth');
    fs.mkdirSync(home, { recursive: true });
    const text = JSON.stringify({ version: 99, accounts: [] });
    fs.writeFileSync(path.join(home, 'registry.json'), text);
    sb.writeAuth(remember(chatgptAuth(ALICE)));
    const r = await sb.run(['list', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe('registry_too_new');
    expect(fs.readFileSync(path.join(home, 'registry.json'), 'utf8')).toBe(text);
  });

  it('rejects a CODEX_HOME that does not exist or is a file', async () => {
    let r = await sb.run(['list'], { env: { CODEX_HOME: path.join(sb.root, 'missing') } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('CODEX_HOME points to');
    expect(r.stderr).toContain('which does not exist');
    const file = writeFile('f.txt', 'x');
    r = await sb.run(['--codex-home', file, 'list']);
    expect(r.stderr).toContain('--codex-home points to');
    expect(r.stderr).toContain('which is not a directory');
  });

  it('reports status as text and JSON without revealing secrets', async () => {
    sb.writeAuth(remember(chatgptAuth(ALICE)));
    secrets.push('sk-status-secret-00000000000000');
    const r = await sb.run(['status'], { env: { OPENAI_API_KEY: 'sk-status-secret-00000000000000' }, processes: [{ pid: 7, command: 'codex' }] });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Active account\s+alice@example\.com \(plus\)/);
    expect(r.stdout).toMatch(/Codex credentials\s+file mode \(default\)/);
    expect(r.stdout).toContain('OPENAI_API_KEY=set');
    expect(r.stdout).toContain('codex (pid 7)');
    const j = JSON.parse((await sb.run(['status', '--json'])).stdout);
    expect(j).toMatchObject({ schemaVersion: 1, active: { id: 'chatgpt::user-alice::acc-alice' }, credentialStore: { mode: 'file', explicit: false }, registry: { accounts: 1 } });
  });

  it('reads the credential store mode from config.toml', async () => {
    fs.writeFileSync(path.join(sb.codexHome, 'config.toml'), 'model = "o3"\ncli_auth_credentials_store = "file"\n');
    const j = JSON.parse((await sb.run(['status', '--json'])).stdout);
    expect(j.credentialStore).toMatchObject({ mode: 'file', explicit: true });
    fs.writeFileSync(path.join(sb.codexHome, 'config.toml'), 'cli_auth_credentials_store = [oops\n');
    const r = await sb.run(['status']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('config.toml is not valid TOML');
  });

  it('exits 2 on unknown options with a usage message', async () => {
    const r = await sb.run(['list', '--nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--nope'");
    const j = await sb.run(['list', '--nope', '--json']);
    expect(JSON.parse(j.stdout).error.code).toBe('usage');
  });
});
