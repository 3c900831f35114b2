/**
 * Planted symlinks at the names codex-auth writes through, as if an attacker predicted every one:
 * in-process, each temp file codex-auth is about to create (`.<name>.<suffix>.tmp`, whatever the
 * suffix scheme) gets a symlink planted at that exact path just before the open, and backup names
 * are made predictable with a fixed clock. Whether the link points at a victim file outside or
 * dangles, it is never written through: the victim is unchanged, nothing is created where a dangling
 * link points, and the real files stay whole (old or new content, regular files, 0600).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FakeOpenAI } from '../support/fake-openai.js';
import { findSecrets, makeSandbox, type Sandbox } from '../support/inprocess.js';
import { chatgptAuth, type ChatgptAuthDoc } from '../support/jwt.js';

// Later than the tokens' last_refresh (their real creation time), fixed so backup names are known.
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000 + 86_400_089);
const STAMP = NOW.toISOString().replace(/[:.]/g, '-');
const secrets: string[] = [];
let fake: FakeOpenAI;

beforeAll(async () => {
  fake = await FakeOpenAI.start();
});
afterAll(async () => {
  await fake.close();
});

function remember(doc: ChatgptAuthDoc): ChatgptAuthDoc {
  secrets.push(doc.tokens.refresh_token, doc.tokens.access_token, doc.tokens.id_token);
  return doc;
}

/**
 * codex-auth imports node:fs by name (`import { openSync } from 'node:fs'`), so the hook goes into the
 * module every importer gets: node:fs mocked for this file's module graph, openSync calling
 * `beforeOpen` first, everything else the real thing.
 */
const hooks = vi.hoisted(() => ({ beforeOpen: null as null | ((p: unknown, flags: unknown) => void) }));
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const openSync = ((p: import('node:fs').PathLike, flags?: import('node:fs').OpenMode, mode?: import('node:fs').Mode | null) => {
    hooks.beforeOpen?.(p, flags);
    return real.openSync(p, flags as import('node:fs').OpenMode, mode);
  }) as typeof real.openSync;
  return { ...real, openSync, default: { ...real, openSync } };
});

afterEach(() => {
  hooks.beforeOpen = null;
});

/** Plant a symlink to `target` at every temp file codex-auth opens for creation, just before it does. */
function plantAtEveryTempOpen(target: string): string[] {
  const planted: string[] = [];
  hooks.beforeOpen = (p, flags) => {
    const creating = typeof flags === 'number' ? (flags & fs.constants.O_CREAT) !== 0 : typeof flags === 'string' && /[wa]/.test(flags);
    if (typeof p === 'string' && creating && /\/\.[^/]+\.tmp$/.test(p)) {
      try {
        fs.symlinkSync(target, p);
        planted.push(p);
      } catch {
        /* already there */
      }
    }
  };
  return planted;
}

describe('planted symlinks at every temp name, as if predicted (in-process, fixed clock)', () => {
  it.each(['victim', 'dangling'] as const)('a link to a %s file at every temp name and backup name: never written through', async (kind) => {
    const sb = makeSandbox({ CODEX_AUTH_OPENAI_BASE_URL: fake.openaiBaseUrl, CODEX_REFRESH_TOKEN_URL_OVERRIDE: fake.refreshUrl });
    try {
      const a = remember(fake.addChatgptAccount({ email: 'tmp-a@example.com', userId: 'user-tmp-a', accountId: 'acc-tmp-a' }));
      const b = remember(fake.addChatgptAccount({ email: 'tmp-b@example.com', userId: 'user-tmp-b', accountId: 'acc-tmp-b' }));
      sb.writeAuth(a);
      const bFile = path.join(sb.root, 'b.json');
      fs.writeFileSync(bFile, JSON.stringify(b));
      expect((await sb.run(['import', bFile], { now: NOW })).code).toBe(0);
      const home = path.join(sb.codexHome, 'codex-auth');

      const victim = path.join(sb.root, 'victim.txt');
      if (kind === 'victim') fs.writeFileSync(victim, 'VICTIM\n');
      // Backup names come from the clock: plant those too.
      fs.mkdirSync(path.join(home, 'backups'), { recursive: true, mode: 0o700 });
      const backupLinks = ['', '-1', '-2'].map((x) => path.join(home, 'backups', `auth-${STAMP}${x}.json`));
      for (const p of backupLinks) fs.symlinkSync(victim, p);
      const planted = plantAtEveryTempOpen(victim);
      const authBefore = fs.readFileSync(sb.authJsonPath, 'utf8');

      const runs = [
        await sb.run(['switch', 'tmp-b'], { now: NOW }),
        await sb.run(['refresh', '--force', 'tmp-a'], { now: NOW }),
        await sb.run(['refresh', '--force', 'tmp-b'], { now: NOW }),
        await sb.run(['alias', 'tmp-a', 'pinned'], { now: NOW }),
      ];
      for (const r of [...runs]) {
        expect(r.stderr, 'no stack trace').not.toMatch(/\bat .*:\d+:\d+/);
        expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(3);
      }
      // Never written through.
      if (kind === 'victim') expect(fs.readFileSync(victim, 'utf8')).toBe('VICTIM\n');
      else expect(fs.existsSync(victim), 'a file was created through a dangling link').toBe(false);
      // The real files are whole: the old or the new content, never anything else.
      const auth = fs.readFileSync(sb.authJsonPath, 'utf8');
      expect(auth === authBefore || (JSON.parse(auth) as ChatgptAuthDoc).tokens.account_id === 'acc-tmp-b').toBe(true);
      JSON.parse(fs.readFileSync(path.join(home, 'registry.json'), 'utf8'));
      expect(fs.lstatSync(path.join(home, 'registry.json')).isFile()).toBe(true);
      expect(fs.lstatSync(sb.authJsonPath).isFile()).toBe(true);
      vi.restoreAllMocks();
      // The attack was real: links were planted at the temp names of auth.json, the registry and a secret.
      const where = JSON.stringify(planted.map((p) => path.relative(sb.codexHome, p)));
      expect(planted.some((p) => path.basename(p).startsWith('.auth.json.')), where).toBe(true);
      expect(planted.some((p) => path.basename(p).startsWith('.registry.json.')), where).toBe(true);
      expect(planted.some((p) => p.includes(`${path.sep}accounts${path.sep}`)), where).toBe(true);
      for (const p of [...planted, ...backupLinks]) {
        // Each link is still a link (refused) or was replaced by a real file of ours (a rename over it).
        const st = fs.lstatSync(p, { throwIfNoEntry: false });
        if (st && !st.isSymbolicLink()) expect((st.mode & 0o777).toString(8)).toBe('600');
      }
      for (const a of fake.refreshAttempts()) secrets.push(String(a.body.refresh_token ?? ''), String(a.body.access_token ?? ''));
      expect(findSecrets(sb.transcript, secrets.filter((s) => s.length > 8))).toEqual([]);
    } finally {
      sb.cleanup();
    }
  });
});
