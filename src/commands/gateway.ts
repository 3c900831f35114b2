/**
 * `codex-auth gateway serve`: the in-session fallback gateway (src/gateway/), in the foreground on
 * 127.0.0.1 until Ctrl-C / SIGTERM. One line per listening origin and per change of serving
 * account (JSON lines with --json).
 */
import type { Services, Uses } from '../cli/app.js';
import { usageError } from '../errors.js';

export interface ServeOptions {
  port?: string;
  json?: boolean;
}

function parsePort(v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isInteger(n) || n < 0 || n > 65534) throw usageError('invalid_port', `--port must be a port number from 1 to 65534 (0: any two free ports), not "${v}".`);
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
