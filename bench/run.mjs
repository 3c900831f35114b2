#!/usr/bin/env node
/**
 * `npm run bench`: the performance targets of SPEC.md ("Performance targets"), measured on whole
 * processes of the built CLI (`node bin/codex-auth.cjs`, after `npx tsup`).
 *
 *   1. start-up: `node -e 0`, `--version`, `list` (20 accounts, cached), `switch` (alternating
 *      between two of the 20, each run really switches), `list --json` (1,000 accounts), `status`:
 *      interleaved, repeated, median / p90 / ratio to `node -e 0` of the same run, PASS/FAIL.
 *   2. `list --refresh` of 50 ChatGPT accounts against a fake usage API answering in 300 ms, then
 *      the same with one account whose request hangs (CODEX_AUTH_HTTP_TIMEOUT_MS=3000).
 *   3. `watch --interval 60` idle CPU and peak RSS over 5,000 rollout files (skipped until `watch`
 *      exists).
 *   4. the floor: a bare import of each runtime dependency, relative to `node -e 0`.
 *   5. `gateway serve` in front of a fake streaming backend (bench/lib/gateway-bench.mjs): added
 *      first-output latency p50/p99, throughput of one large stream, 64 concurrent streams intact,
 *      idle CPU and peak RSS.
 *
 * Everything runs in a temporary HOME with ChatGPT accounts in file storage (no keyring, and a
 * D-Bus address that leads nowhere). It is a report: it exits 0 even when a target fails.
 *
 * Options: --json (machine-readable results on stdout; the human report goes to stderr).
 * Env: BENCH_RUNS (default 40 for start-up, 20 for the floor table), BENCH_QUICK=1 (10 runs, 1
 *      refresh run, watch 10 s),
 *      BENCH_WATCH_SECONDS (default 60; 10 with BENCH_QUICK), BENCH_HARNESS=own|hyperfine
 *      (default: hyperfine when installed), BENCH_NO_BUILD=1 (use dist/ as it is),
 *      BENCH_KEEP=1 (keep the temporary directory), BENCH_ONLY=startup,refresh,watch,floor,gateway
 *      (run only those sections), BENCH_NODE=/path/to/node (the Node that runs every measured
 *      process, `node -e 0` included; default: the Node running the bench), BENCH_GATEWAY_RUNS
 *      (latency requests each way; default 1000, 200 with BENCH_QUICK), BENCH_GATEWAY_IDLE_SECONDS
 *      (default 30, 10 with BENCH_QUICK).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { benchGateway, gatewayFailures, gatewayMeasured } from './lib/gateway-bench.mjs';
import { buildHome, checkHome, cliSync, loadJwtHelpers, readRegistry, writeAuthFiles, writeCachedUsage, writeSessionHistory } from './lib/fixtures.mjs';
import { hyperfineVersion, measure } from './lib/harness.mjs';
import { round, summarize } from './lib/stats.mjs';
import { startUsageServer } from './lib/usage-server.mjs';
import { NODE, NODE_VERSION } from './lib/node.mjs';
import { clockTicks, cpuTicks, statusKb } from './lib/proc.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const JSON_OUT = process.argv.includes('--json');
const QUICK = process.env.BENCH_QUICK === '1' || process.env.BENCH_QUICK === 'true';

function intEnv(name, dflt, min = 1) {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    console.error(`${name} must be an integer >= ${min} (got ${JSON.stringify(v)})`);
    process.exit(2);
  }
  return n;
}

const RUNS = intEnv('BENCH_RUNS', QUICK ? 10 : 40);
// Three warm-up runs, so that Node's compile cache (Node 22.1+, turned on by bin/codex-auth.cjs) is
// written before anything is measured: every measured run is a steady-state one.
const WARMUP = QUICK ? 1 : 3;
const DEP_RUNS = intEnv('BENCH_RUNS', QUICK ? 5 : 20);
const REFRESH_RUNS = QUICK ? 1 : 3;
const WATCH_SECONDS = intEnv('BENCH_WATCH_SECONDS', QUICK ? 10 : 60);
const HTTP_TIMEOUT_MS = 3000;
const HANG_SLACK_MS = 750;

// SPEC.md "Performance targets", on the newest Node 24 (BENCH_NODE picks the Node measured).
const TARGETS = {
  list20: { ratio: 1.4 },
  switch: { ratio: 1.6 },
  list1000: { ratio: 2 },
  refreshMs: 2500,
  watchCpuPct: 1,
  watchRssMb: 80,
};

// Human report: stdout, or stderr with --json. Progress: always stderr.
const report = JSON_OUT ? (s = '') => process.stderr.write(`${s}\n`) : (s = '') => process.stdout.write(`${s}\n`);
const progress = (s) => process.stderr.write(`${s}\n`);

const results = {
  node: NODE_VERSION,
  nodeBinary: NODE,
  platform: `${process.platform} ${process.arch}`,
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? null,
  quick: QUICK,
  runs: RUNS,
  warmup: WARMUP,
  harness: null,
  startup: [],
  refresh: null,
  watch: null,
  deps: null,
  gateway: null,
  bundle: null,
  errors: [],
};

// ------------------------------------------------------------------------------------------ setup

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-bench-'));
const home = path.join(root, 'home');
const runtimeDir = path.join(root, 'run');
fs.mkdirSync(home, { recursive: true, mode: 0o700 });
fs.mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });

/** The environment of every CLI run: a temporary HOME; no keyring can be reached. */
const ENV = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: home,
  LANG: 'C.UTF-8',
  TMPDIR: root,
  XDG_RUNTIME_DIR: runtimeDir,
  XDG_CONFIG_HOME: path.join(home, '.config'),
  XDG_DATA_HOME: path.join(home, '.local', 'share'),
  DBUS_SESSION_BUS_ADDRESS: `unix:path=${path.join(root, 'no-dbus-here')}`,
};

