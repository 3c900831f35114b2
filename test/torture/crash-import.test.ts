/**
 * Crash safety of `import DIR`: SIGKILL at random moments while a directory of auth.json files (new
 * accounts, newer tokens of known accounts, and files that are not auth.json) is imported. After
 * every kill the registry is valid, no account imported before is lost, one run's new accounts
 * appear all together or not at all (no partial import), and every secret file the registry refers
 * to parses and holds one of the account's genuine snapshots.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAuthJson } from '../../src/domain/authfile.js';
import { chatgptAuth, type ChatgptAuthDoc } from '../support/jwt.js';
import { explain, idOfChatgptDoc, killDelay, ls, median, prng, readRegistry, runNode, strayTemps, tortureSuite } from './helpers.js';

const KILLS = Number(process.env.TORTURE_IMPORT_KILLS) || 200;
const LOOPS = 3;
const NEW_PER_RUN = 3;
const { seed, transcript, secrets, roots } = tortureSuite('crash-import');

interface Box {
  root: string;
  home: string;
  codexHome: string;
  authHome: string;
  n: number;
  /** Every snapshot ever offered for each account id, in order. */
  versions: Map<string, string[]>;
  /** Accounts a finished import registered: they must never disappear. */
  committed: Set<string>;
  /** Per run: the ids of the accounts it would add. */
  batches: string[][];
  seq: number;
  clock: number;
}

function makeBox(n: number): Box {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-torture-import-'));
  roots.push(root);
  const home = path.join(root, 'home');
  const codexHome = path.join(home, '.codex');
  fs.mkdirSync(codexHome, { recursive: true, mode: 0o700 });
  return { root, home, codexHome, authHome: path.join(codexHome, 'codex-auth'), n, versions: new Map(), committed: new Set(), batches: [], seq: 0, clock: Date.parse('2026-01-01T00:00:00Z') };
}

function offer(box: Box, doc: ChatgptAuthDoc): ChatgptAuthDoc {
  secrets.push(doc.tokens.refresh_token, doc.tokens.access_token);
  const id = idOfChatgptDoc(doc);
  const v = box.versions.get(id) ?? [];
  v.push(JSON.stringify(doc));
  box.versions.set(id, v);
  return doc;
}

/** A directory for one run: NEW_PER_RUN new accounts, newer tokens for two known ones, and two non-auth files. */
function batchDir(box: Box, rng: () => number): { dir: string; newIds: string[] } {
  const dir = path.join(box.root, `batch-${box.seq}`);
  fs.mkdirSync(dir);
  const newIds: string[] = [];
  const stamp = () => new Date((box.clock += 1000)).toISOString();
  for (let k = 0; k < NEW_PER_RUN; k += 1) {
    const s = `${box.n}-${box.seq}-${k}`;
    const doc = offer(box, chatgptAuth({ email: `u${s}@example.com`, userId: `user-${s}`, accountId: `acc-${s}`, lastRefresh: stamp() }));
    newIds.push(idOfChatgptDoc(doc));
    fs.writeFileSync(path.join(dir, `new-${k}.json`), JSON.stringify(doc));
  }
  const known = [...box.committed];
  for (let k = 0; k < 2 && known.length > 0; k += 1) {
    const id = known[Math.floor(rng() * known.length)] as string;
    const [, userId, accountId] = id.split('::') as [string, string, string];
    const prev = JSON.parse((box.versions.get(id) ?? []).at(-1) as string) as ChatgptAuthDoc;
    const email = (JSON.parse(Buffer.from(prev.tokens.id_token.split('.')[1] as string, 'base64url').toString()) as { email: string }).email;
    const doc = offer(box, chatgptAuth({ email, userId, accountId, lastRefresh: stamp() }));
    fs.writeFileSync(path.join(dir, `upd-${k}.json`), JSON.stringify(doc));
  }
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ theme: 'dark' }));
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not json at all');
  box.seq += 1;
  box.batches.push(newIds);
  return { dir, newIds };
}

function checkInvariants(box: Box, when: string): Set<string> {
  const reg = readRegistry(path.join(box.authHome, 'registry.json'));
  const ids = new Set(reg.accounts.map((a) => a.id));
  expect(ids.size, `${when}: no duplicate accounts`).toBe(reg.accounts.length);
  expect(ls(box.authHome).filter((f) => f.includes('.corrupt-')), `${when}: nothing quarantined`).toEqual([]);
  for (const id of box.committed) expect(ids.has(id), `${when}: ${id} (imported before) is still there`).toBe(true);
  for (const batch of box.batches) {
    const present = batch.filter((id) => ids.has(id)).length;
    expect([0, batch.length], `${when}: a run's new accounts appear all together or not at all`).toContain(present);
  }
  for (const a of reg.accounts) {
    const file = path.join(box.authHome, 'accounts', `${a.secret.ref}.json`);
    expect(a.secret.store).toBe('file');
    const text = fs.readFileSync(file, 'utf8');
    const parsed = parseAuthJson(text); // throws when torn
    expect(parsed.mode).toBe('chatgpt');
    expect(box.versions.get(a.id)?.includes(JSON.stringify(JSON.parse(text))), `${when}: secret of ${a.id} is a genuine snapshot`).toBe(true);
  }
  for (const t of strayTemps(box.authHome)) expect(t).toMatch(/^\.registry\.json(\.sum)?\.[0-9a-z.]+\.tmp$/);
  return ids;
}

