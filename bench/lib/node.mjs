/** The Node binary every measured process runs on: BENCH_NODE, else the Node running the bench. */
import { spawnSync } from 'node:child_process';

export const NODE = process.env.BENCH_NODE || process.execPath;

function versionOf(node) {
  if (node === process.execPath) return process.version;
  const r = spawnSync(node, ['--version'], { encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`BENCH_NODE=${node} does not run: ${(r.stderr || r.error?.message || '').trim()}`);
    process.exit(2);
  }
  return r.stdout.trim();
}

export const NODE_VERSION = versionOf(NODE);