let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  if (process.env.BENCH_KEEP === '1') {
    progress(`BENCH_KEEP=1: fixtures kept in ${root}`);
    return;
  }
  fs.rmSync(root, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

const APP = path.join(root, 'app');
const BIN = path.join(APP, 'bin', 'codex-auth.cjs');
const DIST = path.join(APP, 'dist');
const ctx = { repo: APP, bin: BIN, env: ENV };

/**
 * Build into a private copy (<tmp>/app: bin/, dist/, package.json, node_modules -> the repo's), so a
 * concurrent `tsup` in the working tree (which cleans dist/) cannot pull files out from under a run.
 */
function build() {
  fs.mkdirSync(path.join(APP, 'bin'), { recursive: true });
  fs.copyFileSync(path.join(REPO, 'bin', 'codex-auth.cjs'), BIN);
  fs.copyFileSync(path.join(REPO, 'package.json'), path.join(APP, 'package.json'));
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(APP, 'node_modules'), 'dir');
  const git = (...a) => spawnSync('git', a, { cwd: REPO, encoding: 'utf8' }).stdout?.trim() ?? '';
  results.source = { commit: git('rev-parse', '--short', 'HEAD') || null, dirtyFiles: git('status', '--porcelain', '--', 'src', 'bin', 'tsup.config.ts').split('\n').filter(Boolean).length };
  if (process.env.BENCH_NO_BUILD === '1') {
    progress('BENCH_NO_BUILD=1: using a copy of dist/ as it is');
    fs.cpSync(path.join(REPO, 'dist'), DIST, { recursive: true });
    results.source.build = 'copy of dist/';
    return;
  }
  progress(`building: npx tsup --out-dir ${DIST}`);
  const r = spawnSync('npx', ['tsup', '--out-dir', DIST], { cwd: REPO, encoding: 'utf8', env: process.env });
  if (r.status !== 0 || !fs.existsSync(path.join(DIST, 'cli.cjs'))) {
    progress(`${r.stdout}\n${r.stderr}`);
    progress('bench: the build failed; nothing was measured.');
    process.exit(1);
  }
  results.source.build = 'npx tsup (private out-dir)';
}



// ------------------------------------------------------------------------------------------ helpers

function fmt(x, digits = 1) {
  const r = round(x, digits);
  return r === null ? '-' : r.toFixed(digits);
}

