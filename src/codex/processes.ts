/** Finding running Codex processes, to warn that they keep their old account until restarted. */
import fs from 'node:fs';
import path from 'node:path';
import type { ProcessInfo } from '../context.js';
import { nodeRequire } from '../node-require.js';

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

/**
 * Every process's command line. A switch runs this on every call (while its lock helpers run), and
 * a desktop has hundreds of processes: one readFileSync per process (a single call into Node's C++
 * side), and only a command line that mentions "codex" is split.
 */
function fromProc(): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    const c = e.charCodeAt(0);
    if (c < 48 || c > 57 || !/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8');
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
