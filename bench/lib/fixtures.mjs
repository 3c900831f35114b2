/**
 * Bench fixtures, all inside a temporary HOME: Codex homes with N ChatGPT accounts imported through
 * the real CLI (`codex-auth import DIR`), one of them live, cached usage written into registry.json,
 * and a session history of rollout files for `watch`.
 *
 * auth.json documents come from test/support/jwt.ts (bundled with esbuild at start), so they have
 * exactly the shape the tests use: unsigned JWTs, ChatGPT mode, file storage only (no keyring).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { NODE } from './node.mjs';

/** Bundle test/support/jwt.ts into `outDir` and import it. */
export async function loadJwtHelpers(repo, outDir) {
  const require = createRequire(path.join(repo, 'package.json'));
  const esbuild = require('esbuild');
  const outfile = path.join(outDir, 'jwt-helpers.mjs');
  await esbuild.build({
    entryPoints: [path.join(repo, 'test', 'support', 'jwt.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
  });
  return import(pathToFileURL(outfile).href);
}

/**
 * Write `n` ChatGPT auth.json files into `dir`. Access tokens are valid for `accessHours` hours so
 * nothing needs an OAuth refresh. Returns what the bench needs to know about each account.
 */
export function writeAuthFiles(jwt, dir, n, { tag, accessHours = 6, plans = ['plus', 'pro', 'team', 'plus'] } = {}) {
  fs.mkdirSync(dir, { recursive: true });
  const exp = Math.floor(Date.now() / 1000) + accessHours * 3600;
  const out = [];
  for (let i = 0; i < n; i++) {
    const num = String(i).padStart(4, '0');
    const claims = {
      email: `${tag}-user${num}@example.com`,
      userId: `user-${tag}-${num}`,
      accountId: `acct-${tag}-${num}-${randomBytes(4).toString('hex')}`,
      plan: plans[i % plans.length],
    };
    const doc = jwt.chatgptAuth({ ...claims, accessExp: exp });
    const file = path.join(dir, `auth-${num}.json`);
    fs.writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
    out.push({ ...claims, file, doc });
  }
  return out;
}

/** Run the CLI synchronously, capturing output (setup only, never timed). */
export function cliSync(ctx, args, extraEnv = {}) {
  const res = spawnSync(NODE, [ctx.bin, ...args], {
    cwd: ctx.repo,
    env: { ...ctx.env, ...extraEnv },
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  return { code: res.status, signal: res.signal, stdout: res.stdout ?? '', stderr: res.stderr ?? '' };
}

/**
 * A Codex home with the given accounts imported through the CLI. `liveIndex` (default 0) is copied
 * to $CODEX_HOME/auth.json first, so the import's sync makes it the active account.
 */
export function buildHome(ctx, codexHome, srcDir, accounts, { liveIndex = 0 } = {}) {
  fs.mkdirSync(codexHome, { recursive: true, mode: 0o700 });
  if (liveIndex !== null) fs.copyFileSync(accounts[liveIndex].file, path.join(codexHome, 'auth.json'));
  const r = cliSync(ctx, ['--codex-home', codexHome, 'import', srcDir, '--json']);
  if (r.code !== 0) throw new Error(`codex-auth import ${srcDir} exited ${r.code}: ${r.stderr.trim() || r.stdout.slice(0, 500)}`);
  let doc;
  try {
    doc = JSON.parse(r.stdout);
  } catch {
    throw new Error(`codex-auth import --json printed something that is not JSON: ${r.stdout.slice(0, 300)}`);
  }
  const s = doc.summary ?? {};
  if ((s.imported ?? 0) + (s.unchanged ?? 0) + (s.updated ?? 0) !== accounts.length) {
    throw new Error(`import into ${codexHome}: expected ${accounts.length} accounts, got ${JSON.stringify(s)}`);
  }
  return registryPath(codexHome);
}

export function registryPath(codexHome) {
  return path.join(codexHome, 'codex-auth', 'registry.json');
}

export function readRegistry(codexHome) {
  return JSON.parse(fs.readFileSync(registryPath(codexHome), 'utf8'));
}

/**
 * Give every account a cached usage snapshot (schema: src/store/registry-schema.ts) and a last
 * activity, with a small JSON edit of registry.json.
 */
export function writeCachedUsage(codexHome) {
  const file = registryPath(codexHome);
  const reg = JSON.parse(fs.readFileSync(file, 'utf8'));
  const now = Date.now();
  reg.accounts.forEach((a, i) => {
    a.usage = {
      fiveHour: { usedPercent: (i * 17) % 100, resetsAt: new Date(now + ((i % 5) + 1) * 3_600_000).toISOString(), windowMinutes: 300 },
      weekly: { usedPercent: (i * 7) % 100, resetsAt: new Date(now + ((i % 7) + 1) * 86_400_000).toISOString(), windowMinutes: 10080 },
      fetchedAt: new Date(now - (i % 60) * 60_000).toISOString(),
      source: 'api',
      error: null,
    };
    a.lastActivityAt = new Date(now - i * 3_600_000).toISOString();
  });
  // The same compact form codex-auth writes (the benchmark measures reading what the tool keeps).
  fs.writeFileSync(file, `${JSON.stringify(reg)}\n`, { mode: 0o600 });
}

/**
 * Check a home the way the CLI sees it: `list --json` must validate and show every account with
 * its cached usage, one of them active; every secret is a file (no keyring) and there is no
 * config.toml that could select a keyring mode.
 */
export function checkHome(ctx, codexHome, expectedCount) {
  if (fs.existsSync(path.join(codexHome, 'config.toml'))) throw new Error(`${codexHome}/config.toml exists: the bench needs file mode`);
  const reg = readRegistry(codexHome);
  const notFile = reg.accounts.filter((a) => a.secret?.store !== 'file' || a.kind !== 'chatgpt');
  if (notFile.length) throw new Error(`${notFile.length} account(s) are not ChatGPT accounts in file storage: the keyring could be touched`);
  const r = cliSync(ctx, ['--codex-home', codexHome, 'list', '--json']);
  if (r.code !== 0) throw new Error(`list --json exited ${r.code}: ${r.stderr.trim()}`);
  if (r.stderr.trim()) throw new Error(`list --json printed on stderr (a warning?): ${r.stderr.trim().slice(0, 400)}`);
  const doc = JSON.parse(r.stdout);
  if (doc.accounts.length !== expectedCount) throw new Error(`list --json shows ${doc.accounts.length} accounts, expected ${expectedCount}`);
  if (!doc.active) throw new Error('list --json shows no active account');
  const withUsage = doc.accounts.filter((a) => a.usage?.fiveHour && typeof a.usage.fiveHour.remainingPercent === 'number').length;
  if (withUsage !== expectedCount) throw new Error(`only ${withUsage}/${expectedCount} accounts show cached usage (registry edit rejected?)`);
  return doc;
}

/** Local-time YYYY, MM, DD and the rollout stamp YYYY-MM-DDThh-mm-ss of a date (Codex uses local time). */
function localParts(d) {
  const p = (n) => String(n).padStart(2, '0');
  const y = String(d.getFullYear());
  const m = p(d.getMonth() + 1);
  const day = p(d.getDate());
  return { y, m, day, stamp: `${y}-${m}-${day}T${p(d.getHours())}-${p(d.getMinutes())}-${p(d.getSeconds())}` };
}

/** A UUIDv7-like id whose first 48 bits are the creation time in ms (as Codex's session ids). */
function uuidV7(ms) {
  const hex = ms.toString(16).padStart(12, '0') + randomBytes(10).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * `count` rollout files spread over `days` days ending now: $CODEX_HOME/sessions/YYYY/MM/DD/
 * rollout-<stamp>-<uuid>.jsonl, each a session_meta line and a few token_count events (CODEX-FACTS §5).
 */
export function writeSessionHistory(codexHome, { count = 5000, days = 250, accountId = null } = {}) {
  const root = path.join(codexHome, 'sessions');
  const now = Date.now();
  const span = days * 86_400_000;
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    // Oldest first; the newest file is about a minute old.
    const at = new Date(now - 60_000 - Math.floor(((count - 1 - i) / Math.max(1, count - 1)) * span));
    const { y, m, day, stamp } = localParts(at);
    const dir = path.join(root, y, m, day);
    fs.mkdirSync(dir, { recursive: true });
    const id = uuidV7(at.getTime());
    const sec = Math.floor(at.getTime() / 1000);
    const lines = [
      { timestamp: at.toISOString(), type: 'session_meta', payload: { id, timestamp: at.toISOString(), cwd: '/tmp/project', originator: 'codex_cli_rs', cli_version: '0.169.0', ...(accountId ? { creator_account_id: accountId } : {}) } },
    ];
    for (let k = 0; k < 3; k++) {
      const t = new Date(at.getTime() + k * 20_000);
      lines.push({
        timestamp: t.toISOString(),
        type: 'event_msg',
        payload: {
          type: 'token_count',
          info: null,
          rate_limits: {
            primary: { used_percent: (i + k) % 100, window_minutes: 300, resets_at: sec + 3600 },
            secondary: { used_percent: (i % 50) + k, window_minutes: 10080, resets_at: sec + 86_400 },
          },
        },
      });
    }
    const text = lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
    bytes += text.length;
    fs.writeFileSync(path.join(dir, `rollout-${stamp}-${id}.jsonl`), text);
  }
  return { root, files: count, bytes };
}
