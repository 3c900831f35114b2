/**
 * The pending-token journal (src/store/pending.ts, src/services/credentials.ts) and refreshes that must not
 * happen, in-process against the fake OpenAI (which rotates refresh tokens and rejects a reused one):
 * - what a refresh killed after OpenAI's answer leaves (the new tokens only in the journal) is
 *   folded in by the next command, a read command included: the stored copy and Codex's live copy
 *   get the new tokens, the registry remembers the rotated-away one, the journal is emptied, and the
 *   next refresh sends the new token (never the old one again);
 * - an entry older than the stored copy is dropped; one of an account not in the registry stays
 *   until the account is removed; a read command never waits for a busy token lock;
 * - an account whose live copy cannot be read (auth.json unreadable, Codex's keyring entry timing
 *   out, auto mode falling back to auth.json) is not refreshed: skipped with the reason, nothing sent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { credentialFingerprint, parseAuthObject, sha256Hex } from '../../src/domain/authfile.js';
import { mergeRefreshed } from '../../src/openai/oauth.js';
import { pendingDir, writePending } from '../../src/store/pending.js';
import { cliSuite, fakeEnv } from '../support/cli-suite.js';
import { type ChatgptAuthDoc, nowSeconds } from '../support/jwt.js';

const ALICE = { email: 'alice@example.com', userId: 'user-alice', accountId: 'acc-alice', plan: 'plus' };
const BOB = { email: 'bob@example.com', userId: 'user-bob', accountId: 'acc-bob', plan: 'pro' };
const ALICE_ID = 'chatgpt::user-alice::acc-alice';
const ALICE_REF = 'chatgpt__user-alice__acc-alice';
const BOB_REF = 'chatgpt__user-bob__acc-bob';

const holders: ChildProcess[] = [];
const { sb, fake, secrets } = cliSuite({
  env: (f) => ({ ...fakeEnv.refresh(f), ...fakeEnv.chatgpt(f), CODEX_AUTH_HTTP_TIMEOUT_MS: '2000', CODEX_AUTH_KEYRING_TIMEOUT_MS: '300' }),
  teardown: () => {
    for (const h of holders.splice(0)) killGroup(h);
  },
});

/** A lock holder and the command it runs (its own process group): the lock goes with them. */
function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

function remember(doc: { tokens: Record<string, string> }): void {
  rememberTokens(doc.tokens);
}

function rememberTokens(t: { refresh_token?: string; access_token?: string; id_token?: string }): void {
  secrets.push(t.refresh_token ?? '', t.access_token ?? '', t.id_token ?? '');
}

const home = () => path.join(sb.codexHome, 'codex-auth');
const stored = (ref: string) => JSON.parse(fs.readFileSync(path.join(home(), 'accounts', `${ref}.json`), 'utf8')) as ChatgptAuthDoc;
const registry = () => JSON.parse(fs.readFileSync(path.join(home(), 'registry.json'), 'utf8'));
const journal = () => (fs.existsSync(pendingDir(home())) ? fs.readdirSync(pendingDir(home())).filter((f) => !f.startsWith('.')) : []);
const live = () => JSON.parse(sb.readAuth() ?? 'null') as ChatgptAuthDoc;

/** A refresh as OpenAI answers it, done by "another process" that dies before saving anything but its journal entry. */
async function refreshKilledAfterJournal(doc: ChatgptAuthDoc, ref: string, accountId: string): Promise<ChatgptAuthDoc> {
  const res = await fetch(fake.refreshUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: 'app_EMoamEEZ73f0CkXaXp7hrann', grant_type: 'refresh_token', refresh_token: doc.tokens.refresh_token }),
  });
  expect(res.status).toBe(200);
  const tokens = (await res.json()) as Record<string, string>;
  const merged = mergeRefreshed(doc as unknown as Record<string, unknown>, { id_token: tokens.id_token, access_token: tokens.access_token, refresh_token: tokens.refresh_token }, new Date()) as unknown as ChatgptAuthDoc;
  remember(merged);
  writePending(home(), ref, {
    accountId,
    at: new Date().toISOString(),
    source: 'refresh',
    auth: merged as unknown as Record<string, unknown>,
    consumed: [credentialFingerprint(parseAuthObject(doc))],
    rotated: sha256Hex(`rt:${doc.tokens.refresh_token}`).slice(0, 24),
  });
  return merged;
}

