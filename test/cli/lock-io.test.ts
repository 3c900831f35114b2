/**
 * Two promises about the registry lock and read commands, checked from the outside:
 * - no network and no keyring I/O while the registry lock is held: every OS-keyring call (Codex's
 *   live entry in keyring mode, ChatGPT logins with CODEX_AUTH_STORE=keyring, API keys) and every
 *   request to the fake OpenAI asks another process whether registry.lock is free at that moment
 *   (`flock -n`), across every command that touches them;
 * - read commands read: with Codex's live login an API key codex-auth does not know, and a fake
 *   OpenAI that would answer GET /v1/me for it, `list`, `status`, `fallback status`, `doctor` and
 *   `completion` make no request and leave registry.json byte-identical; the key is shown as unknown
 *   (masked, "run codex-auth import"), never as another account, and no account is marked active;
 *   `import` identifies it.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CODEX_KEYRING_SERVICE, codexKeyringAccount } from '../../src/store/keyring.js';
import { cliSuite, fakeEnv } from '../support/cli-suite.js';
import { findSecrets } from '../support/inprocess.js';
import { apiKeyAuth, type ChatgptAuthDoc, fakeApiKey, nowSeconds } from '../support/jwt.js';

const ALICE = { email: 'alice@example.com', userId: 'user-alice', accountId: 'acc-alice', plan: 'plus' };
const BOB = { email: 'bob@example.com', userId: 'user-bob', accountId: 'acc-bob', plan: 'pro' };

const { sb, fake, secrets } = cliSuite({
  env: (f) => ({ ...fakeEnv.all(f), CODEX_AUTH_HTTP_TIMEOUT_MS: '2000' }),
  teardown: () => {
    fake.onRequest = null;
  },
});

function remember(t: { refresh_token?: string; access_token?: string; id_token?: string }): void {
  secrets.push(t.refresh_token ?? '', t.access_token ?? '', t.id_token ?? '');
}

const registryFile = () => path.join(sb.codexHome, 'codex-auth', 'registry.json');

/** Whether some process holds registry.lock right now (asked of another process, which never waits). */
function registryLockHeld(): boolean {
  const file = path.join(sb.codexHome, 'codex-auth', 'registry.lock');
  if (!fs.existsSync(file)) return false;
  return spawnSync('flock', ['-n', file, 'true']).status !== 0;
}

