/**
 * Whole-process timing. Two harnesses with one interface:
 *
 * - own: spawnSync in a loop, commands interleaved round-robin (the order rotates each round), so
 *   noise on the machine hits every command alike; stdio goes to /dev/null.
 * - hyperfine (when installed): `hyperfine -N --export-json`, run in several short rounds with the
 *   command order rotated, and the per-run times of all rounds merged, to get close to interleaving.
 *
 * A command is { id, label, argv: string[] | (k) => string[], verify?: (k) => void,
 *   hyperfine?: { argv, prepare?, verify? } }: argv is given to `node` (NODE); k counts
 * every run of that command, warm-ups included (used by `switch` to alternate its target).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { NODE } from './node.mjs';

export function hyperfineVersion() {
  const r = spawnSync('hyperfine', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  return r.stdout.trim();
}

function rotate(arr, by) {
  const n = arr.length;
  if (n === 0) return arr;
  const k = by % n;
  return [...arr.slice(k), ...arr.slice(0, k)];
}

/** Rerun a failed command with its output captured, for the report. */
function diagnose(argv, env, cwd) {
  const r = spawnSync(NODE, argv, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const text = `${r.stderr ?? ''}${r.stdout ?? ''}`.trim();
  return `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}: ${text.slice(0, 400)}`;
}

/**
 * @returns {{ harness: string, times: Record<string, number[]>, errors: Record<string, string> }}
 */
export function measure(commands, { runs, warmup, env, cwd, tmpDir, useHyperfine, log = () => {} }) {
  if (useHyperfine) {
    try {
      return measureHyperfine(commands, { runs, warmup, env, cwd, tmpDir, log });
    } catch (e) {
      log(`hyperfine failed (${e.message}); falling back to the built-in harness`);
    }
  }
  return measureOwn(commands, { runs, warmup, env, cwd, log });
}

export function measureOwn(commands, { runs, warmup, env, cwd, log = () => {} }) {
  const times = Object.fromEntries(commands.map((c) => [c.id, []]));
  const errors = {};
  const counter = Object.fromEntries(commands.map((c) => [c.id, 0]));
  const total = warmup + runs;
  for (let round = 0; round < total; round++) {
    const active = commands.filter((c) => !errors[c.id]);
    for (const c of rotate(active, round)) {
      const k = counter[c.id]++;
      const argv = typeof c.argv === 'function' ? c.argv(k) : c.argv;
      const cenv = c.env ?? env;
      const t0 = process.hrtime.bigint();
      const r = spawnSync(NODE, argv, { cwd, env: cenv, stdio: 'ignore' });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.error || r.status !== 0) {
        errors[c.id] = r.error ? r.error.message : diagnose(argv, cenv, cwd);
        log(`  ${c.label}: FAILED (${errors[c.id]})`);
        continue;
      }
      try {
        c.verify?.(k);
      } catch (e) {
        errors[c.id] = `verification failed: ${e.message}`;
        log(`  ${c.label}: ${errors[c.id]}`);
        continue;
      }
      if (round >= warmup) times[c.id].push(ms);
    }
    if ((round + 1) % 5 === 0 || round + 1 === total) log(`  round ${round + 1}/${total}`);
  }
  return { harness: 'own (spawnSync, round-robin interleaved)', times, errors };
}

function shellWord(s) {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`;
}

function commandLine(argv) {
  return [NODE, ...argv].map(shellWord).join(' ');
}

export function measureHyperfine(commands, { runs, warmup, env, cwd, tmpDir, log = () => {} }) {
  const perRound = 5;
  const rounds = Math.max(1, Math.ceil(runs / perRound));
  const times = Object.fromEntries(commands.map((c) => [c.id, []]));
  const errors = {};
  const truePath = ['/usr/bin/true', '/bin/true'].find((p) => fs.existsSync(p)) ?? 'true';
  for (let round = 0; round < rounds; round++) {
    const n = Math.min(perRound, runs - round * perRound);
    const order = rotate(commands, round);
    const hasPrepare = order.some((c) => c.hyperfine?.prepare);
    const out = path.join(tmpDir, `hyperfine-${round}.json`);
    const args = ['-N', '--style', 'none', '--warmup', String(round === 0 ? warmup : 1), '--runs', String(n), '--export-json', out];
    for (const c of order) {
      const hf = c.hyperfine ?? {};
      const argv = hf.argv ?? (typeof c.argv === 'function' ? c.argv(0) : c.argv);
      if (hasPrepare) args.push('--prepare', hf.prepare ? commandLine(hf.prepare) : truePath);
      args.push('--command-name', c.id, commandLine(argv));
    }
    const r = spawnSync('hyperfine', args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (r.error || r.status !== 0) throw new Error(`exit ${r.status}: ${(r.stderr || r.stdout || String(r.error)).trim().slice(0, 400)}`);
    const doc = JSON.parse(fs.readFileSync(out, 'utf8'));
    for (const res of doc.results) {
      const c = commands.find((x) => x.id === res.command);
      if (!c) continue;
      if ((res.exit_codes ?? []).some((x) => x !== 0)) errors[c.id] = `non-zero exit codes ${JSON.stringify(res.exit_codes)}`;
      times[c.id].push(...res.times.map((s) => s * 1000));
    }
    for (const c of order) {
      try {
        c.hyperfine?.verify?.();
      } catch (e) {
        errors[c.id] = `verification failed: ${e.message}`;
      }
    }
    log(`  hyperfine round ${round + 1}/${rounds}`);
  }
  return { harness: 'hyperfine -N (rounds of 5, order rotated, times merged)', times, errors };
}
