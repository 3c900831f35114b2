/**
 * The built binary loads node:crypto only when it hashes something or names a temp file: a `list`
 * or `status` after a switch does neither (the registry's record of auth.json stands in for the
 * hash, src/services/sync.ts). Seen in real processes: a --require'd probe prints process.moduleLoadList at exit.
 *
 * Nor does a command that does not prompt (`list`, `switch QUERY`) load @inquirer/prompts: an --import'ed
 * probe registers a resolve hook that reports every @inquirer module import()ed, and the --require'd one
 * reports any require()d (a static import in the CommonJS bundle).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { assertBuilt, runBin } from '../support/bin.js';
import { REPO_ROOT } from '../support/codex.js';
import { findSecrets } from '../support/inprocess.js';
import { chatgptAuth } from '../support/jwt.js';

let root: string;
let home: string;
let codexHome: string;
let probe: string;
let inquirerProbe: string;
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
  const hooks = path.join(root, 'hooks.mjs');
  fs.writeFileSync(
    hooks,
    "import fs from 'node:fs';\nexport async function resolve(spec, ctx, next) {\n  if (spec.includes('@inquirer')) fs.writeSync(2, `\\nINQUIRER import ${spec}\\n`);\n  return next(spec, ctx);\n}\n",
  );
  inquirerProbe = path.join(root, 'inquirer-probe.mjs');
  fs.writeFileSync(
    inquirerProbe,
    `import { register } from 'node:module';\nimport { createRequire } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\nconst require = createRequire(import.meta.url);\nprocess.on('exit', () => { for (const k of Object.keys(require.cache)) if (k.includes('@inquirer')) require('node:fs').writeSync(2, \`\\nINQUIRER require \${k}\\n\`); });\n`,
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

it('list and switch QUERY never load @inquirer/prompts (the probe does see it loaded)', async () => {
  const probed = async (args: string[]): Promise<string[]> => {
    const r = await runBin(args, { home, codexHome, env: { NODE_OPTIONS: `--import ${pathToFileURL(inquirerProbe).href}` } });
    transcript.push(r.stdout, r.stderr);
    expect(r.code, r.stderr).toBe(0);
    return r.stderr.split('\n').filter((l) => l.startsWith('INQUIRER '));
  };
  expect(await probed(['list'])).toEqual([]);
  expect(await probed(['switch', '1'])).toEqual([]);
  // The probe works: a process that imports it is seen.
  const seen = spawnSync(process.execPath, ['--import', pathToFileURL(inquirerProbe).href, '-e', "import('@inquirer/prompts')"], { cwd: REPO_ROOT, encoding: 'utf8' });
  expect(seen.stderr).toContain('INQUIRER import @inquirer/prompts');
});
