/** A process's CPU time and memory from /proc (Linux). */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

export function clockTicks() {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
}

/** utime+stime (+ children's) in ticks, from /proc/<pid>/stat. */
export function cpuTicks(pid) {
  const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): utime=14, stime=15, cutime=16, cstime=17.
  return Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14]);
}

/** A `kB` field of /proc/<pid>/status (VmRSS, VmHWM…), or null. */
export function statusKb(pid, key) {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}
