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

const CODEX = Buffer.from('codex');

/**
 * Every process's command line, read into one reused buffer: a switch runs this on every call, and a
 * desktop has hundreds of processes. Only a command line that mentions "codex" is decoded.
 */
function fromProc(): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  const buf = Buffer.allocUnsafe(4096);
  for (const e of entries) {
    const c = e.charCodeAt(0);
    if (c < 48 || c > 57 || !/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    let fd: number;
    try {
      fd = fs.openSync(`/proc/${e}/cmdline`, 'r');
    } catch {
      continue; // exited meanwhile
    }
    try {
      const n = fs.readSync(fd, buf, 0, buf.length, 0);
      const head = buf.subarray(0, n);
      if (head.indexOf(CODEX) === -1) continue;
      const argv = head.toString('utf8').split('\0').filter(Boolean);
      if (isCodexArgv(argv)) out.push({ pid, command: 'codex' });
    } catch {
      /* exited meanwhile */
    } finally {
      fs.closeSync(fd);
    }
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
