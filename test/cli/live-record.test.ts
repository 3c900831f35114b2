/**
 * The registry's record of Codex's auth.json (src/services/sync.ts, `liveFile`): after codex-auth writes the
 * live file, later runs that find exactly that file version (device, inode, size, mtime and ctime to
 * the nanosecond) take its fingerprint and account from the record instead of hashing it. Every other
 * version is hashed as before: Codex's rename of rotated tokens, a `cp` of another account over it
 * (same inode), a `touch` putting mtime back, a same-size rewrite within the same second.
 *
 * The hash function is wrapped (vi.mock) to see what is hashed; whether the record was trusted
 * wrongly shows in what the commands do, so each test fails when it is.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type FakeOpenAI as Fake, FakeOpenAI } from '../support/fake-openai.js';
import { findSecrets, makeSandbox, type Sandbox } from '../support/inprocess.js';
import { apiKeyAuth, type ChatgptAuthDoc, chatgptAuth, fakeApiKey, makeRefreshToken, nowSeconds } from '../support/jwt.js';

const hashed = vi.hoisted(() => ({ inputs: [] as string[] }));
vi.mock('../../src/domain/hash.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/domain/hash.js')>();
  return {
    ...real,
    sha256Hex: (s: string) => {
      hashed.inputs.push(s);
      return real.sha256Hex(s);
    },
  };
});

const ALICE = { email: 'alice@example.com', userId: 'user-alice', accountId: 'acc-alice', plan: 'plus' };
const BOB = { email: 'bob@example.com', userId: 'user-bob', accountId: 'acc-bob', plan: 'pro' };
const ALICE_ID = 'chatgpt::user-alice::acc-alice';
const BOB_ID = 'chatgpt::user-bob::acc-bob';

let fake: Fake;
let sb: Sandbox;
const secrets: string[] = [];

type LiveFile = { dev: string; ino: string; size: string; mtimeNs: string; ctimeNs: string; fingerprint: string; accountId: string };
type Reg = { activeId: string | null; liveFile?: LiveFile | null; accounts: Array<{ id: string; email: string | null; snapshot: { fingerprint: string } }> };

const registryFile = () => path.join(sb.codexHome, 'codex-auth', 'registry.json');
const registry = (): Reg => JSON.parse(fs.readFileSync(registryFile(), 'utf8'));
const bigStat = (file: string) => fs.statSync(file, { bigint: true });

/** auth.json as codex-auth writes it (so that a same-size document really has the same size). */
const authText = (doc: object) => `${JSON.stringify(doc, null, 2)}\n`;

function remember<T extends object>(doc: T): T {
  const d = doc as Partial<ChatgptAuthDoc> & { OPENAI_API_KEY?: string | null };
  if (d.tokens) secrets.push(d.tokens.refresh_token, d.tokens.access_token, d.tokens.id_token);
  if (d.OPENAI_API_KEY) secrets.push(d.OPENAI_API_KEY);
  return doc;
}

function writeFile(name: string, doc: object): string {
  const p = path.join(sb.root, 'in', name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, authText(doc));
  return p;
}

/** The same login with a rotated refresh token and a later last_refresh: a document of the same size. */
function rotated(doc: ChatgptAuthDoc): ChatgptAuthDoc {
  return remember({ ...doc, tokens: { ...doc.tokens, refresh_token: makeRefreshToken() }, last_refresh: new Date(Date.parse(doc.last_refresh) + 60_000).toISOString() });
}

/** Was something containing `secret` (a refresh token, an API key) hashed since the last reset? */
const wasHashed = (secret: string) => hashed.inputs.some((s) => s.includes(secret));

async function activeOf(): Promise<string | null> {
  const r = await sb.run(['list', '--json']);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout).active;
}

function storedRefreshToken(id: string): string {
  const file = path.join(sb.codexHome, 'codex-auth', 'accounts', `${id.replaceAll('::', '__')}.json`);
  return JSON.parse(fs.readFileSync(file, 'utf8')).tokens.refresh_token;
}

