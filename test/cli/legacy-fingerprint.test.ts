/**
 * Upgrading from a version whose snapshot fingerprints were a hand-made 128-bit hash (32 hex digits)
 * to SHA-256 (64): a stored old-format fingerprint never matches a new one, so it reads as "not known
 * to be the same" and last_refresh decides; the next save of that snapshot rewrites it. Nothing is
 * reported corrupt, no credentials are lost, and a switch away from a live API key still works.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareSnapshotMeta } from '../../src/domain/accounts.js';
import { credentialFingerprint, parseAuthJson, sha256Hex } from '../../src/domain/authfile.js';
import { cliSuite, fakeEnv } from '../support/cli-suite.js';
import { apiKeyAuth, chatgptAuth, fakeApiKey } from '../support/jwt.js';

/** The fingerprint hash of codex-auth before SHA-256 (src/domain/hash.ts `fastHash`), kept only to make fixtures. */
function legacyFastHash(s: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ 0x9e3779b9;
  let h3 = 0x85ebca6b;
  let h4 = 0xc2b2ae35;
  for (let i = 0; i < s.length; i += 1) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h3 = Math.imul(h3 ^ c, 0x27d4eb2d);
    h4 = Math.imul(h4 ^ c, 0x165667b1);
  }
  const fmix = (h: number, len: number) => {
    h ^= len;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return (h >>> 0).toString(16).padStart(8, '0');
  };
  return fmix(h1, s.length) + fmix(h2 ^ h1, s.length) + fmix(h3 ^ h2, s.length) + fmix(h4 ^ h3, s.length);
}

type Doc = { OPENAI_API_KEY?: string | null; tokens?: { id_token: string; access_token: string; refresh_token: string } };
function legacyFingerprint(doc: Doc): string {
  return legacyFastHash(doc.OPENAI_API_KEY ? `k:${doc.OPENAI_API_KEY}` : `t:${doc.tokens?.refresh_token}:${doc.tokens?.access_token}:${doc.tokens?.id_token}`);
}

const ALICE = { email: 'alice@example.com', userId: 'user-alice', accountId: 'acc-alice', plan: 'plus' };
const BOB = { email: 'bob@example.com', userId: 'user-bob', accountId: 'acc-bob', plan: 'pro' };

const { sb, fake, secrets } = cliSuite({ env: (f) => ({ ...fakeEnv.openai(f), CODEX_AUTH_HTTP_TIMEOUT_MS: '1500' }) });

type Reg = { activeId: string | null; accounts: Array<{ id: string; snapshot: { lastRefresh: string | null; fingerprint: string } }> };
const registryFile = () => path.join(sb.codexHome, 'codex-auth', 'registry.json');
const readRegistry = (): Reg => JSON.parse(fs.readFileSync(registryFile(), 'utf8'));
const fingerprintOf = (id: string) => readRegistry().accounts.find((a) => a.id === id)?.snapshot.fingerprint;
const storedSecrets = () => {
  const dir = path.join(sb.codexHome, 'codex-auth', 'accounts');
  return fs.readdirSync(dir).map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
};

