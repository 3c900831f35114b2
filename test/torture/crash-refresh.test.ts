/**
 * Crash safety of a token refresh write: `codex-auth refresh --force` against the fake OpenAI (which
 * rotates refresh tokens and rejects a reused one, like OpenAI), SIGKILLed at random moments. Two
 * accounts per sandbox: A is Codex's live login (auth.json is rewritten too), B is only stored.
 *
 * After every kill: auth.json parses and is A's; the registry is valid; each account can still
 * refresh — its stored snapshot, Codex's live file or the pending-token journal holds a refresh token
 * the server still accepts — EXCEPT in one window no client can close: the server has rotated the
 * token (the old one is now "used") and the process died before the answer reached the disk. The
 * refresh writes OpenAI's answer to the journal (fsynced) the moment it arrives and says so under
 * --debug: a kill after that line never loses the login. The test recognizes the window from the
 * fake's log (a successful exchange whose new token is in no file) and from the missing line, checks
 * that codex-auth then says "login required" clearly and corrupts nothing, and re-logs the account in
 * to go on.
 *
 * Then a kill at every crash point of a refresh (CODEX_AUTH_TEST_CRASH_AT: before the request, once
 * the answer is in the journal, after Codex's live copy, after the store, after the registry): never
 * a lost login, the next command (a read) folds the journal in, the next refresh succeeds, and the
 * fake never sees a reused token.
 *
 * And Codex's live auth.json is never left behind the stored copy (Codex reads that file, not
 * codex-auth's copy): a kill may leave the live file newer (the next command's sync saves it back),
 * never auth.json with a rotated-away token while only the stored copy has the accepted one. Every
 * 16 kills and at the end, an unkilled refresh must leave every copy accepted and in step.
 *
 * Three more tests pin what the kill loop found: the repair of such a stale auth.json, a refresh
 * whose result was dropped as "older" under a slow clock, and one account's error abandoning another
 * account's refresh in flight.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AccountClaims, type ChatgptAuthDoc } from '../support/jwt.js';
import { FakeOpenAI } from '../support/fake-openai.js';
import { findSecrets } from '../support/inprocess.js';
import { assertBuilt, type BinRun, explain, idOfChatgptDoc, killDelay, median, prng, readJson, readRegistry, runNode, tortureSeed } from './helpers.js';

// At least 200 kills, as for switch and import; TORTURE_REFRESH_KILLS=400 for a longer run.
const KILLS = Number(process.env.TORTURE_REFRESH_KILLS) || 200;
const LOOPS = 3;
/** How many lost-in-flight occurrences get the full "login required" check (each costs three runs). */
const VERIFY_LOST = 4;
const seed = tortureSeed();
const transcript: string[] = [];
const roots: string[] = [];
let fake: FakeOpenAI;

beforeAll(async () => {
  assertBuilt();
  fake = await FakeOpenAI.start();
  console.log(`crash-refresh: TORTURE_SEED=${seed}`);
});
afterAll(async () => {
  await fake.close();
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
  // Every token the fake ever issued or accepted is a secret.
  const secrets = fake.refreshAttempts().flatMap((a) => [a.refreshToken, ...['refresh_token', 'access_token', 'id_token'].map((k) => String(a.body[k] ?? ''))]);
  expect(findSecrets(transcript, secrets.filter((s) => s.length > 8))).toEqual([]);
});

interface Box {
  home: string;
  codexHome: string;
  authHome: string;
  claims: [AccountClaims, AccountClaims];
  ids: [string, string];
  env: Record<string, string>;
}