/** ALICE live and imported, BOB stored; then a switch to BOB, which records the file it wrote. */
async function switchedToBob(): Promise<{ alice: ChatgptAuthDoc; bob: ChatgptAuthDoc }> {
  const alice = remember(chatgptAuth(ALICE));
  const bob = remember(chatgptAuth(BOB));
  sb.writeAuth(authText(alice));
  expect((await sb.run(['import', writeFile('alice.json', alice), writeFile('bob.json', bob)])).code).toBe(0);
  expect((await sb.run(['switch', 'bob@example.com'])).code).toBe(0);
  return { alice, bob };
}

beforeAll(async () => {
  fake = await FakeOpenAI.start();
});
afterAll(async () => {
  await fake.close();
});
function freshSandbox(): Sandbox {
  const s = makeSandbox();
  s.env.CODEX_AUTH_OPENAI_BASE_URL = fake.openaiBaseUrl;
  s.env.CODEX_AUTH_CHATGPT_BASE_URL = fake.chatgptBaseUrl;
  s.env.CODEX_REFRESH_TOKEN_URL_OVERRIDE = fake.refreshUrl;
  s.env.CODEX_AUTH_HTTP_TIMEOUT_MS = '1500';
  return s;
}

beforeEach(() => {
  sb = freshSandbox();
  hashed.inputs.length = 0;
});
afterEach(() => {
  expect(findSecrets(sb.transcript, secrets)).toEqual([]);
  sb.cleanup();
});