function table(headers, rows, align) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) =>
    cells
      .map((c, i) => ((align?.[i] ?? 'l') === 'r' ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function verdict(pass) {
  return pass ? 'PASS' : 'FAIL <<<';
}

/** Run the CLI asynchronously (the in-process fake server must keep answering), timing it. */
function runCliAsync(args, extraEnv, timeoutMs = 120_000) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(NODE, [BIN, ...args], { cwd: APP, env: { ...ENV, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, ms: Number(process.hrtime.bigint() - t0) / 1e6, stdout, stderr });
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------ 1. start-up

function activeOf(codexHome) {
  const auth = JSON.parse(fs.readFileSync(path.join(codexHome, 'auth.json'), 'utf8'));
  return { accountId: auth.tokens?.account_id ?? null, activeId: readRegistry(codexHome).activeId };
}

function expectActive(codexHome, acc) {
  const { accountId, activeId } = activeOf(codexHome);
  if (accountId !== acc.accountId) throw new Error(`auth.json holds ${accountId}, expected ${acc.accountId}`);
  if (!activeId || !activeId.includes(acc.accountId)) throw new Error(`registry activeId is ${activeId}, expected the account of ${acc.email}`);
}

async function benchStartup(jwt) {
  progress('fixtures: 20 accounts (import), 1,000 accounts (import)');
  const srcA = path.join(root, 'src-20');
  const accA = writeAuthFiles(jwt, srcA, 20, { tag: 'a' });
  const homeA = path.join(home, 'codex-20');
  buildHome(ctx, homeA, srcA, accA, { liveIndex: 0 });
  writeCachedUsage(homeA);
  checkHome(ctx, homeA, 20);

  const srcB = path.join(root, 'src-1000');
  const accB = writeAuthFiles(jwt, srcB, 1000, { tag: 'b' });
  const homeB = path.join(home, 'codex-1000');
  buildHome(ctx, homeB, srcB, accB, { liveIndex: 0 });
  writeCachedUsage(homeB);
  checkHome(ctx, homeB, 1000);
  results.fixtures = { registry20Bytes: fs.statSync(path.join(homeA, 'codex-auth', 'registry.json')).size, registry1000Bytes: fs.statSync(path.join(homeB, 'codex-auth', 'registry.json')).size };

  // switch alternates between accounts 1 and 2 (account 0 was live); start from account 1.
  const s1 = accA[1];
  const s2 = accA[2];
  const pre = cliSync(ctx, ['--codex-home', homeA, 'switch', s1.email]);
  if (pre.code !== 0) throw new Error(`switch ${s1.email} exited ${pre.code}: ${pre.stderr.trim()}`);
  expectActive(homeA, s1);

  const cli = (...a) => [BIN, ...a];
  const commands = [
    { id: 'node0', label: 'node -e 0', argv: ['-e', '0'] },
    { id: 'version', label: 'codex-auth --version', argv: cli('--version') },
    { id: 'list20', label: 'list (20 accounts, cached)', argv: cli('--codex-home', homeA, 'list') },
    {
      id: 'switch',
      label: 'switch (20 accounts, really switching)',
      // Run k switches to s2 when k is even, back to s1 when odd: every run really switches.
      argv: (k) => cli('--codex-home', homeA, 'switch', k % 2 === 0 ? s2.email : s1.email),
      verify: (k) => expectActive(homeA, k % 2 === 0 ? s2 : s1),
      hyperfine: {
        argv: cli('--codex-home', homeA, 'switch', s2.email),
        prepare: cli('--codex-home', homeA, 'switch', s1.email),
        verify: () => expectActive(homeA, s2),
      },
    },
    { id: 'list1000', label: 'list --json (1,000 accounts)', argv: cli('--codex-home', homeB, 'list', '--json') },
    { id: 'status', label: 'status', argv: cli('--codex-home', homeA, 'status') },
  ];
  const want = (process.env.BENCH_HARNESS ?? '').toLowerCase();
  const hf = want === 'own' ? null : hyperfineVersion();
  if (want === 'hyperfine' && !hf) progress('BENCH_HARNESS=hyperfine but hyperfine is not installed: using the built-in harness');
  progress(`start-up: ${commands.length} commands x (${RUNS} runs + ${WARMUP} warm-up)${hf ? ` with ${hf}` : ''}`);
  const m = measure(commands, { runs: RUNS, warmup: WARMUP, env: ENV, cwd: APP, tmpDir: root, useHyperfine: Boolean(hf), log: progress });
  results.harness = m.harness;

  const base = summarize(m.times.node0);
  for (const c of commands) {
    const s = summarize(m.times[c.id]);
    const t = TARGETS[c.id];
    const ratio = s.median / base.median;
    const row = {
      id: c.id,
      command: c.label,
      runs: s.n,
      medianMs: round(s.median, 1),
      p90Ms: round(s.p90, 1),
      minMs: round(s.min, 1),
      meanMs: round(s.mean, 1),
      ratio: round(ratio, 2),
      target: t ? t.ratio : null,
      pass: t ? Number.isFinite(ratio) && ratio <= t.ratio && !m.errors[c.id] : null,
      error: m.errors[c.id] ?? null,
    };
    results.startup.push(row);
  }
}

function printStartup() {
  report(`\nStart-up (whole processes; ${results.harness}; ${RUNS} runs + ${WARMUP} warm-up each)`);
  const rows = results.startup.map((r) => [
    r.command,
    fmt(r.medianMs),
    fmt(r.p90Ms),
    r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`,
    r.target === null ? '' : `<= ${r.target}x`,
    r.error ? 'ERROR' : r.pass === null ? '' : verdict(r.pass),
  ]);
  report(table(['command', 'median ms', 'p90 ms', 'vs node -e 0', 'target', 'result'], rows, ['l', 'r', 'r', 'r', 'l', 'l']));
  for (const r of results.startup) if (r.error) report(`  ${r.command}: ${r.error}`);
}

// ------------------------------------------------------------------------------------------ 2. list --refresh

async function benchRefresh(jwt, server) {
  progress('fixtures: 50 accounts for list --refresh (import)');
  const src = path.join(root, 'src-50');
  const acc = writeAuthFiles(jwt, src, 50, { tag: 'r', accessHours: 6 });
  const codexHome = path.join(home, 'codex-50');
  buildHome(ctx, codexHome, src, acc, { liveIndex: 0 });
  checkHomeQuiet(codexHome, 50);
  const env = {
    CODEX_AUTH_CHATGPT_BASE_URL: `${server.base}/backend-api`,
    // Anything else that could go to the network goes to the fake too (and is counted there).
    CODEX_AUTH_OPENAI_BASE_URL: `${server.base}/v1`,
    CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${server.base}/oauth/token`,
  };
  const hangAcc = acc[17];
  const out = { accounts: 50, delayMs: server.state.delayMs, runs: REFRESH_RUNS, targetMs: TARGETS.refreshMs, timeoutMs: HTTP_TIMEOUT_MS, slackMs: HANG_SLACK_MS, normal: [], hang: [], problems: [] };

  const once = async (kind) => {
    server.reset();
    server.state.hang = kind === 'hang' ? new Set([hangAcc.accountId]) : new Set();
    const started = Date.now();
    const r = await runCliAsync(['--codex-home', codexHome, 'list', '--refresh'], kind === 'hang' ? { ...env, CODEX_AUTH_HTTP_TIMEOUT_MS: String(HTTP_TIMEOUT_MS) } : env);
    const run = { ms: round(r.ms, 0), exit: r.code, usageRequests: server.state.usage, hung: server.state.hung, otherRequests: [...server.state.other] };
    if (r.code !== 0) out.problems.push(`${kind}: exit ${r.code}: ${r.stderr.trim().slice(0, 300)}`);
    if (server.state.usage !== 50) out.problems.push(`${kind}: the fake saw ${server.state.usage} usage requests, expected 50`);
    if (server.state.other.length) out.problems.push(`${kind}: unexpected requests ${server.state.other.join(', ')}`);
    const reg = readRegistry(codexHome);
    for (const a of reg.accounts) {
      const fresh = a.usage && Date.parse(a.usage.fetchedAt) >= started - 1000;
      const hung = kind === 'hang' && a.chatgptAccountId === hangAcc.accountId;
      if (hung) {
        if (!a.usage?.error) out.problems.push(`${kind}: the hanging account shows no error`);
        else run.hangError = a.usage.error;
      } else if (!fresh || a.usage.error) {
        out.problems.push(`${kind}: ${a.email} has no fresh usage (${a.usage?.error ?? 'not fetched'})`);
        break;
      }
    }
    out[kind].push(run);
    progress(`  list --refresh (${kind === 'hang' ? 'one hanging' : 'all answer'}): ${fmt(r.ms, 0)} ms`);
  };

  progress(`list --refresh: 50 accounts, fake answers in ${server.state.delayMs} ms, ${REFRESH_RUNS} run(s) each`);
  // Alternate, so both see the same machine state.
  for (let i = 0; i < REFRESH_RUNS; i++) {
    await once('normal');
    await once('hang');
  }
  server.reset();
  server.state.hang = new Set();
  const med = (runs) => summarize(runs.map((r) => r.ms)).median;
  out.normalMedianMs = round(med(out.normal), 0);
  out.hangMedianMs = round(med(out.hang), 0);
  out.hangBoundMs = round(out.normalMedianMs + HTTP_TIMEOUT_MS + HANG_SLACK_MS, 0);
  out.passNormal = out.normalMedianMs <= TARGETS.refreshMs && out.normal.every((r) => r.exit === 0);
  out.passHang = out.hangMedianMs <= out.hangBoundMs && out.hang.every((r) => r.exit === 0);
  results.refresh = out;
}

function checkHomeQuiet(codexHome, n) {
  const reg = readRegistry(codexHome);
  if (reg.accounts.length !== n) throw new Error(`${codexHome}: ${reg.accounts.length} accounts, expected ${n}`);
  if (reg.accounts.some((a) => a.secret?.store !== 'file')) throw new Error(`${codexHome}: a secret is not in file storage`);
}

function printRefresh() {
  const r = results.refresh;
  if (!r) return;
  report(`\nlist --refresh (50 ChatGPT accounts, fake usage API answering in ${r.delayMs} ms; ${r.runs} run(s), median)`);
  const rows = [
    ['all accounts answer', fmt(r.normalMedianMs, 0), r.normal.map((x) => x.ms).join(', '), `<= ${r.targetMs} ms`, verdict(r.passNormal)],
    [
      `one account hangs (timeout ${r.timeoutMs} ms)`,
      fmt(r.hangMedianMs, 0),
      r.hang.map((x) => x.ms).join(', '),
      `<= ${r.hangBoundMs} ms (first + timeout + ${r.slackMs})`,
      verdict(r.passHang),
    ],
  ];
  report(table(['case', 'wall ms', 'runs ms', 'target', 'result'], rows, ['l', 'r', 'l', 'l', 'l']));
  const e = r.hang.find((x) => x.hangError)?.hangError;
  if (e) report(`  the hanging account's row shows "${e}"`);
  for (const p of r.problems) report(`  problem: ${p}`);
}

// ------------------------------------------------------------------------------------------ 3. watch

async function benchWatch(jwt, server) {
  const help = cliSync(ctx, ['watch', '--help']);
  if (help.code !== 0) {
    results.watch = { skipped: true, reason: 'not implemented yet' };
    progress('watch: not implemented yet (skipped)');
    return;
  }
  if (process.platform !== 'linux') {
    results.watch = { skipped: true, reason: 'needs /proc (Linux)' };
    return;
  }
  progress('fixtures: 20 accounts + 5,000 rollout files for watch');
  const src = path.join(root, 'src-watch');
  const acc = writeAuthFiles(jwt, src, 20, { tag: 'w' });
  const codexHome = path.join(home, 'codex-watch');
  buildHome(ctx, codexHome, src, acc, { liveIndex: 0 });
  writeCachedUsage(codexHome);
  const hist = writeSessionHistory(codexHome, { count: 5000, days: 250, accountId: acc[0].accountId });

  const env = {
    ...ENV,
    CODEX_AUTH_CHATGPT_BASE_URL: `${server.base}/backend-api`,
    CODEX_AUTH_OPENAI_BASE_URL: `${server.base}/v1`,
    CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${server.base}/oauth/token`,
  };
  server.reset();
  server.state.hang = new Set();
  const settleMs = Math.min(5000, Math.max(1000, (WATCH_SECONDS * 1000) / 4));
  progress(`watch --interval 60: ${settleMs / 1000} s to settle, then ${WATCH_SECONDS} s measured`);
  const child = spawn(NODE, [BIN, '--codex-home', codexHome, 'watch', '--interval', '60'], { cwd: APP, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let outBytes = 0;
  let tail = '';
  const drain = (d) => {
    outBytes += d.length;
    tail = (tail + d.toString('utf8')).slice(-2000);
  };
  child.stdout.on('data', drain);
  child.stderr.on('data', drain);
  let exited = null;
  const exitP = new Promise((resolve) => child.on('exit', (code, signal) => resolve((exited = { code, signal }))));
  const hz = clockTicks();
  const out = { skipped: false, seconds: WATCH_SECONDS, settleSeconds: settleMs / 1000, sessionFiles: hist.files, sessionBytes: hist.bytes, targetCpuPct: TARGETS.watchCpuPct, targetRssMb: TARGETS.watchRssMb };
  try {
    await sleep(settleMs);
    if (exited) throw new Error(`watch exited during start-up (${JSON.stringify(exited)}): ${tail.trim()}`);
    const c0 = cpuTicks(child.pid);
    const t0 = process.hrtime.bigint();
    out.startupCpuSeconds = round(c0 / hz, 2);
    let maxRss = statusKb(child.pid, 'VmRSS') ?? 0;
    const samples = [];
    const end = Date.now() + WATCH_SECONDS * 1000;
    while (Date.now() < end) {
      await sleep(1000);
      if (exited) throw new Error(`watch exited while measured (${JSON.stringify(exited)}): ${tail.trim()}`);
      const rss = statusKb(child.pid, 'VmRSS') ?? 0;
      maxRss = Math.max(maxRss, rss);
      samples.push(rss);
    }
    const c1 = cpuTicks(child.pid);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const hwm = statusKb(child.pid, 'VmHWM');
    out.cpuSeconds = round((c1 - c0) / hz, 2);
    out.cpuPct = round(((c1 - c0) / hz / secs) * 100, 2);
    out.maxSampledRssMb = round(maxRss / 1024, 1);
    out.peakRssMb = round(Math.max(hwm ?? 0, maxRss) / 1024, 1);
    out.lastRssMb = round((samples.at(-1) ?? maxRss) / 1024, 1);
    out.outputBytes = outBytes;
    out.usageRequests = server.state.usage;
    out.passCpu = out.cpuPct < TARGETS.watchCpuPct;
    out.passRss = out.peakRssMb < TARGETS.watchRssMb;
  } catch (e) {
    out.error = e.message;
  } finally {
    if (!exited) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exitP;
      clearTimeout(t);
    }
    server.reset();
  }
  results.watch = out;
}

function printWatch() {
  const w = results.watch;
  if (!w) return;
  if (w.skipped) {
    report(`\nwatch: ${w.reason === 'not implemented yet' ? 'not implemented yet (skipped)' : `skipped (${w.reason})`}`);
    return;
  }
  report(`\nwatch --interval 60 idle (${w.sessionFiles} rollout files; ${w.settleSeconds} s settle, then ${w.seconds} s measured)`);
  if (w.error) {
    report(`  ERROR: ${w.error}`);
    return;
  }
  report(
    table(
      ['measure', 'value', 'target', 'result'],
      [
        ['CPU while idle', `${w.cpuPct.toFixed(2)} %`, `< ${w.targetCpuPct} %`, verdict(w.passCpu)],
        ['peak RSS (VmHWM)', `${w.peakRssMb.toFixed(1)} MB`, `< ${w.targetRssMb} MB`, verdict(w.passRss)],
      ],
      ['l', 'r', 'l', 'l'],
    ),
  );
  report(`  start-up CPU ${w.startupCpuSeconds} s; RSS at the end ${w.lastRssMb} MB; ${w.usageRequests} usage request(s); ${w.outputBytes} bytes printed`);
}

// ------------------------------------------------------------------------------------------ 4. the floor

const DEPS = ['zod', 'undici', 'smol-toml', '@napi-rs/keyring'];

/**
 * Each dependency bundled alone into one ESM file with esbuild (as tsup bundles it into dist/), so the
 * floor shows both what a bare import from node_modules costs and what the bundled copy costs.
 */
async function bundleDeps(outDir) {
  const { createRequire } = await import('node:module');
  const esbuild = createRequire(path.join(REPO, 'package.json'))('esbuild');
  fs.mkdirSync(outDir, { recursive: true });
  const out = {};
  for (const d of DEPS) {
    if (d === '@napi-rs/keyring') continue; // a native binding: nothing to bundle
    const outfile = path.join(outDir, `${d.replace(/[^a-z0-9]+/gi, '_')}.mjs`);
    try {
      await esbuild.build({
        stdin: { contents: `import * as m from ${JSON.stringify(d)}; globalThis.__benchDep = m;`, resolveDir: REPO, loader: 'js' },
        outfile,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        logLevel: 'silent',
        banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
      });
      out[d] = outfile;
    } catch {
      /* reported as a missing row */
    }
  }
  return out;
}

async function benchDeps() {
  const distCli = path.join(DIST, 'cli.cjs');
  const bundled = await bundleDeps(path.join(root, 'floor'));
  const imp = (spec) => ['-e', `import(${JSON.stringify(spec)})`];
  const emptyEsm = path.join(root, 'floor', 'empty.mjs');
  fs.writeFileSync(emptyEsm, '');
  const commands = [
    { id: 'node0', label: 'node -e 0', argv: ['-e', '0'] },
    { id: 'empty-esm', label: 'node empty.mjs (ESM loader alone)', argv: [emptyEsm] },
    ...DEPS.map((d) => ({ id: d, label: `import('${d}')`, argv: imp(d) })),
    ...Object.entries(bundled).map(([d, f]) => ({ id: `bundled:${d}`, label: `${d}, bundled alone`, argv: imp(pathToFileURL(f).href), bytes: fs.statSync(f).size })),
    // What Node's compile cache saves (the start-up table has --version with it; Node 20 has none).
    { id: 'dist-cli', label: '--version, NODE_DISABLE_COMPILE_CACHE=1', argv: [BIN, '--version'], env: { ...ENV, NODE_DISABLE_COMPILE_CACHE: '1' }, bytes: fs.statSync(distCli).size },
  ];
  progress(`floor: bare imports, ${commands.length} commands x (${DEP_RUNS} runs + 1 warm-up)`);
  const m = measure(commands, { runs: DEP_RUNS, warmup: 1, env: ENV, cwd: REPO, tmpDir: root, useHyperfine: false, log: () => {} });
  const base = summarize(m.times.node0).median;
  results.deps = {
    runs: DEP_RUNS,
    rows: commands.map((c) => {
      const s = summarize(m.times[c.id]);
      return { id: c.id, command: c.label, bytes: c.bytes ?? null, medianMs: round(s.median, 1), p90Ms: round(s.p90, 1), ratio: round(s.median / base, 2), extraMs: round(s.median - base, 1), error: m.errors[c.id] ?? null };
    }),
  };
}

function printDeps() {
  const d = results.deps;
  if (!d) return;
  report(`\nFloor: a bare import of each runtime dependency, from node_modules and bundled alone (${d.runs} runs, interleaved)`);
  report(
    table(
      ['command', 'median ms', 'p90 ms', 'vs node -e 0', 'extra ms', 'file'],
      d.rows.map((r) => [
        r.command,
        fmt(r.medianMs),
        fmt(r.p90Ms),
        r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`,
        r.id === 'node0' ? '' : r.error ? 'ERROR' : fmt(r.extraMs),
        r.bytes ? `${Math.round(r.bytes / 1024)} KB` : '',
      ]),
      ['l', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  for (const r of d.rows) if (r.error) report(`  ${r.command}: ${r.error}`);
}

// ------------------------------------------------------------------------------------------ bundle

/** What `node bin/codex-auth.cjs` loads before any command runs: dist/cli.cjs and its static imports. */
function bundleInfo() {
  const dist = DIST;
  const entry = path.join(dist, 'cli.cjs');
  if (!fs.existsSync(entry)) return null;
  const seen = new Set();
  const queue = ['cli.cjs'];
  while (queue.length) {
    const f = queue.shift();
    if (seen.has(f)) continue;
    seen.add(f);
    const text = fs.readFileSync(path.join(dist, f), 'utf8');
    for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s*['"]\.\/([^'"]+)['"]|^\s*import\s*['"]\.\/([^'"]+)['"]/gm)) {
      queue.push(m[1] ?? m[2]);
    }
  }
  const eager = [...seen].map((f) => ({ file: f, bytes: fs.statSync(path.join(dist, f)).size }));
  // Bytes per bundled package, from esbuild's `// node_modules/<pkg>/...` / `// src/...` markers.
  const byPkg = {};
  for (const { file } of eager) {
    let cur = '(glue)';
    for (const line of fs.readFileSync(path.join(dist, file), 'utf8').split('\n')) {
      const m = /^\/\/ (node_modules\/((?:@[^/]+\/)?[^/]+)|src)\//.exec(line);
      if (m) cur = m[2] ?? 'src';
      byPkg[cur] = (byPkg[cur] ?? 0) + line.length + 1;
    }
  }
  const allFiles = fs.readdirSync(dist).filter((f) => /\.c?js$/.test(f));
  return {
    eagerFiles: eager.length,
    eagerBytes: eager.reduce((a, b) => a + b.bytes, 0),
    cliBytes: fs.statSync(entry).size,
    distFiles: allFiles.length,
    distBytes: allFiles.reduce((a, f) => a + fs.statSync(path.join(dist, f)).size, 0),
    eagerByPackage: Object.entries(byPkg)
      .sort((a, b) => b[1] - a[1])
      .map(([pkg, bytes]) => ({ pkg, bytes })),
  };
}

function printBundle() {
  const b = results.bundle;
  if (!b) return;
  const kb = (n) => `${(n / 1024).toFixed(0)} KB`;
  report(`\nBundle: dist/cli.cjs ${kb(b.cliBytes)}; loaded before any command runs: ${b.eagerFiles} files, ${kb(b.eagerBytes)} (dist/ total ${b.distFiles} files, ${kb(b.distBytes)})`);
  report(`  eager bytes by package: ${b.eagerByPackage.slice(0, 8).map((p) => `${p.pkg} ${kb(p.bytes)}`).join(', ')}`);
}

// ------------------------------------------------------------------------------------------ main

// ------------------------------------------------------------------------------------------ 5. gateway

function printGateway() {
  const g = results.gateway;
  if (!g) return;
  if (g.skipped) {
    report(`\ngateway: skipped (${g.reason})`);
    return;
  }
  const t = g.targets;
  report(`\ngateway serve (a real process, run as its service runs it: node ${(g.nodeFlags ?? []).join(' ')}; fake streaming backend on 127.0.0.1, in the bench process)`);
  const rows = [];
  if (g.latency) {
    const l = g.latency;
    report(`  time to the first output byte, ${l.runs} requests each way, interleaved: through the gateway p50 ${fmt(l.gatewayMs.p50, 2)} / p90 ${fmt(l.gatewayMs.p90, 2)} / p99 ${fmt(l.gatewayMs.p99, 2)} ms; straight p50 ${fmt(l.directMs.p50, 2)} / p90 ${fmt(l.directMs.p90, 2)} / p99 ${fmt(l.directMs.p99, 2)} ms`);
    rows.push(['added latency to the first output byte, p50', `${fmt(l.addedP50Ms, 2)} ms`, `<= ${t.addedP50Ms} ms`, verdict(l.passP50)]);
    rows.push(['added latency to the first output byte, p99', `${fmt(l.addedP99Ms, 2)} ms`, `<= ${t.addedP99Ms} ms`, verdict(l.passP99)]);
  }
  if (g.throughput) {
    const b = g.throughput;
    rows.push([`throughput, one ${b.megabytes} MB stream (median of ${b.runs}; straight: ${b.directMedianMBps} MB/s)`, `${b.medianMBps} MB/s`, `>= ${t.throughputMBps} MB/s`, verdict(b.pass)]);
  }
  if (g.concurrent) {
    const c = g.concurrent;
    const worst = c.rounds.reduce((m, r) => Math.min(m, r.intact), c.streams);
    rows.push([`${c.streams} concurrent streams, ${c.bytesPerStream / 1048576} MB each, distinct (${c.rounds.length} round(s))`, `${worst}/${c.streams} intact`, 'all intact', verdict(c.pass)]);
  }
  if (g.idle) {
    rows.push([`idle CPU (${g.idle.seconds} s)`, `${g.idle.cpuPct.toFixed(3)} %`, `< ${t.idleCpuPct} %`, verdict(g.idle.passCpu)]);
    rows.push([`idle RSS (VmRSS at the end of the ${g.idle.seconds} s)`, `${g.idle.rssMb.toFixed(1)} MB`, `< ${t.idleRssMb} MB`, verdict(g.idle.passRss)]);
    rows.push(['peak RSS since start (VmHWM, while serving; information)', `${g.idle.peakRssMb.toFixed(1)} MB`, '', '']);
  }
  if (g.idleInTerminal) {
    rows.push(["idle RSS started in a terminal (Node's defaults; information)", `${g.idleInTerminal.rssMb.toFixed(1)} MB`, '', '']);
  }
  report(table(['measure', 'value', 'target', 'result'], rows, ['l', 'r', 'l', 'l']));
  if (g.concurrent) {
    for (const [i, r] of g.concurrent.rounds.entries()) {
      report(`  streams round ${i + 1}: ${r.intact} intact, ${r.lost} lost, ${r.mixed} mixed up; ${r.maxOpenUpstream} open at once upstream; ${r.wallMs} ms, ${r.aggregateMBps} MB/s in all`);
      for (const b of r.bad) report(`    ${b}`);
    }
  }
  if (g.loadedPeakRssMb !== undefined) report(`  the loaded gateway (after the runs above): peak RSS ${g.loadedPeakRssMb} MB, ${g.loadedRssAfterMb} MB a second later`);
  for (const p of g.problems) report(`  problem: ${p}`);
}

/** BENCH_ONLY=startup,refresh,watch,floor,gateway runs only those sections. */
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((x) => x.trim())) : null;

async function section(name, fn) {
  if (ONLY && !ONLY.has(name)) return;
  try {
    await fn();
  } catch (e) {
    results.errors.push(`${name}: ${e.message}`);
    progress(`${name}: ERROR ${e.stack ?? e.message}`);
  }
}

async function main() {
  build();
  const t0 = Date.now();
  const jwt = await loadJwtHelpers(REPO, root);
  const server = await startUsageServer({ delayMs: 300 });
  try {
    await section('startup', () => benchStartup(jwt));
    await section('refresh', () => benchRefresh(jwt, server));
    await section('watch', () => benchWatch(jwt, server));
    await section('floor', () => benchDeps());
    await section('gateway', async () => {
      results.gateway = await benchGateway({ jwt, ctx, home, root, node: NODE, app: APP, env: ENV, quick: QUICK, progress, buildHome, writeAuthFiles });
    });
    await section('bundle', () => {
      results.bundle = bundleInfo();
    });
  } finally {
    await server.close();
  }
  results.totalSeconds = round((Date.now() - t0) / 1000, 1);

  const src = results.source;
  report(`codex-auth bench: node ${results.node} (${results.nodeBinary}), ${results.platform}, ${results.cpus} CPU(s) (${results.cpuModel ?? '?'})${QUICK ? ', BENCH_QUICK' : ''}`);
  report(`built from ${src?.commit ?? '?'}${src?.dirtyFiles ? ` + ${src.dirtyFiles} uncommitted file(s) in src/, bin/` : ''} (${src?.build ?? '?'})`);
  if (results.startup.length) printStartup();
  printRefresh();
  printWatch();
  printDeps();
  printGateway();
  printBundle();
  const fails = [
    ...results.startup.filter((r) => r.pass === false).map((r) => r.command),
    ...(results.refresh && !results.refresh.passNormal ? ['list --refresh'] : []),
    ...(results.refresh && !results.refresh.passHang ? ['list --refresh with a hanging account'] : []),
    ...(results.watch && !results.watch.skipped && results.watch.passCpu === false ? ['watch CPU'] : []),
    ...(results.watch && !results.watch.skipped && results.watch.passRss === false ? ['watch RSS'] : []),
    ...gatewayFailures(results.gateway),
  ];
  results.failed = fails;
  for (const e of results.errors) report(`\nERROR ${e}`);
  const measured = results.startup.filter((r) => r.target !== null).length + (results.refresh ? 2 : 0) + (results.watch && !results.watch.skipped && !results.watch.error ? 2 : 0) + gatewayMeasured(results.gateway);
  const verdictLine = fails.length ? `FAIL: ${fails.length} of ${measured} target(s) missed: ${fails.join('; ')}` : measured ? `PASS: all ${measured} measured targets met.` : 'No target was measured.';
  report(`\n${verdictLine} (${results.totalSeconds} s)`);
  if (JSON_OUT) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

await main();
