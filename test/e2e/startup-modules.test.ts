/**
 * The built binary loads node:crypto only when it hashes something or names a temp file: a `list`
 * or `status` after a switch does neither (the registry's record of auth.json stands in for the
 * hash, src/services/sync.ts). Seen in real processes: a --require'd probe prints process.moduleLoadList at exit.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { assertBuilt, runBin } from '../support/bin.js';
import { findSecrets } from '../support/inprocess.js';
import { chatgptAuth } from '../support/jwt.js';

let root: string;
let home: string;
let codexHome: string;
let probe: string;
const transcript: string[] = [];
const secrets: string[] = [];

beforeAll(() => {
  assertBuilt();
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-modules-'));
  home = path.join(root, 'home');
  codexHome = path.join(home, '.codex');
  fs.mkdirSync(codexHome, { recursive: true, mode: 0o700 });
  probe = path.join(root, 'probe.cjs');
  fs.writeFileSync(
    probe,
    "process.on('exit', () => require('node:fs').writeSync(2, `\\nMODULES ${JSON.stringify(process.moduleLoadList.filter((m) => /crypto/.test(m)))}\\n`));\n",
  );
});
afterAll(() => {
  expect(findSecrets(transcript, secrets)).toEqual([]);
  fs.rmSync(root, { recursive: true, force: true });
});

async function run(args: string[]): Promise<{ code: number | null; cryptoModules: string[] }> {
  const r = await runBin(args, { home, codexHome, env: { NODE_OPTIONS: `--require ${probe}` } });
  transcript.push(r.stdout, r.stderr);
  expect(r.code, r.stderr).toBe(0);
  const line = r.stderr.split('\n').find((l) => l.startsWith('MODULES '));
  expect(line, r.stderr).toBeDefined();
  return { code: r.code, cryptoModules: JSON.parse((line as string).slice('MODULES '.length)) };
}

it('list and status after a switch never load node:crypto; the switch itself does', async () => {
  const docs = [chatgptAuth({ email: 'alice@example.com', userId: 'user-alice', accountId: 'acc-alice' }), chatgptAuth({ email: 'bob@example.com', userId: 'user-bob', accountId: 'acc-bob' })];
  for (const d of docs) secrets.push(d.tokens.refresh_token, d.tokens.access_token, d.tokens.id_token);
  const files = docs.map((d, i) => {
    const p = path.join(root, `in-${i}.json`);
    fs.writeFileSync(p, JSON.stringify(d));
    return p;
  });
  await run(['import', ...files]);
  const sw = await run(['switch', 'bob@example.com']);
  expect(sw.cryptoModules).toContain('NativeModule crypto');
  expect((await run(['list'])).cryptoModules).toEqual([]);
  expect((await run(['status'])).cryptoModules).toEqual([]);
});
