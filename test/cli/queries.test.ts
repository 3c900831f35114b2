/**
 * Issue 13, "Input must never resolve to the wrong account", through the real CLI (in-process, real
 * temporary homes, a fake OpenAI on 127.0.0.1): stable numbers, numbers only without leading zeros,
 * option-like words, alias clashes, ids never matched by fragment, Unicode-normalised queries.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliSuite, fakeEnv } from '../support/cli-suite.js';
import { chatgptAuth } from '../support/jwt.js';

const { sb, fake, secrets, remember } = cliSuite({ env: (f) => ({ ...fakeEnv.openai(f), CODEX_AUTH_HTTP_TIMEOUT_MS: '1500' }) });

const ALICE = { email: 'alice@example.com', userId: 'user-alice', accountId: 'acc-1', plan: 'plus' };
const BOB = { email: 'bob@example.com', userId: 'user-bob', accountId: 'acc-bob', plan: 'pro' };
const CAROL = { email: 'carol@example.com', userId: 'user-carol', accountId: 'acc-carol', plan: 'team' };

function writeFile(name: string, doc: object): string {
  const p = path.join(sb.root, 'in', name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, JSON.stringify(doc));
  return p;
}

const registryFile = () => path.join(sb.codexHome, 'codex-auth', 'registry.json');
function registry(): any {
  return JSON.parse(fs.readFileSync(registryFile(), 'utf8'));
}

async function importAll(...who: Array<typeof ALICE>): Promise<void> {
  for (const w of who) {
    const r = await sb.run(['import', writeFile(`${w.userId}-${w.accountId}.json`, remember(chatgptAuth(w)))]);
    expect(r.code, r.stderr).toBe(0);
  }
}

/** An API key with the given last characters (its mask shows them), known to the fake OpenAI. */
function keyEnding(tail: string, user: string): string {
  const key = `sk-proj-${'x'.repeat(28 - tail.length)}${user.slice(0, 4).padEnd(4, 'q')}${tail}`;
  secrets.push(key);
  fake.addApiKey(key, { id: `user-${user}`, email: `${user}@example.com` });
  return key;
}