describe('the record of the live auth.json', () => {
  it('is written by a switch, and a list after it hashes nothing and writes nothing', async () => {
    await switchedToBob();
    const st = bigStat(sb.authJsonPath);
    const rec = registry().liveFile;
    expect(rec).toEqual({
      dev: String(st.dev),
      ino: String(st.ino),
      size: String(st.size),
      mtimeNs: String(st.mtimeNs),
      ctimeNs: String(st.ctimeNs),
      fingerprint: registry().accounts.find((a) => a.id === BOB_ID)?.snapshot.fingerprint,
      accountId: BOB_ID,
    });
    const regBefore = fs.readFileSync(registryFile(), 'utf8');
    const regStat = bigStat(registryFile());
    hashed.inputs.length = 0;
    expect(await activeOf()).toBe(BOB_ID);
    expect((await sb.run(['list'])).code).toBe(0);
    expect((await sb.run(['status'])).code).toBe(0);
    expect(hashed.inputs).toEqual([]);
    expect(fs.readFileSync(registryFile(), 'utf8')).toBe(regBefore);
    expect(bigStat(registryFile()).mtimeNs).toBe(regStat.mtimeNs);
  });

  it('names the account of a live API key, so a list after a switch to it hashes nothing either', async () => {
    const k1 = fakeApiKey('record-k1');
    const k2 = fakeApiKey('record-k2');
    secrets.push(k1, k2);
    const u1 = fake.addApiKey(k1, { email: 'k1@example.com' });
    fake.addApiKey(k2, { email: 'k2@example.com' });
    expect((await sb.run(['import', writeFile('k1.json', apiKeyAuth(k1)), writeFile('k2.json', apiKeyAuth(k2))])).code).toBe(0);
    expect((await sb.run(['switch', 'k1@example.com'])).code).toBe(0);
    const id = registry().accounts.find((a) => a.email === 'k1@example.com')?.id;
    expect(id).toMatch(new RegExp(`^apikey::${u1.id}::[0-9a-f]{64}$`));
    expect(registry().liveFile?.accountId).toBe(id);
    hashed.inputs.length = 0;
    expect(await activeOf()).toBe(id);
    expect(hashed.inputs).toEqual([]);
  });

  it("is not used once Codex renames rotated tokens into place: they are saved, and recorded with that save", async () => {
    const { bob } = await switchedToBob();
    const before = bigStat(sb.authJsonPath);
    const next = rotated(bob);
    // What Codex does (CODEX-FACTS.md §9): a temp file beside auth.json, renamed over it.
    const tmp = path.join(sb.codexHome, '.auth-rotated');
    fs.writeFileSync(tmp, authText(next), { mode: 0o600 });
    fs.renameSync(tmp, sb.authJsonPath);
    const after = bigStat(sb.authJsonPath);
    expect(after.ino).not.toBe(before.ino);
    expect(after.size).toBe(before.size);
    hashed.inputs.length = 0;
    expect(await activeOf()).toBe(BOB_ID);
    expect(wasHashed(next.tokens.refresh_token)).toBe(true);
    expect(storedRefreshToken(BOB_ID)).toBe(next.tokens.refresh_token);
    expect(registry().liveFile).toMatchObject({ ino: String(after.ino), ctimeNs: String(after.ctimeNs), accountId: BOB_ID });
    hashed.inputs.length = 0;
    expect(await activeOf()).toBe(BOB_ID);
    expect(hashed.inputs).toEqual([]);
  });

  describe('a cp of another API key over auth.json (same inode, same size)', () => {
    async function twoKeys(): Promise<{ k2File: string; k1Id: string; k2Id: string }> {
      const k1 = fakeApiKey('cp-k1');
      const k2 = fakeApiKey('cp-k2');
      secrets.push(k1, k2);
      fake.addApiKey(k1, { email: 'k1@example.com' });
      fake.addApiKey(k2, { email: 'k2@example.com' });
      const k2File = writeFile('k2.json', apiKeyAuth(k2));
      expect((await sb.run(['import', writeFile('k1.json', apiKeyAuth(k1)), k2File])).code).toBe(0);
      expect((await sb.run(['switch', 'k1@example.com'])).code).toBe(0);
      const ids = (email: string) => registry().accounts.find((a) => a.email === email)?.id ?? '';
      expect(registry().liveFile?.accountId).toBe(ids('k1@example.com'));
      return { k2File, k1Id: ids('k1@example.com'), k2Id: ids('k2@example.com') };
    }

    function cp(from: string, to: string): void {
      const r = spawnSync('cp', [from, to], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }

    it('is that other account', async () => {
      const { k2File, k1Id, k2Id } = await twoKeys();
      const before = bigStat(sb.authJsonPath);
      cp(k2File, sb.authJsonPath);
      const after = bigStat(sb.authJsonPath);
      expect([after.ino, after.size]).toEqual([before.ino, before.size]);
      const text = fs.readFileSync(registryFile(), 'utf8');
      expect(await activeOf()).toBe(k2Id);
      expect(k2Id).not.toBe(k1Id);
      // list is a read command: it writes nothing; the next command that writes records the file.
      expect(fs.readFileSync(registryFile(), 'utf8')).toBe(text);
      expect((await sb.run(['alias', 'k2@example.com', 'k2'])).code).toBe(0);
      expect(registry().liveFile?.accountId).toBe(k2Id);
      expect(registry().activeId).toBe(k2Id);
    });

    it('is that other account even with its mtime put back (touch): ctime tells', async () => {
      const { k2File, k2Id } = await twoKeys();
      const rec = registry().liveFile as LiveFile;
      const ref = path.join(sb.root, 'mtime-ref');
      fs.writeFileSync(ref, '');
      const touch = (...args: string[]) => expect(spawnSync('touch', args, { encoding: 'utf8' }).status).toBe(0);
      touch('-r', sb.authJsonPath, ref);
      cp(k2File, sb.authJsonPath);
      touch('-r', ref, sb.authJsonPath);
      const after = bigStat(sb.authJsonPath);
      // Only ctime differs from the record (which nobody can set by hand).
      expect([String(after.dev), String(after.ino), String(after.size), String(after.mtimeNs)]).toEqual([rec.dev, rec.ino, rec.size, rec.mtimeNs]);
      expect(String(after.ctimeNs)).not.toBe(rec.ctimeNs);
      expect(await activeOf()).toBe(k2Id);
    });
  });

  it('is not used for the same file rewritten in place with the same size within the same second', async () => {
    // Within one second, so a comparison of whole seconds would take the record for it.
    for (let attempt = 1; ; attempt++) {
      await vi.waitUntil(() => Date.now() % 1000 < 300, { timeout: 2000, interval: 5 });
      const { bob } = await switchedToBob();
      const rec = registry().liveFile as LiveFile;
      const next = rotated(bob);
      fs.writeFileSync(sb.authJsonPath, authText(next)); // truncate and write: the same inode
      const after = bigStat(sb.authJsonPath);
      const sec = (ns: string | bigint) => BigInt(ns) / 1_000_000_000n;
      const sameSecond = sec(after.mtimeNs) === sec(rec.mtimeNs) && sec(after.ctimeNs) === sec(rec.ctimeNs);
      if (!sameSecond && attempt < 5) {
        sb.cleanup();
        sb = freshSandbox();
        continue;
      }
      expect(sameSecond).toBe(true);
      expect([String(after.dev), String(after.ino), String(after.size)]).toEqual([rec.dev, rec.ino, rec.size]);
      expect(String(after.ctimeNs)).not.toBe(rec.ctimeNs);
      expect(await activeOf()).toBe(BOB_ID);
      expect(storedRefreshToken(BOB_ID)).toBe(next.tokens.refresh_token);
      return;
    }
  });

  it('is written after a refresh rewrote the live file, so the next list hashes nothing', async () => {
    const doc = remember(fake.addChatgptAccount({ email: 'soon@example.com', userId: 'user-soon', accountId: 'acc-soon', plan: 'plus', accessExp: nowSeconds() + 60 }));
    sb.writeAuth(authText(doc));
    expect((await sb.run(['list'])).code).toBe(0);
    const r = await sb.run(['refresh', '--json']);
    expect(JSON.parse(r.stdout).results.map((x: { status: string }) => x.status)).toEqual(['refreshed']);
    const live = JSON.parse(fs.readFileSync(sb.authJsonPath, 'utf8'));
    secrets.push(live.tokens.refresh_token, live.tokens.access_token, live.tokens.id_token);
    expect(live.tokens.refresh_token).not.toBe(doc.tokens.refresh_token);
    const st = bigStat(sb.authJsonPath);
    expect(registry().liveFile).toMatchObject({ ino: String(st.ino), ctimeNs: String(st.ctimeNs), accountId: 'chatgpt::user-soon::acc-soon' });
    hashed.inputs.length = 0;
    expect(await activeOf()).toBe('chatgpt::user-soon::acc-soon');
    expect(hashed.inputs).toEqual([]);
  });

  it('is optional: a registry without it (or with a broken one) works as before, and a read never writes one', async () => {
    const { bob } = await switchedToBob();
    for (const record of [undefined, { dev: 1, ino: 'x' }]) {
      const reg = registry() as Record<string, unknown>;
      if (record === undefined) delete reg.liveFile;
      else reg.liveFile = record;
      const text = `${JSON.stringify(reg)}\n`;
      fs.writeFileSync(registryFile(), text);
      hashed.inputs.length = 0;
      const r = await sb.run(['list', '--json']);
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout).active).toBe(BOB_ID);
      expect(wasHashed(bob.tokens.refresh_token)).toBe(true);
      // A switch to the active account reads and hashes auth.json under the registry lock, but
      // changes nothing else: the registry is not written for the record alone.
      const again = await sb.run(['switch', 'bob@example.com']);
      expect(again.stderr).toContain('nothing to do');
      expect(fs.readFileSync(registryFile(), 'utf8')).toBe(text);
    }
    // The next command that writes anyway records the file again.
    expect((await sb.run(['alias', 'bob@example.com', 'b'])).code).toBe(0);
    expect(registry().liveFile).toMatchObject({ ino: String(bigStat(sb.authJsonPath).ino), accountId: BOB_ID });
    hashed.inputs.length = 0;
    expect(await activeOf()).toBe(BOB_ID);
    expect(hashed.inputs).toEqual([]);
  });

  it('is never kept in keyring mode: reads hash as before', async () => {
    fs.writeFileSync(path.join(sb.codexHome, 'config.toml'), 'cli_auth_credentials_store = "keyring"\n');
    const alice = remember(chatgptAuth(ALICE));
    const bob = remember(chatgptAuth(BOB));
    expect((await sb.run(['import', writeFile('alice.json', alice), writeFile('bob.json', bob)])).code).toBe(0);
    expect((await sb.run(['switch', 'bob@example.com'])).code).toBe(0);
    expect(registry().liveFile ?? null).toBeNull();
    hashed.inputs.length = 0;
    expect(await activeOf()).toBe(BOB_ID);
    expect(wasHashed(bob.tokens.refresh_token)).toBe(true);
  });
});
