/** Finding running Codex processes, to warn that they keep their old account until restarted. */
import fs from 'node:fs';
import path from 'node:path';
import { nodeRequire } from './node-require.js';

export interface ProcessInfo {
  pid: number;
  command: string;
}

function isCodexArgv(argv: string[]): boolean {
  const [exe, script] = argv;
  if (!exe) return false;
  const base = path.basename(exe);
  if (base === 'codex' || base === 'codex.exe') return true;
  // The npm launcher: node .../@openai/codex/bin/codex.js
  if (/^node(js)?(\.exe)?$/.test(base) && script && /(^|[/\\])codex(\.js)?$/.test(script)) return true;
  return false;
}

export async function findCodexProcesses(platform: NodeJS.Platform): Promise<ProcessInfo[]> {
  if (platform === 'linux') return fromProc();
  if (platform === 'win32') return [];
  return fromPs();
}

/** What the scan reads, injectable for tests. */
export interface ProcFs {
  readdir(dir: string): string[];
  read(file: string): string;
}

const realProc: ProcFs = { readdir: (d) => fs.readdirSync(d), read: (f) => fs.readFileSync(f, 'utf8') };

/**
 * The kernel's own threads: the children of kthreadd (pid 2), listed by the kernel in one file.
 * None of them is Codex, and on a typical machine they are most of /proc. Only where pid 2 really is
 * kthreadd (parent 0): in a container's pid namespace pid 2 is an ordinary process.
 */
function kernelThreads(proc: ProcFs): Set<string> {
  try {
    if (!/^2 \(kthreadd\) \S+ 0 /.test(proc.read('/proc/2/stat'))) return new Set();
    return new Set(['2', ...proc.read('/proc/2/task/2/children').split(' ').filter((p) => /^\d+$/.test(p))]);
  } catch {
    return new Set(); // no kthreadd, or a kernel without /proc/PID/task/TID/children
  }
}

/**
 * Every process's command line. A switch runs this on every call (while its lock helpers run), and
 * a desktop has hundreds of processes: kernel threads are skipped, then one readFileSync per process
 * (a single call into Node's C++ side), and only a command line that mentions "codex" is split.
 */
export function fromProc(proc: ProcFs = realProc, self: number = process.pid): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  let entries: string[];
  try {
    entries = proc.readdir('/proc');
  } catch {
    return out;
  }
  const kernel = kernelThreads(proc);
  for (const e of entries) {
    const c = e.charCodeAt(0);
    if (c < 48 || c > 57 || !/^\d+$/.test(e) || kernel.has(e)) continue;
    const pid = Number(e);
    if (pid === self) continue;
    let cmdline: string;
    try {
      cmdline = proc.read(`/proc/${e}/cmdline`);
    } catch {
      continue; // exited meanwhile
    }
    if (!cmdline.includes('codex')) continue;
    if (isCodexArgv(cmdline.split('\0').filter(Boolean))) out.push({ pid, command: 'codex' });
  }
  return out;
}

function fromPs(): Promise<ProcessInfo[]> {
  const { execFile } = nodeRequire('node:child_process') as typeof import('node:child_process');
  return new Promise((resolve) => {
    execFile('ps', ['-axo', 'pid=,args='], { timeout: 2000 }, (err, stdout) => {
      if (err) return resolve([]);
      const out: ProcessInfo[] = [];
      for (const line of stdout.split('\n')) {
        const m = /^\s*(\d+)\s+(.*)$/.exec(line);
        if (!m) continue;
        const pid = Number(m[1]);
        if (pid === process.pid) continue;
        const argv = (m[2] ?? '').split(/\s+/);
        if (isCodexArgv(argv)) out.push({ pid, command: 'codex' });
      }
      resolve(out);
    });
  });
}
