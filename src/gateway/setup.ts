/**
 * `gateway enable` and `gateway disable`: pointing Codex at the gateway and back (CODEX-FACTS.md
 * §10). Enable saves Codex's live login into its account (the normal sync), sets the base-URL keys
 * in config.toml (src/gateway/config-toml.ts, with a backup), and gives Codex the placeholder login
 * where it reads its credentials (auth.json or its keyring entry); disable undoes the config edits
 * (keeping the user's own changes) and writes the chosen account's real login back. Both restart
 * Codex's app-server daemon when one runs (it keeps the credentials it loaded). Nothing is printed
 * here: the command reports the outcome.
 */
import { execFile } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Deps } from '../services/deps.js';
import { CliError, describeError, errnoCode } from '../errors.js';
import { atomicWriteFile, ensurePrivateDir, readFileIfExists } from '../store/atomic.js';
import type { Account } from '../domain/types.js';
import { applyGatewayConfig, revertGatewayConfig, tomlString, type WantedKey } from './config-toml.js';
import { isPlaceholderText } from './detect.js';
import { carriesSecret, placeholderAuth } from './placeholder.js';
import { type GatewaySettings, loadGatewaySettings, saveGatewaySettings } from './settings.js';
import { HAS_ZSTD } from './stream.js';

export type DaemonOutcome = 'restarted' | 'not-running' | 'no-codex' | 'failed';

export function gatewayUrls(port: number): { backend: string; model: string } {
  return { backend: `http://127.0.0.1:${port}/backend-api/`, model: `http://127.0.0.1:${port + 1}/v1` };
}

/** The keys §10 requires: two loopback origins; no request compression when this Node cannot decode zstd. */
export function wantedKeys(port: number, zstd = HAS_ZSTD): WantedKey[] {
  const u = gatewayUrls(port);
  return [
    { path: 'chatgpt_base_url', value: tomlString(u.backend) },
    { path: 'openai_base_url', value: tomlString(u.model) },
    ...(zstd ? [] : [{ path: 'features.enable_request_compression', value: 'false' }]),
  ];
}

async function parseToml(text: string, file: string): Promise<Record<string, unknown>> {
  const { parse } = await import('smol-toml');
  try {
    return parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new CliError('codex_config', `${file} is not valid TOML (${describeError(e).split('\n')[0]}); nothing was changed. Fix it first: Codex cannot read it either.`);
  }
}

function writeConfig(app: Deps, text: string, original: string | null): string | null {
  const file = app.paths.configToml;
  let backup: string | null = null;
  let mode = 0o600;
  if (original !== null) {
    ensurePrivateDir(app.paths.backupsDir);
    const stamp = app.now().toISOString().replace(/[:.]/g, '-');
    backup = path.join(app.paths.backupsDir, `config-${stamp}.toml`);
    for (let i = 1; existsSync(backup); i += 1) backup = path.join(app.paths.backupsDir, `config-${stamp}-${i}.toml`);
    atomicWriteFile(backup, original, 0o600, { durable: false });
    try {
      mode = statSync(file).mode & 0o777;
    } catch {
      /* gone meanwhile: 0600 */
    }
  }
  try {
    atomicWriteFile(file, text, mode);
  } catch (e) {
    throw new CliError('codex_home_unwritable', `Cannot write ${file} (${errnoCode(e) ?? (e as Error).message}); nothing was changed there.`);
  }
  return backup;
}

/** `codex app-server daemon restart` when a daemon runs for this CODEX_HOME (it keeps the login it loaded). */
export async function restartDaemon(app: Deps): Promise<DaemonOutcome> {
  if (!existsSync(path.join(app.paths.codexHome, 'app-server-control', 'app-server-control.sock'))) return 'not-running';
  const { findCodexBinary } = await import('../codex/binary.js');
  let bin: string;
  try {
    bin = findCodexBinary(app.env);
  } catch {
    return 'no-codex';
  }
  const run = (args: string[]) =>
    new Promise<number>((resolve) => {
      execFile(bin, args, { env: { ...app.env, CODEX_HOME: app.paths.codexHome }, timeout: 30_000 }, (err) => resolve(err ? (typeof err.code === 'number' ? err.code : 1) : 0));
    });
  // `restart` starts a daemon when none runs: ask first.
  if ((await run(['app-server', 'daemon', 'version'])) !== 0) return 'not-running';
  return (await run(['app-server', 'daemon', 'restart'])) === 0 ? 'restarted' : 'failed';
}

export interface EnableResult {
  settings: GatewaySettings;
  chosen: Account;
  /** Something changed (false: it was all in place already). */
  changed: boolean;
  configChanged: boolean;
  configBackup: string | null;
  placeholderWritten: boolean;
  daemon: DaemonOutcome;
}

