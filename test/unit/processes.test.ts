/** The /proc scan behind the running-Codex warning, against a /proc made up in memory. */
import { describe, expect, it } from 'vitest';
import { fromProc, type ProcFs } from '../../src/platform/processes.js';

/** A /proc of `procs` (pid → argv, or null for a kernel thread), with kthreadd's files as given. */
function fakeProc(procs: Record<string, string[] | null>, files: Record<string, string> = {}) {
  const read: string[] = [];
  const fs: ProcFs = {
    readdir: () => ['self', 'cpuinfo', ...Object.keys(procs)],
    read: (f) => {
      read.push(f);
      if (f in files) return files[f] as string;
      const m = /^\/proc\/(\d+)\/cmdline$/.exec(f);
      const argv = m ? procs[m[1] as string] : undefined;
      if (argv === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      return argv === null ? '' : `${argv.join('\0')}\0`;
    },
  };
  return { fs, read };
}

const procs = {
  '1': ['/sbin/init'],
  '2': null,
  '3': null,
  '40': null,
  '100': ['/usr/local/bin/codex', 'exec', 'hi'],
  '101': ['node', '/usr/lib/node_modules/@openai/codex/bin/codex.js'],
  '102': ['/bin/sleep', '30', 'codex'],
  '103': ['node', '/home/u/codex-auth/bin/codex-auth.cjs', 'switch'],
  '104': ['/opt/codex/codex.exe'],
};
const kthreadd = { '/proc/2/stat': '2 (kthreadd) S 0 0 0 0 -1 2129984 0 0', '/proc/2/task/2/children': '3 40 \n' };

describe('the running-Codex scan', () => {
  it('finds the native binary and the npm launcher, not look-alikes, not itself', () => {
    const { fs } = fakeProc(procs, kthreadd);
    expect(fromProc(fs, 104).map((p) => p.pid)).toEqual([100, 101]);
    expect(fromProc(fs, 1).map((p) => p.pid)).toEqual([100, 101, 104]);
  });

  it("skips kthreadd's children without reading them", () => {
    const { fs, read } = fakeProc(procs, kthreadd);
    fromProc(fs, 1);
    expect(read).not.toContain('/proc/3/cmdline');
    expect(read).not.toContain('/proc/40/cmdline');
    expect(read).not.toContain('/proc/2/cmdline');
    expect(read).toContain('/proc/100/cmdline');
  });

  it('in a container (pid 2 an ordinary process) or without the children file, reads every process', () => {
    const container = fakeProc({ ...procs, '2': ['/usr/local/bin/codex'] }, { '/proc/2/stat': '2 (codex) S 1 2 2 0 -1', '/proc/2/task/2/children': '3 40' });
    expect(fromProc(container.fs, 1).map((p) => p.pid)).toEqual([2, 100, 101, 104]);
    expect(container.read).toContain('/proc/3/cmdline');
    const noChildrenFile = fakeProc(procs, { '/proc/2/stat': kthreadd['/proc/2/stat'] });
    expect(fromProc(noChildrenFile.fs, 1).map((p) => p.pid)).toEqual([100, 101, 104]);
    expect(noChildrenFile.read).toContain('/proc/3/cmdline');
  });
});

describe('the running-Codex scan, scoped to this user and this CODEX_HOME', () => {
  /** pid → [argv, uid, environ, ppid]. */
  function scoped(procs: Record<string, [string[], number, Record<string, string> | null, number]>) {
    const fs: ProcFs = {
      readdir: () => Object.keys(procs),
      read: (f) => {
        const m = /^\/proc\/(\d+)\/(cmdline|environ|stat)$/.exec(f);
        const p = m ? procs[m[1] as string] : undefined;
        if (!m || !p) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
        if (m[2] === 'cmdline') return `${p[0].join('\0')}\0`;
        if (m[2] === 'stat') return `${m[1]} (co dex) S ${p[3]} 1 1 0`;
        if (p[2] === null) throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
        return Object.entries(p[2]).map(([k, v]) => `${k}=${v}\0`).join('');
      },
      owner: (f) => procs[f.slice('/proc/'.length)]?.[1] ?? -1,
      readlink: () => '/work',
    };
    return fs;
  }
  const scope = { codexHome: '/home/u/.codex', homedir: '/home/u', uid: 1000 };

  it('counts this user\'s Codex on this CODEX_HOME (set, or the default of its HOME), not other users\' or other homes\'', () => {
    const fs = scoped({
      '10': [['/usr/bin/codex'], 1000, { CODEX_HOME: '/home/u/.codex' }, 1],
      '11': [['/usr/bin/codex', 'exec'], 1000, { HOME: '/home/u' }, 1], // the default ~/.codex
      '12': [['/usr/bin/codex'], 1000, { CODEX_HOME: '/home/u/other' }, 1],
      '13': [['/usr/bin/codex'], 1001, { CODEX_HOME: '/home/u/.codex' }, 1], // another user
      '14': [['/usr/bin/codex'], 1000, null, 1], // environment unreadable
      '15': [['/usr/bin/codex'], 1000, { HOME: '/home/v' }, 1], // another HOME's default
      '16': [['/usr/bin/codex'], 1000, { CODEX_HOME: '../home/u/.codex' }, 1], // relative to its cwd (/work)
      '17': [['/usr/bin/codex'], 1000, { CODEX_HOME: '', HOME: '/home/u' }, 1], // empty: the default
    });
    expect(fromProc(fs, 1, scope).map((p) => p.pid)).toEqual([10, 11, 16, 17]);
    expect(fromProc(fs, 1, { ...scope, codexHome: '/home/u/other' }).map((p) => p.pid)).toEqual([12]);
    expect(fromProc(fs, 1, { ...scope, codexHome: '/home/u/.codex/../.codex' }).map((p) => p.pid)).toEqual([10, 11, 16, 17]);
  });

  it('counts the npm launcher and the native codex it started once', () => {
    const env = { CODEX_HOME: '/home/u/.codex' };
    const fs = scoped({
      '20': [['node', '/usr/lib/node_modules/@openai/codex/bin/codex.js', 'exec'], 1000, env, 1],
      '21': [['/usr/lib/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex', 'exec'], 1000, env, 20],
      '30': [['/usr/bin/codex'], 1000, env, 1], // a native codex started directly...
      '31': [['/usr/bin/codex', 'app-server'], 1000, env, 30], // ...and one it started: two
    });
    expect(fromProc(fs, 1, scope).map((p) => p.pid)).toEqual([20, 30, 31]);
  });
});
