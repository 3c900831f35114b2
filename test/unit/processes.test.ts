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
