/**
 * `codex-auth gateway …`: the in-session fallback gateway (src/gateway/). `serve` runs it in the
 * foreground on 127.0.0.1 until Ctrl-C / SIGTERM (one line per listening origin and per change of
 * serving account, JSON lines with --json); `enable`/`disable` point Codex at it and back; `status`;
 * `install-service`/`uninstall-service` run `serve` as a per-user service (watch's machinery).
 */
import type { Services, Uses } from '../cli/app.js';
import { usageError } from '../errors.js';

export interface EnableOptions {
  port?: string;
  rotate?: boolean;
  json?: boolean;
}

const DAEMON: Record<string, string> = {
  restarted: "Codex's app-server daemon was restarted (it keeps the login it loaded).",
  failed: 'Could not restart Codex\'s app-server daemon; run "codex app-server daemon restart" yourself.',
};

export async function gatewayEnable(app: Needs, _args: unknown, opts: EnableOptions): Promise<number> {
  const port = opts.port === undefined ? undefined : parsePort(opts.port, 0, { anyAllowed: false });
  const { enableGateway, gatewayUrls } = await import('../gateway/setup.js');
  const r = await enableGateway(app, { ...(port !== undefined ? { port } : {}), ...(opts.rotate !== undefined ? { rotate: opts.rotate } : {}) });
  const urls = gatewayUrls(r.settings.port);
  if (app.out.json) {
    app.out.document({
      enabled: true,
      changed: r.changed,
      port: r.settings.port,
      rotate: r.settings.rotate,
      chatgptBaseUrl: urls.backend,
      openaiBaseUrl: urls.model,
      configToml: app.paths.configToml,
      configBackup: r.configBackup,
      chosen: { id: r.chosen.id, email: r.chosen.email, alias: r.chosen.alias },
      daemon: r.daemon,
    });
    return 0;
  }
  const { describeAccount } = await import('../domain/accounts.js');
  const { terminalText } = await import('../ui/output.js');
  if (!r.changed) app.out.info(`The gateway is already enabled for ${terminalText(app.paths.codexHome)}; nothing changed.`);
  else {
    app.out.success(`Codex is set up to use the gateway: ${terminalText(app.paths.configToml)} points chatgpt_base_url at ${urls.backend} and openai_base_url at ${urls.model}; Codex holds a placeholder login (no real token or key).`);
    if (r.configBackup) app.out.info(`The previous config.toml is saved in ${terminalText(r.configBackup)}.`);
  }
  app.out.info(`The gateway serves from ${describeAccount(r.chosen)}; when it reaches its usage limit, the fallback API key (billed per token)${r.settings.rotate ? ' or, with rotation on, another of your ChatGPT accounts' : ''} takes over.`);
  if (DAEMON[r.daemon]) app.out.info(DAEMON[r.daemon] as string);
  app.out.info('Start the gateway (Codex cannot reach OpenAI without it): codex-auth gateway serve (in a terminal you keep open), or as a service started at every login: codex-auth gateway install-service   — undo everything: codex-auth gateway disable');
  return 0;
}

export async function gatewayDisable(app: Needs): Promise<number> {
  const { disableGateway } = await import('../gateway/setup.js');
  const r = await disableGateway(app);
  if (app.out.json) {
    app.out.document({ enabled: false, changed: !r.already, kept: r.kept, restored: r.restored ? { id: r.restored.id, email: r.restored.email, alias: r.restored.alias } : null, configBackup: r.configBackup, daemon: r.daemon });
    return 0;
  }
  if (r.already) {
    app.out.info('The gateway is not enabled; nothing to do.');
    return 0;
  }
  const { describeAccount } = await import('../domain/accounts.js');
  const { terminalText } = await import('../ui/output.js');
  app.out.success(`Codex talks to OpenAI directly again${r.restored ? ` as ${describeAccount(r.restored)}` : ''}; the gateway's settings are gone from ${terminalText(app.paths.configToml)}.`);
  for (const k of r.kept) app.out.warn(`${k} in config.toml was changed since "gateway enable": your value was kept. Remove it yourself if it still points at the gateway.`);
  if (DAEMON[r.daemon]) app.out.info(DAEMON[r.daemon] as string);
  app.out.info('A running "codex-auth gateway serve" is no longer needed: stop it.');
  return 0;
}