/** Another process holding a flock on `file` until killed. */
async function holdLock(file: string): Promise<ChildProcess> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const child = spawn('flock', ['-o', '-x', file, '-c', 'echo locked; sleep 60'], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  holders.push(child);
  await new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));
  return child;
}

/** Alice live (and active), Bob stored. */
async function twoAccounts(opts: { accessExp?: number } = {}): Promise<{ alice: ChatgptAuthDoc; bob: ChatgptAuthDoc }> {
  const alice = fake.addChatgptAccount({ ...ALICE, ...opts });
  const bob = fake.addChatgptAccount({ ...BOB, ...opts });
  remember(alice);
  remember(bob);
  sb.writeAuth(alice);
  const f = path.join(sb.root, 'bob.json');
  fs.writeFileSync(f, JSON.stringify(bob));
  expect((await sb.run(['import', f])).code).toBe(0);
  return { alice, bob };
}

describe('the pending-token journal', () => {
  it('what a refresh killed after the answer left is folded in by the next command, even a read; the next refresh sends only the new token', async () => {
    const { alice } = await twoAccounts();
    const fresh = await refreshKilledAfterJournal(alice, ALICE_REF, ALICE_ID);
    expect(journal()).toHaveLength(1);
    expect(fs.statSync(path.join(pendingDir(home()), journal()[0] as string)).mode & 0o777).toBe(0o600);
    expect(fs.statSync(pendingDir(home())).mode & 0o777).toBe(0o700);
    // Codex and our store still hold the token the server has rotated away.
    expect(fake.refreshTokenState(live().tokens.refresh_token)).toBe('used');
    const l = await sb.run(['list']);
    expect(l.code).toBe(0);
    expect(journal()).toEqual([]);
    expect(stored(ALICE_REF).tokens.refresh_token).toBe(fresh.tokens.refresh_token);
    expect(live().tokens.refresh_token).toBe(fresh.tokens.refresh_token);
    const acc = registry().accounts.find((a: { id: string }) => a.id === ALICE_ID);
    expect(acc.snapshot.fingerprint).toBe(credentialFingerprint(parseAuthObject(fresh)));
    expect(acc.rotatedRefreshTokens).toContain(sha256Hex(`rt:${alice.tokens.refresh_token}`).slice(0, 24));
    const before = fake.refreshAttempts().length;
    const r = await sb.run(['refresh', 'alice', '--force']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(fake.refreshAttempts().slice(before).map((x) => x.refreshToken)).toEqual([fresh.tokens.refresh_token]);
    expect(fake.refreshAttempts().filter((x) => x.error === 'refresh_token_reused')).toEqual([]);
    rememberTokens(fake.latestTokens(ALICE.accountId));
  });

  it('a refresh folds its own account\'s journal before it decides: it never sends the token the journal replaced', async () => {
    const { bob } = await twoAccounts();
    const fresh = await refreshKilledAfterJournal(bob, BOB_REF, 'chatgpt::user-bob::acc-bob');
    const before = fake.refreshAttempts().length;
    // Straight to the refresh (its own sync folds the journal first, and so does the refresh).
    const r = await sb.run(['refresh', 'bob', '--force']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(fake.refreshAttempts().slice(before).map((x) => x.refreshToken)).toEqual([fresh.tokens.refresh_token]);
    expect(journal()).toEqual([]);
    rememberTokens(fake.latestTokens(BOB.accountId));
  });

  it('drops an entry older than the stored copy; keeps one of an account not in the registry until it is removed', async () => {
    const { bob } = await twoAccounts();
    writePending(home(), BOB_REF, { accountId: 'chatgpt::user-bob::acc-bob', at: new Date().toISOString(), source: 'live', auth: { ...bob, last_refresh: '2020-01-01T00:00:00Z', tokens: { ...bob.tokens, refresh_token: 'rt_old_copy_000000000000' } }, consumed: [], rotated: null });
    writePending(home(), 'chatgpt__user-gone__acc-gone', { accountId: 'chatgpt::user-gone::acc-gone', at: new Date().toISOString(), source: 'refresh', auth: { ...bob }, consumed: [], rotated: null });
    expect((await sb.run(['list'])).code).toBe(0);
    expect(stored(BOB_REF)).toEqual(bob);
    expect(journal()).toHaveLength(1);
    expect(journal()[0]).toMatch(/^chatgpt__user-gone__acc-gone\+/);
    // remove deletes an account's entries along with its secrets.
    writePending(home(), BOB_REF, { accountId: 'chatgpt::user-bob::acc-bob', at: new Date().toISOString(), source: 'live', auth: { ...bob }, consumed: [], rotated: null });
    const holder = await holdLock(path.join(home(), 'locks', `${BOB_REF}.lock`)); // keeps the entry pending
    expect((await sb.run(['list'])).code).toBe(0);
    expect(journal().filter((f) => f.startsWith(BOB_REF))).toHaveLength(1);
    killGroup(holder);
    await new Promise((r) => holder.once('exit', r));
    expect((await sb.run(['remove', 'bob', '--yes'])).code).toBe(0);
    expect(journal().filter((f) => f.startsWith(BOB_REF))).toEqual([]);
  });

  it('a read command never waits for a busy token lock: the entry waits for the next command', async () => {
    const { alice } = await twoAccounts();
    const fresh = await refreshKilledAfterJournal(alice, ALICE_REF, ALICE_ID);
    const holder = await holdLock(path.join(home(), 'locks', `${ALICE_REF}.lock`));
    const t0 = Date.now();
    const l = await sb.run(['list']);
    expect(l.code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(journal()).toHaveLength(1);
    killGroup(holder);
    await new Promise((r) => holder.once('exit', r));
    expect((await sb.run(['status'])).code).toBe(0);
    expect(journal()).toEqual([]);
    expect(stored(ALICE_REF).tokens.refresh_token).toBe(fresh.tokens.refresh_token);
  });
});

describe('never refreshing an account whose live copy cannot be read', () => {
  const aliceAttempts = (a: ChatgptAuthDoc) => fake.refreshAttempts().filter((x) => x.refreshToken === a.tokens.refresh_token);

  it('auth.json unreadable: the active account is skipped with the reason, the others are refreshed', async () => {
    const { alice } = await twoAccounts({ accessExp: nowSeconds() - 10 });
    fs.rmSync(sb.authJsonPath);
    fs.mkdirSync(sb.authJsonPath);
    const r = await sb.run(['refresh', '--json']);
    expect(r.code).toBe(1);
    const rows = JSON.parse(r.stdout).results as Array<{ email: string; status: string; reason: string | null }>;
    const a = rows.find((x) => x.email === ALICE.email);
    expect(a?.status).toBe('skipped');
    expect(a?.reason).toMatch(/not refreshed: Codex's live credentials cannot be read/);
    expect(rows.find((x) => x.email === BOB.email)?.status).toBe('refreshed');
    expect(aliceAttempts(alice)).toEqual([]);
    rememberTokens(fake.latestTokens(BOB.accountId));
    // Readable again: refreshed.
    fs.rmdirSync(sb.authJsonPath);
    sb.writeAuth(alice);
    const again = await sb.run(['refresh', 'alice']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    rememberTokens(fake.latestTokens(ALICE.accountId));
  });

  it("keyring mode, Codex's keyring entry timing out: not refreshed", async () => {
    fs.writeFileSync(path.join(sb.codexHome, 'config.toml'), 'cli_auth_credentials_store = "keyring"\n');
    const alice = fake.addChatgptAccount({ ...ALICE });
    remember(alice);
    const f = path.join(sb.root, 'alice.json');
    fs.writeFileSync(f, JSON.stringify(alice));
    expect((await sb.run(['import', f])).code).toBe(0);
    expect((await sb.run(['switch', 'alice'])).code).toBe(0);
    sb.keyring.mode = 'hang';
    const r = await sb.run(['refresh', 'alice', '--force']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^skipped\s+alice@example\.com .*not refreshed: Codex's live credentials cannot be read \(.*timeout/m);
    expect(aliceAttempts(alice)).toEqual([]);
    sb.keyring.mode = 'ok';
  });

  it('auto mode, the keyring unreachable (Codex would read auth.json, which may be older): not refreshed', async () => {
    fs.writeFileSync(path.join(sb.codexHome, 'config.toml'), 'cli_auth_credentials_store = "auto"\n');
    const alice = fake.addChatgptAccount({ ...ALICE });
    remember(alice);
    sb.writeAuth(alice);
    expect((await sb.run(['list'])).code).toBe(0);
    sb.keyring.mode = 'unavailable';
    const r = await sb.run(['refresh', 'alice', '--force']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^skipped\s+alice@example\.com .*keyring entry could not be read \(unavailable\)/m);
    expect(aliceAttempts(alice)).toEqual([]);
    sb.keyring.mode = 'ok';
  });
});