describe('fingerprints written by the previous version', () => {
  it('a fixture value of the old hash is what the previous version stored (32 hex digits), and never equals the new one', () => {
    // Values computed with the previous version's fastHash itself, before it was removed.
    expect(legacyFastHash('k:sk-test')).toBe('6ea3e1549a7be0e3a19b6a22b64c6d76');
    expect(legacyFastHash('t:rt:at:it')).toBe('4ae9a3e620f033664a95887deaaadba3');
    const auth = parseAuthJson(JSON.stringify({ auth_mode: 'apikey', OPENAI_API_KEY: 'sk-test' }));
    expect(credentialFingerprint(auth)).toBe(sha256Hex('k:sk-test'));
    expect(credentialFingerprint(auth)).toMatch(/^[0-9a-f]{64}$/);
    const old = { lastRefresh: null, fingerprint: legacyFastHash('k:sk-test') };
    expect(old.fingerprint).toMatch(/^[0-9a-f]{32}$/);
    // Same credentials, old fingerprint: not "same" (that would skip the save), and not "older"
    // (that would refuse it): the snapshot is saved again with the new fingerprint.
    expect(compareSnapshotMeta({ lastRefresh: null, fingerprint: credentialFingerprint(auth) }, old)).toBe('newer');
    const t = '2026-11-01T00:00:00.000Z';
    expect(compareSnapshotMeta({ lastRefresh: t, fingerprint: credentialFingerprint(auth) }, { lastRefresh: t, fingerprint: old.fingerprint })).toBe('newer');
  });

  it('an upgraded registry: nothing is reported corrupt, the live snapshot is re-fingerprinted, switches work both ways', async () => {
    const key = fakeApiKey('legacy');
    secrets.push(key);
    fake.addApiKey(key, { id: 'user-key', email: 'key@example.com' });
    const alice = chatgptAuth({ ...ALICE, lastRefresh: '2026-11-01T00:00:00.000Z' });
    const bob = chatgptAuth({ ...BOB, lastRefresh: '2026-11-02T00:00:00.000Z' });
    secrets.push(alice.tokens.refresh_token, alice.tokens.access_token, bob.tokens.refresh_token, bob.tokens.access_token);
    const dir = path.join(sb.root, 'in');
    fs.mkdirSync(dir);
    const files = [['a.json', alice], ['b.json', bob]].map(([name, doc]) => {
      const p = path.join(dir, name as string);
      fs.writeFileSync(p, JSON.stringify(doc));
      return p;
    });
    expect((await sb.run(['import', ...files])).code).toBe(0);
    sb.writeAuth(apiKeyAuth(key));
    expect((await sb.run(['import'])).code).toBe(0); // the live key is identified (GET /v1/me), added and active
    const before = readRegistry();
    expect(before.accounts).toHaveLength(3);
    const keyId = before.activeId as string;
    expect(keyId).toMatch(/^apikey::user-key::/);
    const aliceId = 'chatgpt::user-alice::acc-alice';
    const bobId = 'chatgpt::user-bob::acc-bob';

    // What the previous version wrote: the same registry with old-format fingerprints.
    const docs: Record<string, Doc> = { [keyId]: apiKeyAuth(key), [aliceId]: alice, [bobId]: bob };
    const legacy = { ...before, accounts: before.accounts.map((a) => ({ ...a, snapshot: { ...a.snapshot, fingerprint: legacyFingerprint(docs[a.id] as Doc) } })) };
    fs.writeFileSync(registryFile(), `${JSON.stringify(legacy)}\n`, { mode: 0o600 });
    expect(fingerprintOf(keyId)).toMatch(/^[0-9a-f]{32}$/);

    // A switch away from the live API key: its stored copy is known only by an old fingerprint,
    // which must not read as "this key is saved nowhere" (that would stop the switch).
    const sw = await sb.run(['switch', 'alice@example.com']);
    expect(sw.stderr).not.toMatch(/corrupt|not stored/);
    expect(sw.code).toBe(0);
    expect(JSON.parse(sb.readAuth() as string)).toEqual(alice);
    expect(fingerprintOf(keyId)).toBe(sha256Hex(`k:${key}`));

    // The next run re-fingerprints the live account (the same credentials, saved again).
    const list = await sb.run(['list', '--json']);
    expect(list.code).toBe(0);
    expect(list.stderr).toBe('');
    expect(fingerprintOf(aliceId)).toBe(credentialFingerprint(parseAuthJson(JSON.stringify(alice))));
    expect(fingerprintOf(bobId)).toMatch(/^[0-9a-f]{32}$/); // not read, not touched

    expect((await sb.run(['switch', 'bob@example.com'])).code).toBe(0);
    expect((await sb.run(['switch', 'key@example.com'])).code).toBe(0);
    expect(sb.readAuth() && JSON.parse(sb.readAuth() as string)).toEqual(apiKeyAuth(key));
    // Nothing lost: every stored snapshot is the credentials it was (the key, kept in the keyring,
    // has just been written back as Codex's live login above).
    const stored = storedSecrets();
    expect(stored).toHaveLength(2);
    expect(stored).toEqual(expect.arrayContaining([alice, bob]));
    expect(fs.readdirSync(path.dirname(registryFile())).filter((f) => f.includes('corrupt'))).toEqual([]);
  });
});