export async function gatewayStatus(app: Needs): Promise<number> {
  const { peekGatewaySettings } = await import('../gateway/peek.js');
  const settings = peekGatewaySettings(app.paths.home);
  const { probeGateway } = await import('../gateway/setup.js');
  const probe = settings ? await probeGateway(settings, app.now()) : { listening: false, error: null, status: null };
  const reg = await app.registry.load();
  const chosen = reg.accounts.find((a) => a.id === reg.activeId) ?? null;
  const { describeAccount } = await import('../domain/accounts.js');
  const doc = {
    enabled: settings?.enabled ?? false,
    port: settings?.port ?? null,
    rotate: settings?.rotate ?? false,
    listening: probe.listening && probe.status !== null,
    error: probe.status ? null : probe.error,
    chosen: chosen ? { id: chosen.id, label: describeAccount(chosen) } : null,
    serving: probe.status?.serving ?? null,
    since: probe.status?.startedAt ?? null,
    accounts: probe.status?.accounts ?? [],
  };
  if (app.out.json) {
    app.out.document(doc);
    return 0;
  }
  const { terminalText } = await import('../ui/output.js');
  const t = (s: string | null | undefined) => terminalText(s ?? '');
  app.out.info(`Gateway: ${doc.enabled ? 'enabled' : 'not enabled'} for ${t(app.paths.codexHome)}${settings ? ` (port ${settings.port}, rotation ${doc.rotate ? 'on' : 'off'})` : ''}`);
  if (doc.listening) app.out.info(`Listening since ${t(doc.since)}; serving from ${t(doc.serving?.label ?? doc.chosen?.label ?? 'nobody yet')}.`);
  else if (doc.enabled) app.out.warn(`Not running (${t(doc.error)}): Codex fails with "workspace routing discovery failed" until you start it: codex-auth gateway serve (or undo: codex-auth gateway disable).`);
  else app.out.info('Not running.');
  if (doc.chosen) app.out.info(`Chosen account: ${t(doc.chosen.label)}`);
  for (const a of doc.accounts) app.out.info(`  ${t(a.label ?? a.id)}: ${a.requests} request${a.requests === 1 ? '' : 's'}, ${a.failovers} failover${a.failovers === 1 ? '' : 's'}${a.lastError ? `; last error: ${t(a.lastError)}` : ''}`);
  return 0;
}

export interface ServeOptions {
  port?: string;
  json?: boolean;
}

/**
 * The first of the gateway's two ports (N and N+1). `serve --port 0` takes any two free ones; `enable`
 * cannot (Codex's config.toml must name them).
 */
function parsePort(v: string | undefined, fallback: number, opts: { anyAllowed: boolean } = { anyAllowed: true }): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  const min = opts.anyAllowed ? 0 : 1;
  if (!/^\d+$/.test(v) || !Number.isInteger(n) || n < min || n > 65534) {
    const any = opts.anyAllowed ? ' (0: any two free ports)' : ' (Codex needs to know it: not 0)';
    throw usageError('invalid_port', `--port must be a port number from 1 to 65534${any}, not "${v}".`);
  }
  return n;
}

/** What this command gets of the factory: its `needs` in src/cli/commands.ts. */
type Needs = Uses<Services | 'ctx' | 'out'>;

