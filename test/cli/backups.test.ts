/**
 * Backup retention, in-process: a backup that is the only copy of a login (one codex-auth does not
 * store, here a removed account that was still live) is never pruned by count; once that login is
 * imported it is pruned like the others.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliSuite } from '../support/cli-suite.js';
import { chatgptAuth } from '../support/jwt.js';

const { sb, remember } = cliSuite({ fake: false });

const T0 = Date.UTC(2026, 10, 23, 3, 0, 0);
const at = (i: number) => new Date(T0 + i * 1000);

describe('backup retention', () => {
  it('keeps the only copy of a login past the last 10; prunes it once that login is imported', async () => {
    const alice = remember(chatgptAuth({ email: 'alice@example.com', userId: 'user-alice', accountId: 'acc-alice', plan: 'plus' }));
    const bob = remember(chatgptAuth({ email: 'bob@example.com', userId: 'user-bob', accountId: 'acc-bob', plan: 'pro' }));
    const carol = remember(chatgptAuth({ email: 'carol@example.com', userId: 'user-carol', accountId: 'acc-carol', plan: 'team' }));
    sb.writeAuth(alice);
    for (const [name, doc] of [['bob', bob], ['carol', carol]] as const) {
      const f = path.join(sb.root, `${name}.json`);
      fs.writeFileSync(f, JSON.stringify(doc));
      expect((await sb.run(['import', f], { now: at(0) })).code).toBe(0);
    }
    // Alice's account is removed while her login is live: Codex's auth.json is its only copy.
    expect((await sb.run(['remove', 'alice', '--yes'], { now: at(0) })).code).toBe(0);
    let r = await sb.run(['switch', 'bob'], { now: at(1) });
    expect(r.code, r.stderr).toBe(0);
    const dir = path.join(sb.codexHome, 'codex-auth', 'backups');
    const holdsAlice = (f: string) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')).tokens.refresh_token === alice.tokens.refresh_token;
    const [aliceBackup] = fs.readdirSync(dir);
    expect(holdsAlice(aliceBackup as string)).toBe(true);

    // 15 more switches (N + 5 backups past the only copy): the others are pruned to the newest 10.
    for (let i = 0; i < 15; i += 1) {
      r = await sb.run(['switch', i % 2 === 0 ? 'carol' : 'bob'], { now: at(2 + i) });
      expect(r.code, r.stderr).toBe(0);
    }
    let files = fs.readdirSync(dir).sort();
    expect(files).toHaveLength(11);
    expect(files[0]).toBe(aliceBackup);
    expect(files.slice(1).filter(holdsAlice)).toEqual([]);

    // Alice's login is imported (from that backup): the backup is no longer the only copy.
    r = await sb.run(['import', path.join(dir, aliceBackup as string)], { now: at(30) });
    expect(r.code, r.stderr).toBe(0);
    r = await sb.run(['switch', 'bob'], { now: at(31) }); // the live login was carol's
    expect(r.code, r.stderr).toBe(0);
    files = fs.readdirSync(dir);
    expect(files).toHaveLength(10);
    expect(files).not.toContain(aliceBackup);
  });
});
