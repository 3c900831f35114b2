/** Backups of the live auth.json: the newest ten kept, and any that is the only copy of a login; each a private copy. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { atomicWriteFile } from '../../src/store/atomic.js';
import { backupLive, pruneBackups } from '../../src/store/backups.js';

let root: string;
let dir: string;
let live: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-backups-'));
  dir = path.join(root, 'backups');
  live = path.join(root, 'auth.json');
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const at = (s: number) => new Date(Date.UTC(2026, 10, 23, 3, 0, s));

describe('backupLive', () => {
  it('writes a private copy of the text: its own file (never a link to the live one), mode 0600, in a 0700 directory', () => {
    fs.writeFileSync(live, '{"old":1}', { mode: 0o600 });
    const file = backupLive(dir, '{"old":1}', at(1));
    const st = fs.statSync(file);
    expect(st.ino).not.toBe(fs.statSync(live).ino);
    expect(st.nlink).toBe(1);
    expect(st.mode & 0o777).toBe(0o600);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(fs.readFileSync(file, 'utf8')).toBe('{"old":1}');
    atomicWriteFile(live, '{"new":2}'); // what a switch does next
    expect(fs.readFileSync(file, 'utf8')).toBe('{"old":1}');
    expect(fs.readdirSync(dir)).toEqual([path.basename(file)]); // no temporary file left behind
  });

  it.each([
    ['under a umask that would let others read', { durable: false }],
    ['durable (the only copy)', { durable: true }],
  ])('is private whatever the umask: %s', (_why, opts) => {
    const old = process.umask(0o022);
    try {
      const file = backupLive(dir, '{"old":1}', at(2), opts);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(fs.readFileSync(file, 'utf8')).toBe('{"old":1}');
    } finally {
      process.umask(old);
    }
  });

  it('keeps the newest ten, and never reuses a name within the same millisecond', () => {
    const files: string[] = [];
    for (let i = 0; i < 12; i += 1) files.push(backupLive(dir, `{"n":${i}}`, at(i)));
    files.push(backupLive(dir, '{"n":"same ms"}', at(11)));
    const left = fs.readdirSync(dir).sort();
    expect(left).toHaveLength(10);
    expect(new Set(files).size).toBe(13);
    expect(left).toContain(path.basename(files[12] as string));
    expect(left).not.toContain(path.basename(files[0] as string));
  });

  it('never prunes by count a backup that is the only copy of a login; prunes it once the login is stored elsewhere', () => {
    const N = 10;
    const saved = new Set<string>();
    const onlyCopy = (text: string) => (JSON.parse(text) as { who: string }).who.startsWith('unknown') && !saved.has(text);
    const files: string[] = [];
    // The oldest backup (the first to go by count) is the only copy of a login.
    for (let i = 0; i < N + 5; i += 1) files.push(backupLive(dir, JSON.stringify({ who: i === 0 ? 'unknown-login' : `known-${i}` }), at(i), { keep: N, onlyCopy }));
    const only = path.basename(files[0] as string);
    let left = fs.readdirSync(dir).sort();
    expect(left).toContain(only);
    expect(left.filter((f) => f !== only)).toEqual(files.slice(5).map((f) => path.basename(f)).sort()); // the others: the newest N
    // More backups later: still kept.
    backupLive(dir, JSON.stringify({ who: 'known-late' }), at(40), { keep: N, onlyCopy });
    expect(fs.readdirSync(dir)).toContain(only);
    expect(fs.readdirSync(dir)).toHaveLength(N + 1);
    // The login is imported: the backup is pruned like any other.
    saved.add(fs.readFileSync(path.join(dir, only), 'utf8'));
    expect(pruneBackups(dir, { keep: N, onlyCopy })).toEqual([path.join(dir, only)]);
    left = fs.readdirSync(dir);
    expect(left).toHaveLength(N);
    expect(left).not.toContain(only);
  });

  it('an only copy counts among the newest while it is one of them, and stays once it ages past them', () => {
    const onlyCopy = (text: string) => text.includes('unknown');
    const files = [backupLive(dir, '{"who":"unknown"}', at(0), { keep: 3, onlyCopy })];
    for (let i = 1; i <= 5; i += 1) files.push(backupLive(dir, `{"who":"known-${i}"}`, at(i), { keep: 3, onlyCopy }));
    expect(fs.readdirSync(dir).sort()).toEqual([files[0], ...files.slice(3)].map((f) => path.basename(f as string)));
  });
});