export async function gatewayServe(app: Needs, _args: unknown, opts: ServeOptions): Promise<number> {
  const { loadSynced } = await import('../services/sync.js');
  const { loadGatewaySettings } = await import('../gateway/settings.js');
  const { startGateway } = await import('../gateway/server.js');
  await loadSynced(app);
  const settings = loadGatewaySettings(app.paths.home);
  const port = parsePort(opts.port, settings.port);
  const emit = (event: string, fields: Record<string, unknown>, text: string) => {
    const at = app.now().toISOString();
    if (app.out.json) app.out.record({ at, event, ...fields });
    else app.out.info(`${at.slice(0, 19).replace('T', ' ')}  ${text}`);
  };
  let gw;
  try {
    gw = await startGateway(app, {
      port,
      secret: settings.secret,
      upstreamChatgptBaseUrl: settings.upstreamChatgptBaseUrl,
      onEvent: (e) =>
        emit(e.kind === 'gateway-switch-back' ? 'switch-back' : 'failover', { from: e.from, to: e.to, reason: e.reason }, `${e.kind === 'gateway-switch-back' ? 'switched back to' : 'now serving from'} ${e.label}: ${e.reason}`),
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw usageError('port_in_use', `Port ${port} or ${port + 1} on 127.0.0.1 is in use (another gateway?). Stop it, or pick other ports with --port.`);
    throw e;
  }
  emit('listening', { chatgptBaseUrl: gw.backendUrl, openaiBaseUrl: gw.modelUrl }, `codex-auth gateway listening: chatgpt_base_url = "${gw.backendUrl}", openai_base_url = "${gw.modelUrl}" (Ctrl-C stops it)`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await gw.close();
  emit('stop', {}, 'stopped');
  return 0;
}

/** What the service subcommands get of the factory: their `needs` in src/cli/commands.ts. */
type ServiceNeeds = Uses<'ctx' | 'env' | 'opts' | 'out' | 'paths'>;

/** `gateway install-service`: a systemd user unit (Linux) or LaunchAgent (macOS) running `gateway serve`. */
export async function gatewayInstallService(app: ServiceNeeds, _args: unknown, opts: { json?: boolean }): Promise<number> {
  const svc = await import('../codex/service.js');
  const f = svc.installService(svc.serviceSpecFor('gateway', app));
  const { peekGatewaySettings } = await import('../gateway/peek.js');
  const enabled = peekGatewaySettings(app.paths.home)?.enabled === true;
  if (opts.json) {
    app.out.document({ installed: f.file, environmentFile: f.environment?.file ?? null, name: f.name, start: f.start, enabled });
    return 0;
  }
  const { terminalText } = await import('../ui/output.js');
  app.out.success(f.environment ? `Wrote ${terminalText(f.file)} and its environment, ${terminalText(f.environment.file)} (0600).` : `Wrote ${terminalText(f.file)} (0600: it holds the environment).`);
  app.out.info(`Start it now and at every login:\n${f.start.map((l) => `  ${terminalText(l)}`).join('\n')}`);
  if (!enabled) app.out.info('Codex is not set up to use the gateway yet: codex-auth gateway enable');
  return 0;
}

/** `gateway uninstall-service`: removes that service's files. */
export async function gatewayUninstallService(app: ServiceNeeds, _args: unknown, opts: { json?: boolean }): Promise<number> {
  const svc = await import('../codex/service.js');
  const f = svc.uninstallService(svc.serviceSpecFor('gateway', app));
  const { peekGatewaySettings } = await import('../gateway/peek.js');
  const enabled = peekGatewaySettings(app.paths.home)?.enabled === true;
  if (opts.json) {
    app.out.document({ removed: f.removed ? f.file : null, name: f.name, stop: f.stop, enabled });
    return 0;
  }
  const { terminalText } = await import('../ui/output.js');
  if (f.removed) app.out.success(`Removed ${terminalText(f.file)}.`);
  else app.out.info(`No service file at ${terminalText(f.file)}; nothing to remove.`);
  app.out.info(`If it is still running, stop it:\n${f.stop.map((l) => `  ${terminalText(l)}`).join('\n')}`);
  if (enabled) app.out.warn('Codex is still set up to use the gateway and cannot reach OpenAI without it: run "codex-auth gateway serve" yourself, or undo: codex-auth gateway disable');
  return 0;
}