function box(n: number): Box {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-torture-refresh-'));
  roots.push(root);
  const home = path.join(root, 'home');
  const codexHome = path.join(home, '.codex');
  fs.mkdirSync(codexHome, { recursive: true, mode: 0o700 });
  const claims: [AccountClaims, AccountClaims] = [
    { email: `ra${n}@example.com`, userId: `user-ra${n}`, accountId: `acc-ra${n}`, plan: 'plus' },
    { email: `rb${n}@example.com`, userId: `user-rb${n}`, accountId: `acc-rb${n}`, plan: 'pro' },
  ];
  return {
    home,
    codexHome,
    authHome: path.join(codexHome, 'codex-auth'),
    claims,
    ids: claims.map((c) => `chatgpt::${c.userId}::${c.accountId}`) as [string, string],
    env: { CODEX_REFRESH_TOKEN_URL_OVERRIDE: fake.refreshUrl, CODEX_AUTH_CHATGPT_BASE_URL: fake.chatgptBaseUrl, CODEX_AUTH_HTTP_TIMEOUT_MS: '5000' },
  };
}

async function run(b: Box, args: string[], killAfterMs?: number): Promise<BinRun> {
  const r = await runNode(args, { home: b.home, codexHome: b.codexHome, env: b.env, ...(killAfterMs !== undefined ? { killAfterMs } : {}) });
  transcript.push(r.stdout, r.stderr);
  return r;
}

/** "Log in again" to account i: a new token chain; A's goes where Codex's login writes it. */
async function relogin(b: Box, i: 0 | 1): Promise<void> {
  const doc = fake.addChatgptAccount({ ...b.claims[i] });
  if (i === 0) {
    // Where `codex login` writes it; the next command's sync saves it into codex-auth.
    fs.writeFileSync(path.join(b.codexHome, 'auth.json'), JSON.stringify(doc, null, 2), { mode: 0o600 });
  } else {
    const f = path.join(b.home, `relogin-${Date.now()}.json`);
    fs.writeFileSync(f, JSON.stringify(doc));
    const r = await run(b, ['import', f]);
    expect(r.code, explain(r)).toBe(0);
  }
}

interface State {
  stored: [ChatgptAuthDoc, ChatgptAuthDoc];
  live: ChatgptAuthDoc;
  /** Each account's entries in the pending-token journal. */
  pending: [ChatgptAuthDoc[], ChatgptAuthDoc[]];
}

function journal(b: Box): Array<{ accountId: string; auth: ChatgptAuthDoc }> {
  const dir = path.join(b.authHome, 'pending');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => !f.startsWith('.') && f.endsWith('.json'))
    .map((f) => readJson(path.join(dir, f)) as { accountId: string; auth: ChatgptAuthDoc });
}

function state(b: Box, when: string): State {
  const reg = readRegistry(path.join(b.authHome, 'registry.json'));
  expect(reg.accounts.map((a) => a.id).sort(), `${when}: registry accounts`).toEqual([...b.ids].sort());
  const stored = b.ids.map((id) => {
    const acc = reg.accounts.find((a) => a.id === id);
    return readJson(path.join(b.authHome, 'accounts', `${acc?.secret.ref}.json`)) as ChatgptAuthDoc;
  }) as [ChatgptAuthDoc, ChatgptAuthDoc];
  const live = readJson(path.join(b.codexHome, 'auth.json')) as ChatgptAuthDoc;
  expect(idOfChatgptDoc(live), `${when}: auth.json is still A's`).toBe(b.ids[0]);
  const entries = journal(b);
  const pending = b.ids.map((id) => entries.filter((e) => e.accountId === id).map((e) => e.auth)) as [ChatgptAuthDoc[], ChatgptAuthDoc[]];
  expect(entries.length, `${when}: journal entries of unknown accounts`).toBe(pending[0].length + pending[1].length);
  for (const [i, d] of [...stored.entries(), [0, live] as const, ...pending.flatMap((p, i) => p.map((d) => [i, d] as const))]) {
    expect(idOfChatgptDoc(d), `${when}: snapshot identity`).toBe(b.ids[i]);
    expect(fake.refreshTokenState(d.tokens.refresh_token), `${when}: every stored token is one the server issued`).not.toBeNull();
  }
  return { stored, live, pending };
}

