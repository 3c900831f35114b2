/** Backups of the live auth.json: the newest ten kept; private; a hard link only where that is exact. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { atomicWriteFile } from '../../src/store/atomic.js';
import { backupLive } from '../../src/store/backups.js';

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
  it('links the live file when it is about to be replaced: the backup keeps the old bytes after the rename', () => {
    fs.writeFileSync(live, '{"old":1}', { mode: 0o600 });
    const ino = fs.statSync(live).ino;
    const file = backupLive(dir, '{"old":1}', at(1), { linkFrom: live });
    expect(fs.statSync(file).ino).toBe(ino);
    atomicWriteFile(live, '{"new":2}'); // what a switch does next
    expect(fs.readFileSync(file, 'utf8')).toBe('{"old":1}');
    expect(fs.statSync(file).nlink).toBe(1);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
  });

  it.each([
    ['readable by others', () => fs.chmodSync(live, 0o644), {}],
    ['linked elsewhere already', () => fs.linkSync(live, path.join(root, 'other')), {}],
    ['not what was read', () => fs.writeFileSync(live, '{"old":1, "more": true}'), {}],
    ['a symbolic link', () => {
      fs.renameSync(live, path.join(root, 'target.json'));
      fs.symlinkSync(path.join(root, 'target.json'), live);
    }, {}],
    ['durable (the only copy)', () => undefined, { durable: true }],
  ])('writes a private copy instead when the live file is %s', (_why, arrange, extra) => {
    fs.writeFileSync(live, '{"old":1}', { mode: 0o600 });
    arrange();
    const file = backupLive(dir, '{"old":1}', at(2), { linkFrom: live, ...extra });
    const st = fs.statSync(file);
    expect(st.ino).not.toBe(fs.statSync(live).ino);
    expect(st.nlink).toBe(1);
    expect(st.mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(file, 'utf8')).toBe('{"old":1}');
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
});