describe('no network and no keyring I/O while the registry lock is held', () => {
  it('across import, list --refresh, refresh, add-api-key, switch, alias, fallback, remove (keyring mode, secrets in the keyring)', async () => {
    fs.writeFileSync(path.join(sb.codexHome, 'config.toml'), 'cli_auth_credentials_store = "keyring"\n');
    sb.env.CODEX_AUTH_STORE = 'keyring';
    const violations: string[] = [];
    let command = '';
    let keyringCalls = 0;
    let requests = 0;
    for (const m of ['get', 'set', 'delete'] as const) {
      const orig = sb.keyring[m].bind(sb.keyring) as (...a: string[]) => Promise<unknown>;
      (sb.keyring as unknown as Record<string, unknown>)[m] = async (...args: string[]) => {
        keyringCalls += 1;
        if (registryLockHeld()) violations.push(`${command}: keyring ${m} ${args[0]}`);
        return orig(...args);
      };
    }
    fake.onRequest = (r) => {
      requests += 1;
      if (registryLockHeld()) violations.push(`${command}: ${r.method} ${r.path}`);
    };
    const run = async (argv: string[], input?: string) => {
      command = argv.join(' ');
      const r = await sb.run(argv, input === undefined ? {} : { input });
      expect(r.code, `${argv.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
      return r;
    };
    const alice = fake.addChatgptAccount({ ...ALICE, accessExp: nowSeconds() + 60 });
    const bob = fake.addChatgptAccount({ ...BOB });
    remember(alice.tokens);
    remember(bob.tokens);
    const codexEntry = codexKeyringAccount(sb.codexHome);
    // Codex logged in to Alice (its keyring entry); the first command imports her.
    sb.keyring.entries.set(`${CODEX_KEYRING_SERVICE}\u0000${codexEntry}`, JSON.stringify(alice));
    await run(['list']);
    const bobFile = path.join(sb.root, 'bob.json');
    fs.writeFileSync(bobFile, JSON.stringify(bob));
    await run(['import', bobFile]);
    const key = fakeApiKey('lockio');
    secrets.push(key);
    fake.addApiKey(key, { id: 'user-lockio', email: 'key@example.com' });
    await run(['add-api-key', '-'], key);
    // One account at a time: a command that works on several accounts at once (list --refresh,
    // refresh) may record one account in the registry while another one's request is in flight —
    // which keeps nothing waiting on the network — and this check could not tell the two apart.
    sb.env.CODEX_AUTH_USAGE_CONCURRENCY = '1';
    await run(['list', '--refresh']); // Alice's token expires within 5 minutes: refreshed, then usage
    for (const id of [ALICE.accountId, BOB.accountId]) remember(fake.latestTokens(id));
    await run(['refresh', 'alice', '--force']);
    await run(['refresh', 'bob', '--force']);
    for (const id of [ALICE.accountId, BOB.accountId]) remember(fake.latestTokens(id));
    await run(['switch', 'bob']);
    await run(['switch', 'key@example.com']);
    await run(['switch', '-']);
    // Codex rotated Bob's tokens itself: a read command saves them (keyring I/O, no registry lock).
    const rotated = fake.addChatgptAccount({ ...BOB, lastRefresh: new Date(Date.now() + 1000).toISOString() });
    remember(rotated.tokens);
    sb.keyring.entries.set(`${CODEX_KEYRING_SERVICE}\u0000${codexEntry}`, JSON.stringify(rotated));
    await run(['status']);
    await run(['alias', 'bob', 'b']);
    await run(['fallback', 'enable']);
    await run(['fallback', 'status', '--refresh']);
    await run(['fallback', 'disable']);
    // An unknown API key goes live: switch identifies it (GET /v1/me) before any lock.
    const other = fakeApiKey('lockio-2');
    secrets.push(other);
    fake.addApiKey(other, { id: 'user-lockio-2', email: 'other@example.com' });
    sb.keyring.entries.set(`${CODEX_KEYRING_SERVICE}\u0000${codexEntry}`, JSON.stringify(apiKeyAuth(other)));
    await run(['switch', 'alice']);
    await run(['import']);
    await run(['remove', 'other@example.com', '--yes']);
    expect(violations).toEqual([]);
    // Not vacuous: all of that went through the keyring and the network.
    expect(keyringCalls).toBeGreaterThan(20);
    expect(requests).toBeGreaterThan(6);
  });
});

describe('read commands read', () => {
  async function unknownKeyLive(): Promise<{ key: string; before: string }> {
    const alice = fake.addChatgptAccount({ ...ALICE });
    remember(alice.tokens);
    sb.writeAuth(alice);
    expect((await sb.run(['list'])).code).toBe(0);
    const key = fakeApiKey('unknown-live');
    secrets.push(key);
    fake.addApiKey(key, { id: 'user-unknown', email: 'unknown@example.com' });
    // Codex is now logged in with an API key codex-auth has never seen.
    sb.writeAuth(apiKeyAuth(key));
    return { key, before: fs.readFileSync(registryFile(), 'utf8') };
  }

  it('list, status, fallback status, doctor and completion make no request and write nothing; the key shows as unknown', async () => {
    const { key, before } = await unknownKeyLive();
    const beforeStat = fs.statSync(registryFile());
    fake.clearRequests();
    const masked = `${key.slice(0, 8)}***${key.slice(-4)}`;

    const list = await sb.run(['list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`^\\*\\s+${masked.replace(/[*]/g, '\\*')} \\[unknown: codex-auth import\\]\\s+API_KEY`, 'm'));
    expect(list.stdout).toMatch(/^\s+1\s+alice@example\.com/m); // Alice is not marked active
    expect(list.stderr).toContain('run "codex-auth import" to identify it');
    const lj = JSON.parse((await sb.run(['list', '--json'])).stdout);
    expect(lj.active).toBeNull();
    expect(lj.unknownLive).toEqual({ kind: 'apikey', keyMask: masked, hint: 'run "codex-auth import" to identify it' });
    expect(lj.accounts.map((a: { active: boolean }) => a.active)).toEqual([false]);

    const status = await sb.run(['status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^Active account\\s+${masked.replace(/[*]/g, '\\*')} \\(an API key codex-auth does not know: run "codex-auth import" to identify it\\)`, 'm'));
    const sj = JSON.parse((await sb.run(['status', '--json'])).stdout);
    expect(sj.active).toBeNull();
    expect(sj.unknownLive.keyMask).toBe(masked);

    for (const argv of [['fallback', 'status'], ['fallback', 'status', '--json'], ['doctor'], ['completion', 'bash'], ['__complete', 'switch', '']]) {
      const r = await sb.run(argv);
      expect(r.stderr, argv.join(' ')).not.toMatch(/error:/);
    }
    expect(fake.requests()).toEqual([]);
    expect(fs.readFileSync(registryFile(), 'utf8')).toBe(before);
    expect(fs.statSync(registryFile()).mtimeMs).toBe(beforeStat.mtimeMs);
    expect(findSecrets(sb.transcript, [key])).toEqual([]);

    // import identifies it (one GET /v1/me): then it is the active account.
    const imp = await sb.run(['import']);
    expect(imp.code).toBe(0);
    expect(fake.requests({ path: '/v1/me' })).toHaveLength(1);
    const after = JSON.parse((await sb.run(['list', '--json'])).stdout);
    expect(after.unknownLive).toBeUndefined();
    expect(after.accounts.find((a: { active: boolean }) => a.active)?.email).toBe('unknown@example.com');
  });

  it('list --refresh and switch identify an unknown live key (GET /v1/me); a write command that does not identify marks no account active', async () => {
    const { key } = await unknownKeyLive();
    fake.clearRequests();
    expect((await sb.run(['alias', 'alice', 'a'])).code).toBe(0);
    expect(fake.requests()).toEqual([]);
    const reg = JSON.parse(fs.readFileSync(registryFile(), 'utf8'));
    expect(reg.activeId).toBeNull();
    expect((await sb.run(['list', '--refresh', '--json'])).code).toBe(0);
    expect(fake.requests({ path: '/v1/me', bearer: key })).toHaveLength(1);
    const j = JSON.parse((await sb.run(['list', '--json'])).stdout);
    expect(j.accounts.find((a: { active: boolean }) => a.active)?.email).toBe('unknown@example.com');
  });

  it('add-api-key of the unknown live key makes it the active account', async () => {
    const { key } = await unknownKeyLive();
    const r = await sb.run(['add-api-key', '-', '--json'], { input: key });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse((await sb.run(['list', '--json'])).stdout);
    expect(j.unknownLive).toBeUndefined();
    expect(j.active).toBe(JSON.parse(r.stdout).id);
  });

  it('still saves the rotated tokens Codex wrote (and only that): a read writes the account snapshot, nothing else', async () => {
    const alice = fake.addChatgptAccount({ ...ALICE, lastRefresh: '2026-11-01T00:00:00Z' });
    remember(alice.tokens);
    sb.writeAuth(alice);
    expect((await sb.run(['list'])).code).toBe(0);
    const rotated = { ...alice, tokens: { ...alice.tokens, refresh_token: 'rt_rotated_by_codex_0123456789' }, last_refresh: '2026-11-02T00:00:00Z' } as ChatgptAuthDoc;
    secrets.push('rt_rotated_by_codex_0123456789');
    sb.writeAuth(rotated);
    fake.clearRequests();
    expect((await sb.run(['status'])).code).toBe(0);
    expect(fake.requests()).toEqual([]);
    const stored = JSON.parse(fs.readFileSync(path.join(sb.codexHome, 'codex-auth', 'accounts', 'chatgpt__user-alice__acc-alice.json'), 'utf8'));
    expect(stored.tokens.refresh_token).toBe('rt_rotated_by_codex_0123456789');
  });
});