/** The line a refresh prints under --debug once OpenAI's answer for account i is in the journal. */
function journaled(b: Box, i: 0 | 1, stderr: string): boolean {
  return stderr.includes(`debug: the new tokens of ${b.claims[i].email} (${b.claims[i].plan}) are in the pending-token journal`);
}

const accepted = (d: ChatgptAuthDoc) => fake.refreshTokenState(d.tokens.refresh_token) === 'current';

/** An unkilled refresh succeeds and leaves every copy accepted, Codex's file equal to ours. */
async function settled(b: Box, when: string): Promise<void> {
  const next = await run(b, ['refresh', '--force']);
  expect(next.code, explain(next)).toBe(0);
  const n = state(b, `after ${when}`);
  expect(n.pending, `${when}: the journal is empty`).toEqual([[], []]);
  expect(accepted(n.stored[0]) && accepted(n.stored[1]) && accepted(n.live), `${when}: all tokens accepted`).toBe(true);
  expect(n.live).toEqual(n.stored[0]);
}

describe('crash safety: SIGKILL during a token refresh', () => {
  it(`kills "codex-auth refresh --force" at random moments ${KILLS} times; no account loses its login silently`, async () => {
    const rng = prng(seed);
    const boxes = Array.from({ length: LOOPS }, (_, n) => box(n));
    for (const b of boxes) {
      const a = fake.addChatgptAccount({ ...b.claims[0] });
      const bDoc = fake.addChatgptAccount({ ...b.claims[1] });
      fs.writeFileSync(path.join(b.codexHome, 'auth.json'), JSON.stringify(a, null, 2), { mode: 0o600 });
      const f = path.join(b.home, 'b.json');
      fs.writeFileSync(f, JSON.stringify(bDoc));
      const r = await run(b, ['import', f]);
      expect(r.code, explain(r)).toBe(0);
    }
    const durations: number[] = [];
    for (let round = 0; round < 3; round += 1) {
      await Promise.all(
        boxes.map(async (b) => {
          const r = await run(b, ['refresh', '--force']);
          expect(r.code, explain(r)).toBe(0);
          const s = state(b, 'unkilled refresh');
          expect(s.stored.every(accepted) && accepted(s.live)).toBe(true);
          expect(s.live.tokens.refresh_token).toBe(s.stored[0].tokens.refresh_token);
          durations.push(r.durationMs);
        }),
      );
    }
    const d = median(durations);
    let kills = 0;
    let iterations = 0;
    let verified = 0;
    let reusesExpected = 0;
    const landed = { serverUntouched: 0, savedEverywhere: 0, liveNewerThanStored: 0, storedNewerThanLive: 0, inJournalOnly: 0, lostInFlight: 0 };
    const loop = async (b: Box) => {
      while (kills < KILLS) {
        iterations += 1;
        expect(iterations, 'too many iterations without reaching the kill count').toBeLessThan(KILLS * 4);
        const before = state(b, 'before');
        const r = await run(b, ['refresh', '--force', '--debug'], killDelay(rng, d));
        if (!r.killed) {
          expect(r.code, explain(r)).toBe(0);
          const s = state(b, `after unkilled run #${iterations}`);
          expect(s.stored.every(accepted) && accepted(s.live), 'an unkilled refresh leaves only accepted tokens').toBe(true);
          continue;
        }
        kills += 1;
        const s = state(b, `after kill #${kills}`);
        let relogins: (0 | 1)[] = [];
        for (const i of [0, 1] as const) {
          const candidates = i === 0 ? [s.stored[0], s.live] : [s.stored[1]];
          if ([...candidates, ...s.pending[i]].some(accepted)) {
            const same = JSON.stringify(s.stored[i]) === JSON.stringify(before.stored[i]) && (i === 1 || JSON.stringify(s.live) === JSON.stringify(before.live));
            if (!candidates.some(accepted)) landed.inJournalOnly += 1;
            else if (i === 0 && !accepted(s.live)) landed.storedNewerThanLive += 1;
            else if (i === 0 && !accepted(s.stored[0])) landed.liveNewerThanStored += 1;
            else if (same) landed.serverUntouched += 1;
            else landed.savedEverywhere += 1;
            continue;
          }
          // The window: the server rotated the token, the answer died with the process. Prove it is
          // exactly that (the fake issued a token that is in no file, and the process had not said
          // that the answer was in the journal), not a lost or torn write.
          expect(journaled(b, i, r.stderr), `kill #${kills}: account ${i} lost its login after OpenAI's answer was in the journal\n${explain(r)}`).toBe(false);
          const held = new Set([...candidates, ...s.pending[i]].map((c) => c.tokens.refresh_token));
          const exchange = fake.refreshAttempts().filter((x) => x.ok && held.has(x.refreshToken));
          expect(exchange.length, `kill #${kills}: account ${i} lost its token without a server exchange`).toBeGreaterThanOrEqual(1);
          const issued = String(exchange.at(-1)?.body.refresh_token);
          expect(held.has(issued)).toBe(false);
          expect(fake.refreshTokenState(issued)).toBe('current');
          landed.lostInFlight += 1;
          relogins.push(i);
        }
        if (relogins.length > 0 && verified < VERIFY_LOST) {
          // codex-auth reports it clearly as "login required" and changes nothing else (checked in
          // full for the first few occurrences; after that the account is just logged in again).
          verified += 1;
          reusesExpected += relogins.length;
          const again = await run(b, ['refresh', '--force']);
          expect(again.code, explain(again)).toBe(1);
          for (const i of relogins) expect(again.stdout, explain(again)).toMatch(new RegExp(`^login required ${b.claims[i].email.replace('.', '\\.')}`, 'm'));
          expect(again.stderr).toContain('Accounts marked "login required" need a new login: run "codex-auth login"');
          const reg = readRegistry(path.join(b.authHome, 'registry.json'));
          for (const i of relogins) expect(reg.accounts.find((a) => a.id === b.ids[i])?.loginRequired).toBeTruthy();
          const list = await run(b, ['list']);
          expect(list.stdout).toContain('[login required]');
          // Nothing of the lost account was changed or thrown away (its copies stay for the user).
          const after = state(b, 'after "login required"');
          for (const i of relogins) {
            expect(after.stored[i]).toEqual(s.stored[i]);
            if (i === 0) expect(after.live).toEqual(s.live);
          }
        }
        for (const i of relogins) await relogin(b, i);
        relogins = [];
        // Codex's own file is never left behind our copy (Codex reads auth.json, not our copy): a
        // kill may leave the live file newer than the stored one (the next sync saves it back), never
        // the stored one holding the only accepted token while auth.json has a rotated-away one.
        expect(accepted(s.stored[0]) && !accepted(s.live), `kill #${kills}: auth.json holds a rotated-away token (${fake.refreshTokenState(s.live.tokens.refresh_token)}) while the stored copy has the accepted one`).toBe(false);
        // Now and then an unkilled refresh: everything is accepted and in step again.
        if (kills % 16 === 0) await settled(b, `the refresh following kill #${kills}`);
      }
    };
    await Promise.all(boxes.map((b) => loop(b)));
    for (const b of boxes) await settled(b, 'the final refresh');
    console.log(`crash-refresh: ${kills} kills, median refresh ${d} ms; accounts after kills: ${JSON.stringify(landed)}`);
    expect(kills).toBeGreaterThanOrEqual(KILLS);
    // Not vacuous: kills landed after the server's answer as well as before it.
    expect(landed.savedEverywhere + landed.liveNewerThanStored + landed.inJournalOnly + landed.lostInFlight).toBeGreaterThan(0);
    // The server never saw anything but good exchanges, and one reuse per lost token that was
    // checked (the attempt that discovered it and said "login required"): codex-auth itself never
    // sent a rotated-away token on its own.
    expect(fake.refreshAttempts().filter((x) => !x.ok && x.error !== 'refresh_token_reused')).toEqual([]);
    expect(fake.refreshAttempts().filter((x) => x.error === 'refresh_token_reused').length).toBe(reusesExpected);
  }, 170_000);

  it('kills a refresh at each of its crash points: never a lost login once OpenAI answered; the next command folds the journal, nothing is reused', async () => {
    const POINTS = ['refresh-before-request', 'refresh-journaled', 'refresh-live-written', 'refresh-stored', 'refresh-recorded'] as const;
    const b = box(96);
    const a = fake.addChatgptAccount({ ...b.claims[0] });
    const bDoc = fake.addChatgptAccount({ ...b.claims[1] });
    fs.writeFileSync(path.join(b.codexHome, 'auth.json'), JSON.stringify(a, null, 2), { mode: 0o600 });
    fs.writeFileSync(path.join(b.home, 'b.json'), JSON.stringify(bDoc));
    expect((await run(b, ['import', path.join(b.home, 'b.json')])).code).toBe(0);
    const reusedBefore = fake.refreshAttempts().filter((x) => x.error === 'refresh_token_reused').length; // (other tests' included)
    const env = b.env;
    for (let round = 0; round < 2; round += 1) {
      for (const point of POINTS) {
        for (const i of [0, 1] as const) {
          const when = `round ${round}, account ${i}, killed at ${point}`;
          const pre = state(b, `${when}: before`);
          const held = new Set([...pre.stored, pre.live, ...pre.pending.flat()].map((d) => d.tokens.refresh_token));
          const answers = () => fake.refreshAttempts().filter((x) => x.ok && held.has(x.refreshToken)).length;
          const answered = answers();
          b.env = { ...env, CODEX_AUTH_TEST_CRASH_AT: point };
          // One account per run: a second refresh in flight when the first one kills the process
          // would be lost in the window no client can close.
          const r = await run(b, ['refresh', b.claims[i].email, '--force']);
          b.env = env;
          expect(r.signal, `${when}: the process killed itself there\n${explain(r)}`).toBe('SIGKILL');
          expect(answers(), `${when}: OpenAI answered`).toBe(answered + (point === 'refresh-before-request' ? 0 : 1));
          const s = state(b, when);
          const candidates = i === 0 ? [s.stored[0], s.live, ...s.pending[0]] : [s.stored[1], ...s.pending[1]];
          expect(candidates.some(accepted), `${when}: the login is kept`).toBe(true);
          // A read command folds the journal in: every copy holds the accepted tokens again.
          const list = await run(b, ['list']);
          expect(list.code, explain(list)).toBe(0);
          const f = state(b, `${when}, then list`);
          expect(f.pending, `${when}: the journal is folded`).toEqual([[], []]);
          expect(accepted(f.stored[i]), `${when}: the stored copy holds the accepted token`).toBe(true);
          expect(accepted(f.live) && JSON.stringify(f.live) === JSON.stringify(f.stored[0]), `${when}: Codex's live copy holds A's accepted tokens`).toBe(true);
        }
      }
    }
    await settled(b, 'the crash points');
    expect(fake.refreshAttempts().filter((x) => x.error === 'refresh_token_reused').length).toBe(reusedBefore);
  }, 120_000);

  it("repairs Codex's auth.json left holding a rotated-away token by an earlier refresh that could not write it", async () => {
    const b = box(99);
    const a = fake.addChatgptAccount({ ...b.claims[0] });
    const bDoc = fake.addChatgptAccount({ ...b.claims[1] });
    fs.writeFileSync(path.join(b.codexHome, 'auth.json'), JSON.stringify(a, null, 2), { mode: 0o600 });
    fs.writeFileSync(path.join(b.home, 'b.json'), JSON.stringify(bDoc));
    expect((await run(b, ['import', path.join(b.home, 'b.json')])).code).toBe(0);
    expect((await run(b, ['refresh', '--force'])).code).toBe(0);
    const stale = fs.readFileSync(path.join(b.codexHome, 'auth.json'), 'utf8');
    expect((await run(b, ['refresh', '--force'])).code).toBe(0);
    // What a refresh that saved its copy but not Codex's leaves (Codex held its lock past the timeout,
    // or the process died between the two writes): auth.json with the token the server rotated away.
    fs.writeFileSync(path.join(b.codexHome, 'auth.json'), stale, { mode: 0o600 });
    expect(fake.refreshTokenState((JSON.parse(stale) as ChatgptAuthDoc).tokens.refresh_token)).toBe('used');
    const r = await run(b, ['refresh', '--force']);
    expect(r.code, explain(r)).toBe(0);
    const s = state(b, 'after the repairing refresh');
    expect(accepted(s.live) && accepted(s.stored[0])).toBe(true);
    expect(s.live).toEqual(s.stored[0]);
  });

  it('keeps the rotated tokens even when the stored last_refresh is ahead of this clock (imported from a machine whose clock runs fast)', async () => {
    const b = box(98);
    const ahead = new Date(Date.now() + 3600_000).toISOString();
    const a = fake.addChatgptAccount({ ...b.claims[0], lastRefresh: ahead });
    const bDoc = fake.addChatgptAccount({ ...b.claims[1], lastRefresh: ahead });
    fs.writeFileSync(path.join(b.codexHome, 'auth.json'), JSON.stringify(a, null, 2), { mode: 0o600 });
    fs.writeFileSync(path.join(b.home, 'b.json'), JSON.stringify(bDoc));
    expect((await run(b, ['import', path.join(b.home, 'b.json')])).code).toBe(0);
    const r = await run(b, ['refresh', '--force']);
    expect(r.code, explain(r)).toBe(0);
    // The server rotated both tokens: what codex-auth kept must be the new ones, not the dead ones.
    const s = state(b, 'after a refresh under a slow clock');
    expect(fake.refreshTokenState(a.tokens.refresh_token)).toBe('used');
    expect(accepted(s.stored[0]) && accepted(s.stored[1]) && accepted(s.live), 'the rotated tokens were saved').toBe(true);
    const again = await run(b, ['refresh', '--force']);
    expect(again.code, explain(again)).toBe(0);
  });

  it("one account's failure does not abandon another account's refresh in flight (its rotated token would be lost)", async () => {
    const b = box(97);
    const a = fake.addChatgptAccount({ ...b.claims[0] });
    const bDoc = fake.addChatgptAccount({ ...b.claims[1] });
    fs.writeFileSync(path.join(b.codexHome, 'auth.json'), JSON.stringify(a, null, 2), { mode: 0o600 });
    fs.writeFileSync(path.join(b.home, 'b.json'), JSON.stringify(bDoc));
    expect((await run(b, ['import', path.join(b.home, 'b.json')])).code).toBe(0);
    // A's answer is slow (the server has already rotated its token); B's stored copy cannot be read.
    fake.setRefreshFault(b.claims[0].accountId, { delayMs: 800, times: 1 });
    const reg = readRegistry(path.join(b.authHome, 'registry.json'));
    const bFile = path.join(b.authHome, 'accounts', `${reg.accounts.find((x) => x.id === b.ids[1])?.secret.ref}.json`);
    fs.rmSync(bFile);
    fs.mkdirSync(bFile);
    const r = await run(b, ['refresh', '--force']);
    expect(r.code, explain(r)).toBe(1);
    expect(r.stdout, explain(r)).toMatch(new RegExp(`^refreshed ${b.claims[0].email.replace('.', '\\.')}`, 'm'));
    expect(r.stdout, explain(r)).toMatch(new RegExp(`^failed ${b.claims[1].email.replace('.', '\\.')} \\(.+\\)$`, 'm'));
    expect(r.stderr).not.toMatch(/\bat .*:\d+:\d+/);
    fs.rmdirSync(bFile);
    fs.writeFileSync(bFile, JSON.stringify(bDoc), { mode: 0o600 });
    const s = state(b, 'after the partly failed refresh');
    expect(accepted(s.stored[0]) && accepted(s.live), "A's rotated token was saved").toBe(true);
  });
});