describe('crash safety: SIGKILL during import', () => {
  it(`kills "codex-auth import DIR" at random moments ${KILLS} times; no account is lost or torn`, async () => {
    const rng = prng(seed);
    const boxes = Array.from({ length: LOOPS }, (_, n) => makeBox(n));
    const durations: number[] = [];
    for (let round = 0; round < 3; round += 1) {
      await Promise.all(
        boxes.map(async (box) => {
          const { dir, newIds } = batchDir(box, rng);
          const r = await runNode(['import', dir], { home: box.home, codexHome: box.codexHome });
          transcript.push(r.stdout, r.stderr);
          expect(r.code, explain(r)).toBe(0);
          expect(r.stderr).toContain(round === 0 ? `${NEW_PER_RUN} imported, 0 updated, 0 unchanged, 1 skipped.` : `${NEW_PER_RUN} imported, 2 updated, 0 unchanged, 1 skipped.`);
          for (const id of newIds) box.committed.add(id);
          checkInvariants(box, 'unkilled import');
          durations.push(r.durationMs);
        }),
      );
    }
    const d = median(durations);
    let kills = 0;
    let completed = 0;
    let iterations = 0;
    const landed = { none: 0, all: 0, noneWithSecretsWritten: 0 };
    const loop = async (box: Box) => {
      while (kills < KILLS) {
        iterations += 1;
        expect(iterations, 'too many iterations without reaching the kill count').toBeLessThan(KILLS * 4);
        const { dir, newIds } = batchDir(box, rng);
        const r = await runNode(['import', dir], { home: box.home, codexHome: box.codexHome, killAfterMs: killDelay(rng, d) });
        transcript.push(r.stdout, r.stderr);
        if (r.killed) kills += 1;
        else {
          completed += 1;
          expect(r.code, explain(r)).toBe(0);
        }
        // A missing registry is fine only before the very first import wrote one.
        const ids = checkInvariants(box, `after ${r.killed ? 'kill' : 'run'} #${iterations}`);
        const present = newIds.every((id) => ids.has(id));
        if (!r.killed) expect(present).toBe(true);
        else {
          landed[present ? 'all' : 'none'] += 1;
          // Killed after some secrets were written but before the registry was: orphans, no harm.
          const written = newIds.filter((id) => fs.existsSync(path.join(box.authHome, 'accounts', `${id.replace(/[^A-Za-z0-9._-]/g, '_')}.json`)));
          if (!present && written.length > 0) landed.noneWithSecretsWritten += 1;
        }
        if (present) for (const id of newIds) box.committed.add(id);
      }
    };
    await Promise.all(boxes.map((b) => loop(b)));
    console.log(`crash-import: ${kills} kills, ${completed} runs finished first, median import ${d} ms; kills landed ${JSON.stringify(landed)}`);
    expect(kills).toBeGreaterThanOrEqual(KILLS);
    // Not vacuous: kills did land while the files were being written.
    expect(landed.all + landed.noneWithSecretsWritten).toBeGreaterThan(0);

    // Afterwards every batch directory imports cleanly again: each account is there exactly once, and
    // its stored snapshot is the newest one offered (never an older one over a newer).
    for (const box of boxes) {
      const all = await runNode(['import', ...ls(box.root).filter((f) => f.startsWith('batch-')).map((f) => path.join(box.root, f))], { home: box.home, codexHome: box.codexHome });
      transcript.push(all.stdout, all.stderr);
      expect(all.code, explain(all)).toBe(0);
      const reg = readRegistry(path.join(box.authHome, 'registry.json'));
      expect(reg.accounts.map((a) => a.id).sort()).toEqual([...box.versions.keys()].sort());
      for (const a of reg.accounts) {
        const stored = fs.readFileSync(path.join(box.authHome, 'accounts', `${a.secret.ref}.json`), 'utf8');
        expect(JSON.stringify(JSON.parse(stored)), `newest snapshot of ${a.id}`).toBe(box.versions.get(a.id)?.at(-1));
      }
    }
  }, 170_000);
});
