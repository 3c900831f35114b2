/**
 * Concurrency: 20 codex-auth processes at once — switches, imports (some with --alias) and alias
 * commands — over one CODEX_HOME, for several rounds. Every process succeeds; afterwards the registry
 * is valid, no account is lost, every alias is applied, and the registry's active account is the one
 * Codex reads from auth.json (whose content is that account's stored snapshot).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSecrets } from '../support/inprocess.js';
import { chatgptAuth, type ChatgptAuthDoc } from '../support/jwt.js';
import { assertBuilt, type BinRun, explain, idOfChatgptDoc, prng, readJson, readRegistry, runNode, tortureSeed } from './helpers.js';

const ROUNDS = 3;
const PROCS = 20;
const seed = tortureSeed();
const transcript: string[] = [];
const secrets: string[] = [];
let root: string;

beforeAll(() => {
  assertBuilt();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-torture-conc-'));
  console.log(`concurrency: TORTURE_SEED=${seed}`);
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
  expect(findSecrets(transcript, secrets)).toEqual([]);
});

function doc(tag: string): ChatgptAuthDoc {
  const d = chatgptAuth({ email: `${tag}@example.com`, userId: `user-${tag}`, accountId: `acc-${tag}`, plan: 'team' });
  secrets.push(d.tokens.refresh_token, d.tokens.access_token, d.tokens.id_token);
  return d;
}

describe('concurrency', () => {
  it(`${PROCS} processes switching, importing and aliasing at once, ${ROUNDS} rounds: nothing lost, registry and Codex agree`, async () => {
    const rng = prng(seed);
    const home = path.join(root, 'home');
    const codexHome = path.join(home, '.codex');
    const authHome = path.join(codexHome, 'codex-auth');
    fs.mkdirSync(codexHome, { recursive: true, mode: 0o700 });
    const run = async (args: string[]): Promise<BinRun> => {
      const r = await runNode(args, { home, codexHome });
      transcript.push(r.stdout, r.stderr);
      return r;
    };

    const base = Array.from({ length: 8 }, (_, i) => doc(`base${i}`));
    const docsById = new Map(base.map((d) => [idOfChatgptDoc(d), d]));
    fs.writeFileSync(path.join(codexHome, 'auth.json'), JSON.stringify(base[0], null, 2), { mode: 0o600 });
    const baseFiles = base.slice(1).map((d, i) => {
      const f = path.join(root, `base${i + 1}.json`);
      fs.writeFileSync(f, JSON.stringify(d));
      return f;
    });
    const setup = await run(['import', ...baseFiles]);
    expect(setup.code, explain(setup)).toBe(0);
    const aliases = new Map<string, string>();

    for (let round = 0; round < ROUNDS; round += 1) {
      const jobs: { args: string[]; what: string }[] = [];
      // 6 aliases on 6 distinct base accounts, 6 imports of new accounts (half named), 8 switches.
      const shuffled = base.map((d) => d).sort(() => rng() - 0.5);
      for (let i = 0; i < 6; i += 1) {
        const d = shuffled[i] as ChatgptAuthDoc;
        const name = `al-${round}-${i}`;
        aliases.set(idOfChatgptDoc(d), name);
        jobs.push({ args: ['alias', `${idOfChatgptDoc(d).split('::')[1]?.replace('user-', '')}@example.com`, name], what: 'alias' });
      }
      for (let k = 0; k < 6; k += 1) {
        const d = doc(`new${round}x${k}`);
        docsById.set(idOfChatgptDoc(d), d);
        const f = path.join(root, `new-${round}-${k}.json`);
        fs.writeFileSync(f, JSON.stringify(d));
        if (k % 2 === 0) {
          aliases.set(idOfChatgptDoc(d), `imp-${round}-${k}`);
          jobs.push({ args: ['import', f, '--alias', `imp-${round}-${k}`], what: 'import' });
        } else jobs.push({ args: ['import', f], what: 'import' });
      }
      const targets: string[] = [];
      while (jobs.length < PROCS) {
        const t = base[Math.floor(rng() * base.length)] as ChatgptAuthDoc;
        targets.push(idOfChatgptDoc(t));
        jobs.push({ args: ['switch', `${idOfChatgptDoc(t).split('::')[1]?.replace('user-', '')}@example.com`], what: 'switch' });
      }
      jobs.sort(() => rng() - 0.5);
      const results = await Promise.all(jobs.map((j) => run(j.args)));
      for (const [i, r] of results.entries()) expect(r.code, `${jobs[i]?.args.join(' ')}: ${explain(r)}`).toBe(0);

      // Registry valid; every account ever added is there exactly once; aliases applied.
      const reg = readRegistry(path.join(authHome, 'registry.json'));
      expect(reg.accounts.map((a) => a.id).sort(), `round ${round}: accounts`).toEqual([...docsById.keys()].sort());
      for (const [id, name] of aliases) expect(reg.accounts.find((a) => a.id === id)?.alias, `round ${round}: alias of ${id}`).toBe(name);
      for (const a of reg.accounts) {
        const stored = readJson(path.join(authHome, 'accounts', `${a.secret.ref}.json`));
        expect(stored, `round ${round}: secret of ${a.id}`).toEqual(docsById.get(a.id));
      }
      // What Codex reads is the registry's active account, and one of this round's switch targets.
      const live = readJson(path.join(codexHome, 'auth.json')) as ChatgptAuthDoc;
      expect(reg.activeId, `round ${round}: registry active = auth.json identity`).toBe(idOfChatgptDoc(live));
      expect(targets).toContain(reg.activeId);
      expect(live).toEqual(docsById.get(reg.activeId as string));
      const list = await run(['list', '--json']);
      expect(list.code, explain(list)).toBe(0);
      expect(JSON.parse(list.stdout).active).toBe(idOfChatgptDoc(live));
      expect(fs.readdirSync(authHome).filter((f) => f.includes('.corrupt-') || f.endsWith('.tmp'))).toEqual([]);
      // The lock file stays (deleting a flocked file is what lets two processes hold "the" lock); no
      // process holds it any more.
      expect(spawnSync('flock', ['-n', '-x', path.join(authHome, 'registry.lock'), 'true']).status, 'no lock left held').toBe(0);
    }
  }, 120_000);
});
