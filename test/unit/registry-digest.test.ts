/** The registry digest lets reads skip the schema only for exactly what codex-auth wrote or validated. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolvePaths } from '../../src/store/paths.js';
import { RegistryStore } from '../../src/store/registry.js';
import { emptyRegistry } from '../../src/store/registry-defaults.js';

let dir: string;
let store: RegistryStore;
let warnings: string[];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-digest-'));
  fs.mkdirSync(path.join(dir, '.codex'));
  warnings = [];
  store = new RegistryStore(resolvePaths({ env: { CODEX_HOME: path.join(dir, '.codex') }, homedir: dir, cwd: dir }), (m) => warnings.push(m), () => new Date('2026-11-23T00:00:00Z'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const file = () => path.join(dir, '.codex', 'codex-auth', 'registry.json');

describe('registry digest', () => {
  it('writes a digest with the registry and accepts the file as written', async () => {
    const reg = emptyRegistry();
    reg.activeId = 'x';
    store.save(reg);
    expect(fs.existsSync(`${file()}.sum`)).toBe(true);
    expect((await store.load()).activeId).toBe('x');
  });

  it('validates in full when the file no longer matches its digest: a bad edit is caught, not trusted', async () => {
    store.save(emptyRegistry());
    const doc = JSON.parse(fs.readFileSync(file(), 'utf8'));
    doc.accounts = 'broken';
    fs.writeFileSync(file(), JSON.stringify(doc));
    const reg = await store.load();
    expect(reg.accounts).toEqual([]);
    expect(warnings.join('\n')).toMatch(/registry\.json is corrupt \(accounts: /);
  });

  it('fills defaults for a valid file missing optional fields, and does not trust it blindly next time', async () => {
    fs.mkdirSync(path.dirname(file()), { recursive: true });
    fs.writeFileSync(file(), JSON.stringify({ version: 1, activeId: null, previousId: null, accounts: [], fallback: { enabled: false, keyId: null, threshold: 100, rotate: true, switchBack: true } }));
    const first = await store.load();
    expect(first.limitEvents).toEqual([]);
    expect(first.removedLiveIds).toEqual([]);
    expect(fs.existsSync(`${file()}.sum`)).toBe(false); // the schema added defaults: no shortcut for this text
    const second = await store.load();
    expect(second.limitEvents).toEqual([]);
  });

  it('remembers a hand-written file that validated unchanged', async () => {
    const text = JSON.stringify({ ...emptyRegistry(), activeId: 'hand' });
    fs.mkdirSync(path.dirname(file()), { recursive: true });
    fs.writeFileSync(file(), text);
    expect((await store.load()).activeId).toBe('hand');
    expect(fs.existsSync(`${file()}.sum`)).toBe(true);
    expect((await store.load()).activeId).toBe('hand');
  });
});

describe('registry digest: a link planted in its place', () => {
  it('is removed, never written through; the digest is written and used', async () => {
    const outside = path.join(dir, 'outside.txt');
    fs.writeFileSync(outside, 'untouched');
    fs.mkdirSync(path.dirname(file()), { recursive: true, mode: 0o700 });
    fs.symlinkSync(outside, `${file()}.sum`);
    const reg = emptyRegistry();
    reg.activeId = 'y';
    store.save(reg);
    expect(fs.readFileSync(outside, 'utf8')).toBe('untouched');
    expect(fs.lstatSync(`${file()}.sum`).isFile()).toBe(true);
    expect((await store.load()).activeId).toBe('y');
  });
});

describe('registry text', () => {
  it('reads non-ASCII (aliases, workspace titles) exactly, before and after the digest', async () => {
    const reg = emptyRegistry();
    reg.activeId = 'Jürgen — Équipe 日本 🙂';
    store.save(reg);
    expect((await store.load()).activeId).toBe('Jürgen — Équipe 日本 🙂');
    fs.rmSync(`${file()}.sum`); // the full validation path
    expect((await store.load()).activeId).toBe('Jürgen — Équipe 日本 🙂');
  });
});
