/**
 * "login required" is cleared by a fresh login, and is never silently switched to: an account whose
 * refresh token is gone (the fake OpenAI answers refresh_token_invalidated) is marked; importing a
 * fresh auth.json of it, or Codex's live credentials holding newer tokens of it, clear the mark (and
 * put the fresh tokens where Codex reads them when it is the active account); `switch` to a marked
 * account refuses (exit 1, naming "codex-auth login") unless --force; `status` says the active login
 * needs renewing and exits 1.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliSuite, fakeEnv } from '../support/cli-suite.js';
import type { ChatgptAuthDoc } from '../support/jwt.js';

const ALICE = { email: 'alice@example.com', userId: 'user-alice', accountId: 'acc-alice', plan: 'plus' };
const BOB = { email: 'bob@example.com', userId: 'user-bob', accountId: 'acc-bob', plan: 'pro' };
const BOB_ID = 'chatgpt::user-bob::acc-bob';

const { sb, fake, remember } = cliSuite({ env: (f) => ({ ...fakeEnv.refresh(f), ...fakeEnv.chatgpt(f), CODEX_AUTH_HTTP_TIMEOUT_MS: '2000' }) });

function writeFile(name: string, doc: object): string {
  const p = path.join(sb.root, 'in', name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, JSON.stringify(doc));
  return p;
}

function listed(): Array<{ id: string; active: boolean; loginRequired: string | null }> {
  return JSON.parse(fs.readFileSync(path.join(sb.codexHome, 'codex-auth', 'registry.json'), 'utf8')).accounts.map((a: Record<string, unknown>) => ({
    id: a.id,
    loginRequired: a.loginRequired ?? null,
  }));
}

const bobMark = () => listed().find((a) => a.id === BOB_ID)?.loginRequired ?? null;
const live = () => JSON.parse(sb.readAuth() ?? 'null') as ChatgptAuthDoc;

/** Alice live and active; Bob stored, his login gone on the server and marked by a refresh. */
async function bobLoggedOut(): Promise<ChatgptAuthDoc> {
  const alice = remember(fake.addChatgptAccount({ ...ALICE }));
  const bob = remember(fake.addChatgptAccount({ ...BOB }));
  sb.writeAuth(alice);
  expect((await sb.run(['import', writeFile('bob.json', bob)])).code).toBe(0);
  fake.invalidateRefreshTokens(BOB.accountId);
  const r = await sb.run(['refresh', 'bob', '--force']);
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(/^login required bob@example\.com/m);
  expect(bobMark()).toBeTruthy();
  return bob;
}

describe('login required', () => {
  it('switch refuses an account that needs a new login, saying how to log in; --force switches all the same', async () => {
    await bobLoggedOut();
    const before = sb.readAuth();
    const r = await sb.run(['switch', 'bob']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('needs a new login');
    expect(r.stderr).toContain('codex-auth login');
    expect(r.stderr).toContain('--force');
    expect(sb.readAuth()).toBe(before);
    const j = await sb.run(['switch', 'bob', '--json']);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout).error.code).toBe('login_required');
    const forced = await sb.run(['switch', 'bob', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toContain('Switched Codex to bob@example.com');
    expect(live().tokens.account_id).toBe(BOB.accountId);
  });

  it('status shows that the active login needs renewing and exits 1; 0 again once renewed', async () => {
    await bobLoggedOut();
    let s = await sb.run(['status']);
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/^Login\s+ok$/m);
    expect((await sb.run(['switch', 'bob', '--force'])).code).toBe(0);
    s = await sb.run(['status']);
    expect(s.code).toBe(1);
    expect(s.stdout).toMatch(/^Login\s+needs renewing \(.+\): log in to it again with "codex-auth login"/m);
    expect(s.stderr).toContain('needs renewing');
    const j = await sb.run(['status', '--json']);
    expect(j.code).toBe(1);
    const doc = JSON.parse(j.stdout);
    expect(doc.loginRequired).toBe(true);
    expect(doc.active.loginRequired).toBeTruthy();
    // A fresh login of Bob, imported: renewed.
    const fresh = remember(fake.addChatgptAccount({ ...BOB }));
    expect((await sb.run(['import', writeFile('fresh.json', fresh)])).code).toBe(0);
    s = await sb.run(['status', '--json']);
    expect(s.code).toBe(0);
    expect(JSON.parse(s.stdout).loginRequired).toBe(false);
  });

  it('importing a fresh auth.json of the account clears the mark; switch then works without --force', async () => {
    await bobLoggedOut();
    const fresh = remember(fake.addChatgptAccount({ ...BOB }));
    const imp = await sb.run(['import', writeFile('fresh.json', fresh)]);
    expect(imp.code).toBe(0);
    expect(imp.stdout).toMatch(/^updated /m);
    expect(bobMark()).toBeNull();
    expect((await sb.run(['list'])).stdout).not.toContain('[login required]');
    const sw = await sb.run(['switch', 'bob']);
    expect(sw.code, sw.stderr).toBe(0);
    expect(live()).toEqual(fresh);
    // And the fresh login refreshes: the server accepts its token.
    const r = await sb.run(['refresh', 'bob', '--force']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(fake.refreshAttempts().filter((x) => x.error === 'refresh_token_reused')).toEqual([]);
  });

  it('when the account is the active one, the fresh login also goes where Codex reads it (Codex must not keep the dead tokens)', async () => {
    const dead = await bobLoggedOut();
    expect((await sb.run(['switch', 'bob', '--force'])).code).toBe(0);
    expect(live()).toEqual(dead);
    const fresh = remember(fake.addChatgptAccount({ ...BOB }));
    const imp = await sb.run(['import', writeFile('fresh.json', fresh)]);
    expect(imp.code).toBe(0);
    expect(live()).toEqual(fresh);
    expect(bobMark()).toBeNull();
    // A switch to it is a no-op now, and Codex holds the fresh tokens.
    const sw = await sb.run(['switch', 'bob']);
    expect(sw.stderr).toContain('nothing to do');
    expect(live()).toEqual(fresh);
    // Another account's live login is never replaced by an import.
    expect((await sb.run(['switch', 'alice'])).code).toBe(0);
    const aliceLive = sb.readAuth();
    const fresher = remember(fake.addChatgptAccount({ ...BOB }));
    expect((await sb.run(['import', writeFile('fresher.json', fresher)])).code).toBe(0);
    expect(sb.readAuth()).toBe(aliceLive);
  });

  it("Codex's live credentials holding newer tokens of the account clear the mark (a codex login in Codex's own home)", async () => {
    await bobLoggedOut();
    expect((await sb.run(['switch', 'bob', '--force'])).code).toBe(0);
    const fresh = remember(fake.addChatgptAccount({ ...BOB, lastRefresh: new Date(Date.now() + 1000).toISOString() }));
    sb.writeAuth(fresh);
    const l = await sb.run(['list', '--json']);
    expect(l.code).toBe(0);
    const bob = JSON.parse(l.stdout).accounts.find((a: { id: string }) => a.id === BOB_ID);
    expect(bob.loginRequired).toBeNull();
    expect(bob.active).toBe(true);
    expect(bobMark()).toBeNull();
  });
});
