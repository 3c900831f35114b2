/** Finding running Codex processes, to warn that they keep their old account until restarted. */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ProcessInfo } from '../context.js';

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

function fromProc(): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    try {
      const argv = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (isCodexArgv(argv)) out.push({ pid, command: 'codex' });
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

function fromPs(): Promise<ProcessInfo[]> {
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
