/**
 * The gateway section of `npm run bench` (issue 15, "Performance"): `codex-auth gateway serve` as a
 * real process of the built CLI, in a sandboxed Codex home with one ChatGPT account, in front of the
 * fake backend of ./gateway-upstream.mjs (in this process). Requests are sent the way Codex sends
 * them (placeholder token carrying the installation secret, keep-alive connections).
 *
 *   latency     time to the first output byte (the first `output_text.delta`) through the gateway
 *               and straight to the upstream, interleaved (ABBA), many runs: the added p50 and p99
 *   throughput  one large streamed answer through the gateway, MB/s (and straight, for reference)
 *   concurrent  64 streams at once (the upstream holds their output until all 64 are open), each
 *               with its own body: every stream must receive exactly the bytes sent for it
 *   idle        a fresh gateway that has served a few requests: CPU% over the idle period from
 *               /proc/PID/stat, and its resident memory at the end of the idle period (VmRSS: the
 *               target); its peak since start (VmHWM, reached while serving) is kept as information
 *
 * `gateway serve` runs as its service runs it: with the Node flags of the unit that `gateway
 * install-service` writes (read back from its ExecStart). The idle memory of a gateway started in a
 * terminal (`codex-auth gateway serve`, Node's defaults) is measured too, as information.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startGatewayUpstream } from './gateway-upstream.mjs';
import { clockTicks, cpuTicks, statusKb } from './proc.mjs';
import { percentile, round, summarize } from './stats.mjs';

export const GATEWAY_TARGETS = { addedP50Ms: 1, addedP99Ms: 5, throughputMBps: 100, streams: 64, idleCpuPct: 0.5, idleRssMb: 60 };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const GATEWAY_CLAIM = 'https://codex-auth.invalid/gateway';

/** A Responses request body as Codex sends one (instructions, tools, one user message; ~16 KB), with the bench's metadata. */
function requestBody(metadata) {
  const instructions = 'You are Codex, a coding agent. '.repeat(330);
  const tools = Array.from({ length: 8 }, (_, i) => ({ type: 'function', name: `tool_${i}`, description: 'Runs a command in the sandbox and returns its output. '.repeat(6), parameters: { type: 'object', properties: { command: { type: 'array', items: { type: 'string' } } } } }));
  return JSON.stringify({ model: 'gpt-5', instructions, tools, stream: true, store: false, input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'say hi' }] }], metadata });
}

/**
 * POST a model request and read its SSE answer. `firstOutput`: hrtime (ns) when the first byte of an
 * output_text.delta arrived; `hash`: sha256 of the body received.
 */
function post(url, { headers, body, agent, hash = false }) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const u = new URL(url);
    const req = http.request({ host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      const h = hash ? createHash('sha256') : null;
      let bytes = 0;
      let firstOutput = null;
      let tail = '';
      res.on('data', (c) => {
        bytes += c.length;
        h?.update(c);
        if (firstOutput === null) {
          const text = tail + c.toString('latin1');
          if (text.includes('output_text.delta')) firstOutput = process.hrtime.bigint();
          else tail = text.slice(-32);
        }
      });
      res.on('end', () => resolve({ status: res.statusCode, bytes, sha256: h ? h.digest('hex') : null, t0, firstOutput, end: process.hrtime.bigint(), complete: res.complete }));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('the answer was cut')));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const ms = (a, b) => Number(b - a) / 1e6;

/**
 * The Node flags the gateway's service runs with: `gateway install-service` (Linux: a systemd user
 * unit) into a scratch XDG_CONFIG_HOME, then the words of its ExecStart between node and the script.
 */