async function numbers(): Promise<Array<[string, number]>> {
  const r = await sb.run(['list', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).accounts.map((a: any) => [a.email, a.number]);
}

describe('a number with leading zeros is text', () => {
  it('switch 0010 goes to the API key ending in 0010, not to account number 10', async () => {
    const people = Array.from({ length: 10 }, (_, i) => ({ email: `p${String(i + 1).padStart(2, '0')}@example.com`, userId: `user-p${i + 1}`, accountId: `acc-p${i + 1}`, plan: 'plus' }));
    await importAll(...people);
    const key = keyEnding('0010', 'keys');
    expect((await sb.run(['add-api-key', '-', '--no-fallback'], { input: key })).code).toBe(0);
    const keyId = registry().accounts.find((a: any) => a.kind === 'apikey').id;
    expect((await numbers()).find(([e]) => e === 'p10@example.com')?.[1]).toBe(10);

    const r = await sb.run(['switch', '0010', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).to.id).toBe(keyId);
    expect(JSON.parse(sb.readAuth() ?? '{}').OPENAI_API_KEY).toBe(key);
    // And 10 is account number 10.
    const t = await sb.run(['switch', '10', '--json']);
    expect(JSON.parse(t.stdout).to.email).toBe('p10@example.com');
  });

  it('fallback enable --key 0002 picks the key ending in 0002, not account number 2', async () => {
    await importAll(ALICE, BOB);
    const other = keyEnding('9999', 'other');
    const key = keyEnding('0002', 'two');
    expect((await sb.run(['add-api-key', '-'], { input: other })).code).toBe(0);
    expect((await sb.run(['add-api-key', '-', '--no-fallback'], { input: key })).code).toBe(0);
    const r = await sb.run(['fallback', 'enable', '--key', '0002']);
    expect(r.code, r.stderr).toBe(0);
    const reg = registry();
    expect(reg.accounts.find((a: any) => a.id === reg.fallback.keyId)?.email).toBe('two@example.com');
  });

  it('a plain number that names no account is an error listing the accounts, never a text match', async () => {
    // "2" is in bob's email: it must not be matched as a fragment.
    await importAll(ALICE, { ...BOB, email: 'bob2@example.com' });
    const r = await sb.run(['switch', '3']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no account has number 3');
    expect(r.stderr).toMatch(/^\s+1\s+alice@example\.com \(plus\)$/m);
    const s = await sb.run(['remove', '--yes', '5']);
    expect(s.code).toBe(1);
    expect(registry().accounts).toHaveLength(2);
  });
});

describe('words that look like options are options', () => {
  it('switch -1, remove -1 --yes and alias -x foo are unknown options (exit 2); nothing changes', async () => {
    await importAll(ALICE, BOB);
    const before = fs.readFileSync(registryFile(), 'utf8');
    for (const argv of [['switch', '-1'], ['remove', '-1', '--yes'], ['alias', '-x', 'foo']]) {
      const r = await sb.run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/unknown option '-(1|x)'/);
    }
    expect(fs.readFileSync(registryFile(), 'utf8')).toBe(before);
  });

  it('after --, "-1" is a query, and it matches no internal id fragment', async () => {
    await importAll(ALICE, BOB); // alice's id ends in "acc-1"
    const r = await sb.run(['remove', '--yes', '--', '-1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('No account matches "-1"');
    expect(registry().accounts).toHaveLength(2);
    const s = await sb.run(['switch', '--', '-1']);
    expect(s.code).toBe(1);
    expect(sb.readAuth()).toBeNull();
    // A whole id still names its account.
    const t = await sb.run(['switch', 'chatgpt::user-alice::acc-1', '--json']);
    expect(t.code, t.stderr).toBe(0);
    expect(JSON.parse(t.stdout).to.email).toBe('alice@example.com');
  });
});

describe('an alias never equals an email, id or another alias', () => {
  it('alias refuses another account\'s email (case-insensitive), an id, a taken alias; nothing is changed', async () => {
    await importAll(ALICE, BOB);
    const before = fs.readFileSync(registryFile(), 'utf8');
    const cases: Array<[string, RegExp]> = [
      ['Alice@Example.com', /email of alice@example\.com/],
      ['chatgpt::user-alice::acc-1', /id of alice@example\.com/],
      ['-', /previous account/],
      ['7', /only digits/],
    ];
    for (const [name, why] of cases) {
      const r = await sb.run(['alias', 'bob', name]);
      expect(r.code, name).toBe(2);
      expect(r.stderr).toMatch(why);
    }
    expect(fs.readFileSync(registryFile(), 'utf8')).toBe(before);
    expect((await sb.run(['alias', 'alice', 'work'])).code).toBe(0);
    const taken = await sb.run(['alias', 'bob', 'WORK']);
    expect(taken.code).toBe(2);
    expect(taken.stderr).toContain('already names work — alice@example.com');
    // So the email still names its own account.
    const s = await sb.run(['switch', 'alice@example.com', '--json']);
    expect(JSON.parse(s.stdout).to.email).toBe('alice@example.com');
  });

  it('import --alias and add-api-key --alias go through the same check, before anything is stored', async () => {
    await importAll(ALICE);
    const file = writeFile('bob.json', remember(chatgptAuth(BOB)));
    const r = await sb.run(['import', file, '--alias', 'alice@example.com']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('email of alice@example.com');
    const own = await sb.run(['import', file, '--alias', 'BOB@example.com']);
    expect(own.code).toBe(2);
    expect(own.stderr).toContain('the account being added');
    expect(registry().accounts).toHaveLength(1);
    expect(fs.readdirSync(path.join(sb.codexHome, 'codex-auth', 'accounts'))).toHaveLength(1);
    const key = keyEnding('4242', 'kay');
    const k = await sb.run(['add-api-key', '-', '--alias', 'alice@EXAMPLE.com'], { input: key });
    expect(k.code).toBe(2);
    expect(k.stderr).toContain('email of alice@example.com');
    expect(registry().accounts).toHaveLength(1);
    expect(sb.keyring.entries.size).toBe(0);
  });
});

describe('an account added later whose email or id is an older alias', () => {
  it('import, Codex\'s own login and add-api-key warn that the word now names both, with the fix', async () => {
    await importAll(ALICE);
    const aliceNo = registry().accounts[0].number;
    expect((await sb.run(['alias', 'alice', 'bob@example.com'])).code).toBe(0);
    // import: Bob's email is Alice's alias
    const r = await sb.run(['import', writeFile('bob.json', remember(chatgptAuth(BOB)))]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`The alias "bob@example.com" of bob@example.com — alice@example.com (plus) is also the email of bob@example.com (pro), just added: as a query it now names both. Give it another name: codex-auth alias ${aliceNo} NEW-NAME.`);
    // a second import of the same login adds nothing, and says nothing about it
    const again = await sb.run(['import', writeFile('bob2.json', remember(chatgptAuth(BOB)))]);
    expect(again.stderr).not.toContain('now names both');
    expect((await sb.run(['switch', 'bob@example.com'])).code).toBe(2); // ambiguous, as warned

    // Codex's own login, added by the sync every command runs
    expect((await sb.run(['alias', 'alice', 'CAROL@example.com'])).code).toBe(0);
    sb.writeAuth(remember(chatgptAuth(CAROL)));
    const l = await sb.run(['list']);
    expect(l.code, l.stderr).toBe(0);
    expect(l.stderr).toContain('The alias "CAROL@example.com" of');
    expect(l.stderr).toContain('is also the email of carol@example.com (team), just added');

    // add-api-key: the key's owner (GET /v1/me) has the email of Alice's alias
    expect((await sb.run(['alias', 'alice', 'kay@example.com'])).code).toBe(0);
    const k = await sb.run(['add-api-key', '-', '--no-fallback'], { input: keyEnding('4343', 'kay') });
    expect(k.code, k.stderr).toBe(0);
    expect(k.stderr).toContain('The alias "kay@example.com" of');
    expect(k.stderr).toContain('now names both');
    // no warning when nothing is shadowed
    const m = await sb.run(['add-api-key', '-', '--no-fallback'], { input: keyEnding('4444', 'mo') });
    expect(m.code, m.stderr).toBe(0);
    expect(m.stderr).not.toContain('now names both');
  });
});

describe('numbers stay with their account', () => {
  it('remove 2 --yes run twice removes one account; the others keep their numbers; new ones never reuse 2', async () => {
    await importAll(ALICE, BOB, CAROL);
    expect(await numbers()).toEqual([
      ['alice@example.com', 1],
      ['bob@example.com', 2],
      ['carol@example.com', 3],
    ]);
    expect((await sb.run(['remove', '2', '--yes'])).code).toBe(0);
    const again = await sb.run(['remove', '2', '--yes']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no account has number 2');
    expect(again.stderr).toMatch(/^\s+3\s+carol@example\.com \(team\)$/m);
    expect(await numbers()).toEqual([
      ['alice@example.com', 1],
      ['carol@example.com', 3],
    ]);
    // A new account sorts first by email but gets the next number: 4, never the removed 2.
    await importAll({ email: 'aaron@example.com', userId: 'user-aaron', accountId: 'acc-aaron', plan: 'pro' });
    expect(await numbers()).toEqual([
      ['aaron@example.com', 4],
      ['alice@example.com', 1],
      ['carol@example.com', 3],
    ]);
    const table = (await sb.run(['list'])).stdout;
    expect(table).toMatch(/^\s+4\s+aaron@example\.com/m);
    expect(table).toMatch(/^\s+3\s+carol@example\.com/m);
    // The completion candidates carry the same numbers.
    const c = await sb.run(['__complete', 'switch', '']);
    expect(c.stdout).toMatch(/^4\taaron@example\.com/m);
    expect(c.stdout).not.toMatch(/^2\t/m);
    // The number names the same account everywhere.
    const s = await sb.run(['switch', '3', '--json']);
    expect(JSON.parse(s.stdout).to.email).toBe('carol@example.com');
  });

  it('child rows of one email show their own numbers', async () => {
    await importAll({ ...ALICE, accountId: 'acc-z', plan: 'team' }, BOB, ALICE);
    const j = JSON.parse((await sb.run(['list', '--json'])).stdout).accounts.map((a: any) => [a.email, a.plan, a.number]);
    expect(j).toEqual([
      ['alice@example.com', 'plus', 3],
      ['alice@example.com', 'team', 1],
      ['bob@example.com', 'pro', 2],
    ]);
  });

  it('a registry from before numbers is numbered once in its display order, written only with the next change', async () => {
    await importAll(CAROL, ALICE, BOB);
    const doc = registry();
    for (const a of doc.accounts) delete a.number;
    delete doc.nextNumber;
    fs.writeFileSync(registryFile(), JSON.stringify(doc));
    fs.rmSync(`${registryFile()}.sum`, { force: true });
    const old = fs.readFileSync(registryFile(), 'utf8');
    // What the old numbering showed (display order) stays true; a read writes nothing.
    expect(await numbers()).toEqual([
      ['alice@example.com', 1],
      ['bob@example.com', 2],
      ['carol@example.com', 3],
    ]);
    expect(fs.readFileSync(registryFile(), 'utf8')).toBe(old);
    expect((await sb.run(['remove', '1', '--yes'])).code).toBe(0);
    const reg = registry();
    expect(reg.accounts.map((a: any) => [a.email, a.number])).toEqual([
      ['carol@example.com', 3],
      ['bob@example.com', 2],
    ]);
    expect(reg.nextNumber).toBe(4);
  });

  it('numbers an older codex-auth dropped, or duplicated by hand, are repaired without reusing one', async () => {
    await importAll(ALICE, BOB, CAROL);
    const doc = registry();
    delete doc.accounts[1].number; // bob lost his (an older writer)
    doc.accounts[2].number = 1; // carol's duplicates alice's (a hand edit)
    delete doc.nextNumber;
    fs.writeFileSync(registryFile(), JSON.stringify(doc));
    fs.rmSync(`${registryFile()}.sum`, { force: true });
    expect(await numbers()).toEqual([
      ['alice@example.com', 1],
      ['bob@example.com', 2],
      ['carol@example.com', 3],
    ]);
    expect((await sb.run(['alias', 'carol', 'cc'])).code).toBe(0);
    expect(registry().accounts.map((a: any) => a.number)).toEqual([1, 2, 3]);
  });
});

describe('Unicode', () => {
  it('a query typed in decomposed form (NFD) matches the composed (NFC) email', async () => {
    await importAll({ ...ALICE, email: 'jos\u00e9@example.com' }, BOB);
    const r = await sb.run(['switch', 'JOSE\u0301@example.com', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).to.email).toBe('jos\u00e9@example.com');
    const f = await sb.run(['alias', 'jose\u0301', 'pepe']);
    expect(f.code, f.stderr).toBe(0);
    expect(registry().accounts.find((a: any) => a.alias === 'pepe')?.email).toBe('jos\u00e9@example.com');
  });
});