/** `rotate`: rotation on or off; absent, the current setting is kept (off at first). */
export async function enableGateway(app: Deps, opts: { port?: number; rotate?: boolean }): Promise<EnableResult> {
  const live = await app.live();
  if (live.mode === 'ephemeral') {
    const { ephemeralReason } = await import('../store/live.js');
    throw new CliError('ephemeral_store', `${ephemeralReason(app.paths.configToml)}; the gateway needs to give Codex its placeholder login there. Set cli_auth_credentials_store = "file" (or "keyring"/"auto") first; nothing was changed.`);
  }
  // Codex's live login saved into its account (the normal sync): it is the account the gateway serves from.
  const { syncedView } = await import('../services/sync.js');
  const view = await syncedView(app, { identify: true });
  if (view.live.kind === 'error' || view.live.kind === 'unknown') {
    throw new CliError('live_unsaved', "Codex's current login could not be saved into codex-auth (see above); nothing was changed. Import it (codex-auth import) or log in again, then enable the gateway.");
  }
  const chosen = view.reg.accounts.find((a) => a.id === view.reg.activeId);
  if (!chosen) {
    throw new CliError(
      'no_active',
      view.reg.accounts.length === 0 ? 'codex-auth has no account for the gateway to serve from; log in first (codex-auth login); nothing was changed.' : 'No account is chosen for the gateway to serve from; pick one with "codex-auth switch" first; nothing was changed.',
    );
  }

  const before = loadGatewaySettings(app.paths.home);
  const port = opts.port ?? before.port;
  await ensurePortsUsable({ ...before, port }, app.now());
  const file = app.paths.configToml;
  const original = readFileIfExists(file);
  const doc = original === null ? {} : await parseToml(original, file);
  const urls = gatewayUrls(port);
  const prior = before.enabled ? (before.config?.records ?? []) : [];
  const edit = applyGatewayConfig(original, wantedKeys(port), prior);
  const check = await parseToml(edit.text, file).catch(() => null);
  const features = check?.features as Record<string, unknown> | undefined;
  if (!check || check.chatgpt_base_url !== urls.backend || check.openai_base_url !== urls.model || (!HAS_ZSTD && features?.enable_request_compression !== false)) {
    const lines = wantedKeys(port).map((w) => `  ${w.path} = ${w.value}`).join('\n');
    throw new CliError('codex_config', `The gateway's settings could not be added to ${file} safely (an unusual layout, e.g. an inline "features" table); nothing was changed. Add them yourself:\n${lines}`);
  }
  const prevBase = typeof doc.chatgpt_base_url === 'string' && doc.chatgpt_base_url !== urls.backend ? doc.chatgpt_base_url : null;
  const settings: GatewaySettings = {
    ...before,
    port,
    rotate: opts.rotate ?? before.rotate,
    enabled: true,
    config: { records: edit.records, created: before.enabled && before.config ? before.config.created : original === null },
    upstreamChatgptBaseUrl: before.enabled ? before.upstreamChatgptBaseUrl : prevBase,
  };
  const settingsChanged = JSON.stringify(settings) !== JSON.stringify(before);
  // The records first: whatever happens next, disable knows what to undo.
  if (settingsChanged) saveGatewaySettings(app.paths.home, settings);
  const configChanged = original === null || edit.text !== original;
  const configBackup = configChanged ? writeConfig(app, edit.text, original) : null;

  // The placeholder where Codex reads its login (auth.json, or its keyring entry).
  const placeholder = `${JSON.stringify(placeholderAuth(settings.secret, app.now()), null, 2)}\n`;
  const placeholderWritten = await live.withLock(async () => {
    const cur = await live.read();
    if (cur !== null && isPlaceholderText(cur)) {
      const access = (JSON.parse(cur) as { tokens?: { access_token?: string } }).tokens?.access_token;
      if (carriesSecret(`Bearer ${access ?? ''}`, settings.secret)) return false;
    } else if (cur !== null) {
      // Only a login saved in its account is replaced (Codex may have logged in since the sync).
      const { localPlan } = await import('../services/sync.js');
      const plan = localPlan(await app.registry.load(), cur);
      if (plan === null || plan.kind !== 'known') {
        throw new CliError('live_changing', "Codex's login changed while the gateway was being enabled; run \"codex-auth gateway enable\" again (config.toml already points at the gateway).");
      }
    }
    await live.write(placeholder);
    const back = await live.read();
    if (back === null || !isPlaceholderText(back)) throw new CliError('verify_failed', `Codex's credentials did not read back as written (${live.location}).`);
    return true;
  });
  const changed = settingsChanged || configChanged || placeholderWritten;
  const daemon = changed ? await restartDaemon(app) : 'not-running';
  return { settings, chosen, changed, configChanged, configBackup, placeholderWritten, daemon };
}