function serviceNodeFlags({ node, bin, cwd, env, codexHome, root }) {
  const xdg = path.join(root, 'xdg-gateway-service');
  const r = spawnSync(node, [bin, '--codex-home', codexHome, 'gateway', 'install-service', '--json'], { cwd, env: { ...env, XDG_CONFIG_HOME: xdg }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gateway install-service exited ${r.status}: ${r.stderr.trim()}`);
  const unit = fs.readFileSync(JSON.parse(r.stdout).installed, 'utf8');
  const words = [...(/^ExecStart=(.*)$/m.exec(unit)?.[1] ?? '').matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1].replace(/\\(.)/g, '$1').replace(/%%/g, '%').replace(/\$\$/g, '$'));
  const script = words.findIndex((w, i) => i > 0 && !w.startsWith('-'));
  if (script < 1) throw new Error(`no script in the service's ExecStart: ${words.join(' ')}`);
  return words.slice(1, script);
}

async function startGateway({ node, nodeFlags = [], bin, cwd, env, codexHome }) {
  const child = spawn(node, [...nodeFlags, bin, '--codex-home', codexHome, 'gateway', 'serve', '--port', '0', '--json'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (err = (err + d).slice(-4000)));
  let exited = null;
  const exitP = new Promise((resolve) => child.on('exit', (code, signal) => resolve((exited = { code, signal }))));
  const deadline = Date.now() + 20_000;
  let listening = null;
  while (!listening) {
    listening = out
      .split('\n')
      .filter((l) => l.trim().startsWith('{'))
      .map((l) => JSON.parse(l))
      .find((l) => l.event === 'listening');
    if (listening) break;
    if (exited || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gateway serve did not start (${JSON.stringify(exited)}): ${out}${err}`.slice(0, 800));
    }
    await sleep(20);
  }
  return {
    pid: child.pid,
    model: listening.openaiBaseUrl.replace(/\/+$/, ''),
    exited: () => exited,
    output: () => `${out}${err}`,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exitP;
        clearTimeout(t);
      }
      return exited;
    },
  };
}

export async function benchGateway({ jwt, ctx, home, node, app, env, quick, progress, buildHome, writeAuthFiles, root }) {
  if (process.platform !== 'linux') return { skipped: true, reason: 'needs /proc (Linux)' };
  const runs = Number(process.env.BENCH_GATEWAY_RUNS) || (quick ? 200 : 1000);
  const bulkMb = quick ? 64 : 256;
  const bulkRuns = quick ? 1 : 3;
  const concurrentRounds = quick ? 1 : 3;
  const idleSeconds = Number(process.env.BENCH_GATEWAY_IDLE_SECONDS) || (quick ? 10 : 30);

  progress('fixtures: 1 ChatGPT account for the gateway (import)');
  const src = path.join(root, 'src-gateway');
  const [acc] = writeAuthFiles(jwt, src, 1, { tag: 'g', accessHours: 6 });
  const codexHome = path.join(home, 'codex-gateway');
  buildHome(ctx, codexHome, src, [acc], { liveIndex: 0 });

  const up = await startGatewayUpstream();
  const genv = {
    ...env,
    CODEX_AUTH_CHATGPT_BASE_URL: `${up.base}/backend-api`,
    CODEX_AUTH_OPENAI_BASE_URL: `${up.base}/v1`,
    CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${up.base}/oauth/token`,
  };
  const out = { skipped: false, targets: GATEWAY_TARGETS, problems: [] };
  const agents = [];
  const agent = () => {
    const a = new http.Agent({ keepAlive: true, maxSockets: Infinity });
    agents.push(a);
    return a;
  };
  const nodeFlags = serviceNodeFlags({ node, bin: ctx.bin, cwd: app, env: genv, codexHome, root });
  out.nodeFlags = nodeFlags;
  progress(`gateway serve runs as its service does: node ${nodeFlags.join(' ')}`);
  let gw = null;
  try {
    gw = await startGateway({ node, nodeFlags, bin: ctx.bin, cwd: app, env: genv, codexHome });
    const { secret } = JSON.parse(fs.readFileSync(path.join(codexHome, 'codex-auth', 'gateway.json'), 'utf8'));
    const placeholder = `Bearer ${jwt.makeJwt({ exp: Math.floor(Date.now() / 1000) + 10 * 365 * 86400, [GATEWAY_CLAIM]: { secret } })}`;
    const base = { 'content-type': 'application/json', accept: 'text/event-stream', originator: 'codex_exec', 'session-id': 'bench-thread', 'x-client-request-id': 'bench' };
    const viaGw = { url: `${gw.model}/responses?client_version=0.169.0`, headers: { ...base, authorization: placeholder, 'chatgpt-account-id': 'codex-auth-gateway-placeholder' } };
    const direct = { url: `${up.base}/backend-api/codex/responses?client_version=0.169.0`, headers: { ...base, authorization: `Bearer ${acc.doc.tokens.access_token}`, 'chatgpt-account-id': acc.accountId } };

    // ---------------------------------------------------------------- (a) first-output latency
    const smallBody = requestBody({ mode: 'small' });
    const aGw = agent();
    const aDirect = agent();
    const one = async (target, a) => {
      const r = await post(target.url, { headers: target.headers, body: smallBody, agent: a });
      if (r.status !== 200 || r.firstOutput === null) throw new Error(`a small request ${target === viaGw ? 'through the gateway' : 'to the upstream'} got HTTP ${r.status}${r.firstOutput === null ? ', no output' : ''}`);
      return ms(r.t0, r.firstOutput);
    };
    const warm = quick ? 20 : 50;
    progress(`gateway latency: ${runs} requests each way (+ ${warm} warm-up), interleaved`);
    const tGw = [];
    const tDirect = [];
    for (let i = 0; i < warm + runs; i++) {
      // ABBA: each side goes first half of the time.
      const first = i % 2 === 0;
      const a = first ? await one(direct, aDirect) : await one(viaGw, aGw);
      const b = first ? await one(viaGw, aGw) : await one(direct, aDirect);
      if (i < warm) continue;
      (first ? tDirect : tGw).push(a);
      (first ? tGw : tDirect).push(b);
    }
    const sg = summarize(tGw);
    const sd = summarize(tDirect);
    const paired = tGw.map((g, i) => g - tDirect[i]);
    out.latency = {
      runs,
      gatewayMs: { p50: round(sg.median, 3), p90: round(sg.p90, 3), p99: round(percentile(tGw, 99), 3) },
      directMs: { p50: round(sd.median, 3), p90: round(sd.p90, 3), p99: round(percentile(tDirect, 99), 3) },
      addedP50Ms: round(sg.median - sd.median, 3),
      addedP90Ms: round(sg.p90 - sd.p90, 3),
      addedP99Ms: round(percentile(tGw, 99) - percentile(tDirect, 99), 3),
      pairedMedianMs: round(percentile(paired, 50), 3),
    };
    out.latency.passP50 = out.latency.addedP50Ms <= GATEWAY_TARGETS.addedP50Ms;
    out.latency.passP99 = out.latency.addedP99Ms <= GATEWAY_TARGETS.addedP99Ms;

    // ---------------------------------------------------------------- (b) throughput
    const bytes = bulkMb * 1024 * 1024;
    const bulkBody = requestBody({ mode: 'bulk', bytes, chunk: 65536 });
    const bulk = async (target) => {
      const r = await post(target.url, { headers: target.headers, body: bulkBody, agent: target === viaGw ? aGw : aDirect });
      if (r.status !== 200 || !r.complete || r.bytes < bytes) throw new Error(`the ${bulkMb} MB answer ${target === viaGw ? 'through the gateway' : 'straight'} arrived incomplete (HTTP ${r.status}, ${r.bytes} bytes)`);
      return r.bytes / 1048576 / (ms(r.t0, r.end) / 1000);
    };
    progress(`gateway throughput: ${bulkMb} MB streamed in 64 KB events, ${bulkRuns} run(s) each way`);
    const mbGw = [];
    const mbDirect = [];
    for (let i = 0; i < bulkRuns; i++) {
      mbDirect.push(await bulk(direct));
      mbGw.push(await bulk(viaGw));
    }
    out.throughput = { megabytes: bulkMb, runs: bulkRuns, gatewayMBps: mbGw.map((x) => round(x, 0)), directMBps: mbDirect.map((x) => round(x, 0)), medianMBps: round(summarize(mbGw).median, 0), directMedianMBps: round(summarize(mbDirect).median, 0) };
    out.throughput.pass = out.throughput.medianMBps >= GATEWAY_TARGETS.throughputMBps;

    // ---------------------------------------------------------------- (c) 64 concurrent streams
    const n = GATEWAY_TARGETS.streams;
    const perStream = 1024 * 1024;
    progress(`gateway: ${n} concurrent streams of ${perStream / 1048576} MB with distinct bodies, ${concurrentRounds} round(s)`);
    const conc = { streams: n, bytesPerStream: perStream, rounds: [], ok: true };
    for (let round_ = 0; round_ < concurrentRounds; round_++) {
      up.reset();
      const a = agent();
      const t0 = process.hrtime.bigint();
      const results = await Promise.allSettled(
        Array.from({ length: n }, (_, i) => {
          const id = `r${round_}-s${i}`;
          return post(viaGw.url, { headers: viaGw.headers, body: requestBody({ mode: 'distinct', id, bytes: perStream, chunk: 16384, barrier: n }), agent: a, hash: true }).then((r) => ({ id, ...r }));
        }),
      );
      const wall = ms(t0, process.hrtime.bigint());
      let intact = 0;
      let lost = 0;
      let mixed = 0;
      const bad = [];
      for (const [i, r] of results.entries()) {
        const id = `r${round_}-s${i}`;
        const sent = up.state.sent.get(id);
        if (r.status !== 'fulfilled' || !sent?.complete || r.value.status !== 200) {
          lost++;
          bad.push(`${id}: ${r.status === 'fulfilled' ? `HTTP ${r.value.status}, ${r.value.bytes} bytes` : r.reason?.message}`);
        } else if (r.value.bytes !== sent.bytes || r.value.sha256 !== sent.sha256) {
          mixed++;
          bad.push(`${id}: received ${r.value.bytes} bytes (sha256 ${r.value.sha256.slice(0, 12)}), sent ${sent.bytes} (${sent.sha256.slice(0, 12)})`);
        } else intact++;
      }
      const total = results.reduce((s, r) => s + (r.status === 'fulfilled' ? r.value.bytes : 0), 0);
      conc.rounds.push({ intact, lost, mixed, maxOpenUpstream: up.state.maxOpen, barrierTimeouts: up.state.barrierTimeouts, wallMs: round(wall, 0), aggregateMBps: round(total / 1048576 / (wall / 1000), 0), bad: bad.slice(0, 5) });
      if (intact !== n || up.state.maxOpen < n) conc.ok = false;
      a.destroy();
    }
    conc.pass = conc.ok;
    out.concurrent = conc;

    // The loaded gateway, for the record (the target is on an idle one, below).
    out.loadedPeakRssMb = round((statusKb(gw.pid, 'VmHWM') ?? 0) / 1024, 1);
    await sleep(1000);
    out.loadedRssAfterMb = round((statusKb(gw.pid, 'VmRSS') ?? 0) / 1024, 1);
    for (const x of agents.splice(0)) x.destroy();
    await gw.stop();
    gw = null;

    // ---------------------------------------------------------------- (d) idle
    const idleRun = async (flags, what) => {
      progress(`gateway idle (${what}): a fresh gateway serves 20 requests, settles 2 s, then ${idleSeconds} s measured`);
      gw = await startGateway({ node, nodeFlags: flags, bin: ctx.bin, cwd: app, env: genv, codexHome });
      const aIdle = agent();
      const viaGw2 = { ...viaGw, url: `${gw.model}/responses?client_version=0.169.0` };
      for (let i = 0; i < 20; i++) await one(viaGw2, aIdle);
      await sleep(2000);
      const hz = clockTicks();
      const c0 = cpuTicks(gw.pid);
      const t0 = process.hrtime.bigint();
      let maxRss = 0;
      const end = Date.now() + idleSeconds * 1000;
      while (Date.now() < end) {
        await sleep(1000);
        if (gw.exited()) throw new Error(`the gateway exited while idle: ${gw.output().slice(-400)}`);
        maxRss = Math.max(maxRss, statusKb(gw.pid, 'VmRSS') ?? 0);
      }
      const c1 = cpuTicks(gw.pid);
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      const hwm = statusKb(gw.pid, 'VmHWM') ?? 0;
      const rssEnd = statusKb(gw.pid, 'VmRSS') ?? 0;
      for (const x of agents.splice(0)) x.destroy();
      await gw.stop();
      gw = null;
      return {
        seconds: idleSeconds,
        cpuSeconds: round((c1 - c0) / hz, 2),
        cpuPct: round(((c1 - c0) / hz / secs) * 100, 3),
        // The target: what the idle gateway holds resident once the idle window is over.
        rssMb: round(rssEnd / 1024, 1),
        // Information: the highest VmRSS sampled during the window, and the peak since start (VmHWM).
        maxSampledRssMb: round(maxRss / 1024, 1),
        peakRssMb: round(Math.max(hwm, maxRss) / 1024, 1),
      };
    };
    out.idle = await idleRun(nodeFlags, 'as the service runs it');
    out.idle.passCpu = out.idle.cpuPct < GATEWAY_TARGETS.idleCpuPct;
    out.idle.passRss = out.idle.rssMb < GATEWAY_TARGETS.idleRssMb;
    // Information: `codex-auth gateway serve` typed in a terminal runs with Node's defaults.
    out.idleInTerminal = await idleRun([], "in a terminal, Node's defaults");
    if (up.state.other.length) out.problems.push(`the upstream got unexpected requests: ${[...new Set(up.state.other)].join(', ')}`);
  } finally {
    for (const x of agents) x.destroy();
    if (gw) await gw.stop();
    await up.close();
  }
  return out;
}

export function gatewayFailures(g) {
  if (!g || g.skipped) return [];
  return [
    ...(g.latency && !g.latency.passP50 ? ['gateway added latency p50'] : []),
    ...(g.latency && !g.latency.passP99 ? ['gateway added latency p99'] : []),
    ...(g.throughput && !g.throughput.pass ? ['gateway throughput'] : []),
    ...(g.concurrent && !g.concurrent.pass ? ['gateway 64 concurrent streams'] : []),
    ...(g.idle && !g.idle.passCpu ? ['gateway idle CPU'] : []),
    ...(g.idle && !g.idle.passRss ? ['gateway idle RSS'] : []),
  ];
}

export function gatewayMeasured(g) {
  if (!g || g.skipped) return 0;
  return (g.latency ? 2 : 0) + (g.throughput ? 1 : 0) + (g.concurrent ? 1 : 0) + (g.idle ? 2 : 0);
}
