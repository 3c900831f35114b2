/** When the registry's record of auth.json stands in for hashing it (src/services/sync.ts trustedRecord). */
import { describe, expect, it } from 'vitest';
import { parseAuthJson } from '../../src/domain/authfile.js';
import type { LiveFileStat } from '../../src/store/live.js';
import { emptyRegistry } from '../../src/store/registry-defaults.js';
import type { LiveFile, Registry } from '../../src/store/registry-schema.js';
import { identifyLocally, type LiveRead, trustedRecord } from '../../src/services/sync.js';
import { apiKeyAuth, chatgptAuth, fakeApiKey } from '../support/jwt.js';

const STAT = { dev: '2049', ino: '1234567', size: '2345', mtimeNs: '1767225600123456789', ctimeNs: '1767225600123456790' };
const ALICE_ID = 'chatgpt::user-alice::acc-alice';

function setup(doc: object, accountId = ALICE_ID, stat: LiveFileStat | null = STAT) {
  const text = JSON.stringify(doc);
  const live: LiveRead = { kind: 'ok', text, auth: parseAuthJson(text), stat };
  const rec: LiveFile = { ...STAT, fingerprint: 'f'.repeat(64), accountId };
  const reg: Registry = { ...emptyRegistry(), liveFile: rec };
  return { live, rec, reg };
}

describe('trustedRecord', () => {
  const alice = chatgptAuth({ email: 'alice@example.com', userId: 'user-alice', accountId: 'acc-alice' });

  it('is the record when the file read is exactly the recorded version', () => {
    const { live, rec, reg } = setup(alice);
    expect(trustedRecord(reg, live)).toBe(rec);
  });

  it.each(Object.keys(STAT))('is null when %s differs, even by one', (field) => {
    const key = field as keyof typeof STAT;
    const { live, reg } = setup(alice, ALICE_ID, { ...STAT, [key]: String(BigInt(STAT[key]) + 1n) });
    expect(trustedRecord(reg, live)).toBeNull();
  });

  it('is null without a stat (keyring and auto modes), without a record, or for no credentials', () => {
    const { live, reg } = setup(alice, ALICE_ID, null);
    expect(trustedRecord(reg, live)).toBeNull();
    expect(trustedRecord({ ...reg, liveFile: null }, setup(alice).live)).toBeNull();
    expect(trustedRecord(reg, { kind: 'none' })).toBeNull();
  });

  it('is null on a file system that keeps whole seconds only', () => {
    const coarse = { ...STAT, mtimeNs: '1767225600000000000', ctimeNs: '1767225600000000000' };
    const { live, reg } = setup(alice, ALICE_ID, coarse);
    reg.liveFile = { ...(reg.liveFile as LiveFile), ...coarse };
    expect(trustedRecord(reg, live)).toBeNull();
  });

  it('is null when a ChatGPT login names another account than the record', () => {
    const { live, reg } = setup(alice, 'chatgpt::user-bob::acc-bob');
    expect(trustedRecord(reg, live)).toBeNull();
  });

  it("names an API key's account without hashing the key; without a record the key hash decides", () => {
    const key = fakeApiKey('unit-record');
    const { live, rec, reg } = setup(apiKeyAuth(key), 'apikey::user-k::recorded');
    reg.accounts.push({ id: 'apikey::user-k::recorded', kind: 'apikey', email: 'k@example.com', alias: null, plan: 'API_KEY', secret: { store: 'keyring', ref: 'k' }, snapshot: { lastRefresh: null, fingerprint: 'x' }, addedAt: '', updatedAt: '', lastActivityAt: null });
    expect(trustedRecord(reg, live)).toBe(rec);
    if (live.kind !== 'ok') throw new Error('unreachable');
    expect(identifyLocally(live.auth, reg, rec)?.id).toBe('apikey::user-k::recorded');
    expect(identifyLocally(live.auth, reg)).toBeNull();
  });
});