export interface DisableResult {
  /** The gateway was off already: nothing was done. */
  already: boolean;
  /** Keys of config.toml the user changed since enable: kept. */
  kept: string[];
  configBackup: string | null;
  restored: Account | null;
  daemon: DaemonOutcome;
}

export async function disableGateway(app: Deps): Promise<DisableResult> {
  const settings = loadGatewaySettings(app.paths.home);
  if (!settings.enabled) return { already: true, kept: [], configBackup: null, restored: null, daemon: 'not-running' };
  const { loadSynced } = await import('../services/sync.js');
  const reg = await loadSynced(app);
  const chosen = reg.accounts.find((a) => a.id === reg.activeId) ?? null;
  const live = await app.live();
  if (isPlaceholderText(await live.read())) {
    if (!chosen) throw new CliError('no_active', 'No account is chosen to give back to Codex; pick one with "codex-auth switch", then run "codex-auth gateway disable" again; nothing was changed.');
    // The chosen account's real login where Codex reads it (the placeholder is always replaced).
    const { performSwitch } = await import('../services/switch.js');
    await performSwitch(app, chosen.id, { kind: 'manual' }, { force: true });
  }
  // config.toml: only what enable wrote, and only where it is still as written.
  const file = app.paths.configToml;
  const text = readFileIfExists(file);
  let kept: string[] = [];
  let configBackup: string | null = null;
  if (text !== null && settings.config) {
    const r = revertGatewayConfig(text, settings.config.records);
    kept = r.kept;
    if (r.text === '' && settings.config.created) {
      rmSync(file, { force: true });
    } else if (r.text !== text) configBackup = writeConfig(app, r.text, text);
  }
  saveGatewaySettings(app.paths.home, { ...settings, enabled: false, config: null, upstreamChatgptBaseUrl: null });
  const daemon = await restartDaemon(app);
  return { already: false, kept, configBackup, restored: chosen, daemon };
}

/** What `gateway status` learns from a running gateway (its authenticated status endpoint). */
/**
 * Why the gateway could not listen on 127.0.0.1:`port` (`EADDRINUSE`, `EACCES`…), or null when it can:
 * a listen that is closed at once.
 */
function listenProblem(port: number): Promise<string | null> {
  const net = process.getBuiltinModule('node:net');
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(null)));
  });
}

/**
 * Before Codex is pointed at the gateway's two ports: both can be listened on, or this installation's
 * own gateway already serves there (enable run again while `serve` runs). Otherwise Codex would fail
 * at its next request with "workspace routing discovery failed", so nothing is changed.
 */
async function ensurePortsUsable(settings: GatewaySettings, now: Date): Promise<void> {
  const { port } = settings;
  const problems: Array<{ port: number; code: string }> = [];
  for (const p of [port, port + 1]) {
    const code = await listenProblem(p);
    if (code !== null) problems.push({ port: p, code });
  }
  if (problems.length === 0) return;
  if ((await probeGateway(settings, now, 1000)).status !== null) return; // our own gateway, serving
  const what = problems
    .map(({ port: p, code }) => `127.0.0.1:${p} ${code === 'EADDRINUSE' ? 'is in use by another program' : code === 'EACCES' ? 'may not be opened by this user' : `cannot be opened (${code})`}`)
    .join('; ');
  throw new CliError('port_unusable', `${what}. The gateway listens on two ports, N and N+1 (now ${port} and ${port + 1}); pick two free ones with --port N. Nothing was changed.`);
}

export interface ProbeResult {
  listening: boolean;
  error: string | null;
  status: {
    pid: number;
    startedAt: string;
    chosen: { id: string; label: string | null } | null;
    serving: { id: string; label: string | null } | null;
    accounts: Array<{ id: string; label: string | null; requests: number; failovers: number; lastError: string | null }>;
  } | null;
}

export async function probeGateway(settings: GatewaySettings, now: Date, timeoutMs = 2000): Promise<ProbeResult> {
  const token = (placeholderAuth(settings.secret, now).tokens as { access_token: string }).access_token;
  const url = `http://127.0.0.1:${settings.port}/codex-auth/status`;
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const r = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
    if (r.status !== 200) return { listening: true, error: `127.0.0.1:${settings.port} answered HTTP ${r.status} (another program, or a gateway of another installation?)`, status: null };
    return { listening: true, error: null, status: (await r.json()) as ProbeResult['status'] };
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    return { listening: false, error: cause === 'ECONNREFUSED' ? `nothing listens on 127.0.0.1:${settings.port}` : `127.0.0.1:${settings.port}: ${cause ?? (e as Error).message}`, status: null };
  } finally {
    clearTimeout(t);
  }
}
