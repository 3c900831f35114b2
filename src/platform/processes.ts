/**
 * Finding running Codex processes, to warn that they keep their old account until restarted: this
 * user's Codex processes on this CODEX_HOME, each counted once (the npm launcher `node .../codex.js`
 * and the native `codex` it starts are one Codex).
 */
import { readFileSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';

export interface ProcessInfo {
  pid: number;
  command: string;
}

/** Whose Codex processes count: this user's (uid), on this Codex home. */
export interface ProcessScope {
  /** The CODEX_HOME codex-auth manages, absolute. */
  codexHome: string;
  /** This user's home: Codex's default CODEX_HOME is ~/.codex when a process's HOME is unknown. */
  homedir: string;
  /** This user's uid; undefined where there is none (Windows). */
  uid?: number;
}

function isLauncher(argv: string[]): boolean {
  const [exe, script] = argv;
  return Boolean(exe && /^node(js)?(\.exe)?$/.test(path.basename(exe)) && script && /(^|[/\\])codex(\.js)?$/.test(script));
}

function isCodexArgv(argv: string[]): boolean {
  const [exe] = argv;
  if (!exe) return false;
  const base = path.basename(exe);
  if (base === 'codex' || base === 'codex.exe') return true;
  return isLauncher(argv); // the npm launcher: node .../@openai/codex/bin/codex.js
}

export async function findCodexProcesses(platform: NodeJS.Platform, scope?: ProcessScope): Promise<ProcessInfo[]> {
  if (platform === 'linux') return fromProc(realProc, process.pid, scope);
  if (platform === 'win32') return [];
  return fromPs(scope);
}

/** What the scan reads, injectable for tests. */
export interface ProcFs {
  readdir(dir: string): string[];
  read(file: string): string;
  /** The uid owning a /proc/PID directory (the process's real owner). */
  owner?(file: string): number;
  readlink?(file: string): string;
}

const realProc: ProcFs = {
  readdir: (d) => readdirSync(d),
  read: (f) => readFileSync(f, 'utf8'),
  owner: (f) => statSync(f).uid,
  readlink: (f) => readlinkSync(f),
};

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

/** A directory's identity for comparison: its real path when it exists, else the path itself. */
function canonical(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return path.resolve(dir);
  }
}

/**
 * The CODEX_HOME a process runs with, from /proc/PID/environ: CODEX_HOME when set and non-empty
 * (relative to the process's working directory), else $HOME/.codex as Codex defaults. Null when
 * its environment cannot be read (another user's process).
 */
function codexHomeOf(proc: ProcFs, pid: string, homedir: string): string | null {
  let environ: string;
  try {
    environ = proc.read(`/proc/${pid}/environ`);
  } catch {
    return null;
  }
  let codexHome = '';
  let home = '';
  for (const kv of environ.split('\0')) {
    if (kv.startsWith('CODEX_HOME=')) codexHome = kv.slice(11);
    else if (kv.startsWith('HOME=')) home = kv.slice(5);
  }
  if (!codexHome) return path.join(home || homedir, '.codex');
  if (path.isAbsolute(codexHome)) return codexHome;
  try {
    return path.resolve(proc.readlink?.(`/proc/${pid}/cwd`) ?? '/', codexHome);
  } catch {
    return null;
  }
}

/** The parent pid, from /proc/PID/stat (after the command name, which may hold spaces and parens). */
function parentOf(proc: ProcFs, pid: string): number | null {
  try {
    const stat = proc.read(`/proc/${pid}/stat`);
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) ? ppid : null;
  } catch {
    return null;
  }
}

interface Candidate {
  pid: number;
  ppid: number | null;
  launcher: boolean;
}

/** One Codex each: a process whose parent is the npm launcher of the same Codex is that Codex. */
function once(found: Candidate[]): ProcessInfo[] {
  const launchers = new Set(found.filter((c) => c.launcher).map((c) => c.pid));
  return found.filter((c) => c.ppid === null || !launchers.has(c.ppid)).map((c) => ({ pid: c.pid, command: 'codex' }));
}

/**
 * Every process's command line. A switch runs this on every call (while its lock helpers run), and
 * a desktop has hundreds of processes: kernel threads are skipped, then one readFileSync per process
 * (a single call into Node's C++ side), and only a command line that mentions "codex" is split.
 * Only for those: the owner, the environment (its CODEX_HOME) and the parent are read.
 */
export function fromProc(proc: ProcFs = realProc, self: number = process.pid, scope?: ProcessScope): ProcessInfo[] {
  const found: Candidate[] = [];
  let entries: string[];
  try {
    entries = proc.readdir('/proc');
  } catch {
    return [];
  }
  const kernel = kernelThreads(proc);
  let ours: string | undefined;
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
    const argv = cmdline.split('\0').filter(Boolean);
    if (!isCodexArgv(argv)) continue;
    if (scope) {
      if (scope.uid !== undefined && proc.owner) {
        try {
          if (proc.owner(`/proc/${e}`) !== scope.uid) continue; // another user's Codex
        } catch {
          continue;
        }
      }
      const home = codexHomeOf(proc, e, scope.homedir);
      ours ??= canonical(scope.codexHome);
      if (home === null || canonical(home) !== ours) continue; // another Codex home's
    }
    found.push({ pid, ppid: parentOf(proc, e), launcher: isLauncher(argv) });
  }
  return once(found);
}

/**
 * macOS (and other systems with ps): this user's Codex processes, each once. Other processes'
 * environments are not readable cheaply there, so every CODEX_HOME counts.
 */
function fromPs(scope?: ProcessScope): Promise<ProcessInfo[]> {
  const { execFile } = process.getBuiltinModule('node:child_process');
  return new Promise((resolve) => {
    execFile('ps', ['-axo', 'pid=,ppid=,uid=,args='], { timeout: 2000 }, (err, stdout) => {
      if (err) return resolve([]);
      const found: Candidate[] = [];
      for (const line of stdout.split('\n')) {
        const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(.*)$/.exec(line);
        if (!m) continue;
        const pid = Number(m[1]);
        if (pid === process.pid) continue;
        if (scope?.uid !== undefined && Number(m[3]) !== scope.uid) continue;
        const argv = (m[4] ?? '').split(/\s+/);
        if (isCodexArgv(argv)) found.push({ pid, ppid: Number(m[2]), launcher: isLauncher(argv) });
      }
      resolve(once(found));
    });
  });
}
