/** `codex-auth status`: the active account and everything that decides what Codex uses. */
import type { Services, Uses } from '../cli/app.js';
import { describeAccount } from '../domain/accounts.js';
import { syncedView } from '../services/sync.js';

/** What this command gets of the factory: its `needs` in src/cli/commands.ts. */
type Needs = Uses<Services | 'ctx' | 'out'>;

const ENV_OVERRIDES = [
  'CODEX_HOME',
  'CODEX_AUTH_HOME',
  'CODEX_AUTH_STORE',
  'OPENAI_API_KEY',
  'CODEX_API_KEY',
  'CODEX_AUTH_OPENAI_BASE_URL',
  'CODEX_AUTH_CHATGPT_BASE_URL',
  'CODEX_REFRESH_TOKEN_URL_OVERRIDE',
  'CODEX_AUTH_HTTP_TIMEOUT_MS',
  'CODEX_AUTH_CODEX_BIN',
  'HTTPS_PROXY',
  'NO_PROXY',
  'CODEX_CA_CERTIFICATE',
  'SSL_CERT_FILE',
] as const;
/** Variables whose values are secrets: reported as set, never shown. */
const SECRET_ENV = new Set(['OPENAI_API_KEY', 'CODEX_API_KEY']);

export async function statusCommand(app: Needs): Promise<number> {
  // A read command: no network call, nothing written but credentials Codex itself wrote.
  const view = await syncedView(app, { readOnly: true });
  const reg = view.reg;
  const unknown = view.live.kind === 'unknown' ? view.live : null;
  const cfg = await app.config();
  const live = await app.live();
  const active = reg.activeId ? (reg.accounts.find((a) => a.id === reg.activeId) ?? null) : null;
  const procs = await app.ctx.codexProcesses(app.paths.codexHome).catch(() => []);
  const env: Record<string, string> = {};
  for (const k of ENV_OVERRIDES) {
    const v = app.env[k];
    if (v) env[k] = SECRET_ENV.has(k) ? 'set' : v;
  }
  const fileStore = app.secrets.store('file').describe();
  const keyringStore = app.secrets.store('keyring').describe();
  const storage = { chatgpt: app.env.CODEX_AUTH_STORE === 'keyring' ? keyringStore : fileStore, apikey: keyringStore };
  const insecure = reg.accounts.filter((a) => a.kind === 'apikey' && a.secret.store === 'file').length;
  const fallback = { enabled: reg.fallback.enabled, keyId: reg.fallback.keyId, threshold: reg.fallback.threshold, rotate: reg.fallback.rotate, switchBack: reg.fallback.switchBack };
  // The active login needs renewing: its refresh token is gone (expired, reused, revoked).
  const renew = active?.loginRequired ? active.loginRequired : null;
  const renewHint = 'log in to it again with "codex-auth login" (or import a fresh auth.json of it)';
  const { peekGatewaySettings } = await import('../gateway/peek.js');
  const gw = peekGatewaySettings(app.paths.home);
  const gateway = gw?.enabled ? { enabled: true, port: gw.port, rotate: gw.rotate, serving: active?.id ?? null } : null;

  if (app.out.json) {
    app.out.document({
      active: active ? { id: active.id, email: active.email, alias: active.alias, kind: active.kind, plan: active.plan, loginRequired: active.loginRequired ?? null } : null,
      ...(unknown ? { unknownLive: { kind: 'apikey', keyMask: unknown.keyMask, hint: 'run "codex-auth import" to identify it' } } : {}),
      loginRequired: renew !== null,
      codexHome: app.paths.codexHome,
      credentialStore: { mode: cfg.credentialStore, explicit: cfg.credentialStoreExplicit, location: live.location },
      registry: { path: app.paths.registry, accounts: reg.accounts.length },
      home: app.paths.home,
      secretStorage: { ...storage, insecureApiKeys: insecure },
      fallback,
      gateway,
      env,
      codexProcesses: procs,
    });
    return renew !== null ? 1 : 0;
  }
  const c = app.out.out;
  const line = (k: string, v: string) => app.out.data(`${c.bold(k.padEnd(18))} ${v}`);
  line('Active account', active ? describeAccount(active) : unknown ? `${unknown.keyMask} ${c.yellow('(an API key codex-auth does not know: run "codex-auth import" to identify it)')}` : c.dim('none'));
  if (active?.kind === 'chatgpt') line('Login', renew !== null ? c.red(`needs renewing (${renew}): ${renewHint}`) : 'ok');
  line('Codex home', app.paths.codexHome + (app.paths.codexHomeExists ? '' : c.dim(' (does not exist yet)')));
  line('Codex credentials', `${cfg.credentialStore} mode${cfg.credentialStoreExplicit ? ' (config.toml)' : ' (default)'}: ${live.location}`);
  line('Registry', `${app.paths.registry} (${reg.accounts.length} account${reg.accounts.length === 1 ? '' : 's'})`);
  line('ChatGPT secrets', storage.chatgpt);
  line('API-key secrets', storage.apikey + (insecure ? c.yellow(` (${insecure} in files: --insecure-storage)`) : ''));
  if (gateway) line('Gateway', `on (127.0.0.1:${gateway.port}): Codex holds a placeholder login; the gateway serves from ${active ? describeAccount(active) : 'no account'} (codex-auth gateway status)`);
  line('Fallback', fallback.enabled ? `enabled (threshold ${fallback.threshold}%)` : 'disabled');
  const envText = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  line('Environment', envText.length ? envText.join(', ') : c.dim('no overrides'));
  line('Codex processes', procs.length ? procs.map((p) => `${p.command} (pid ${p.pid})`).join(', ') : c.dim('none running'));
  if (env.OPENAI_API_KEY || env.CODEX_API_KEY) app.out.warn('OPENAI_API_KEY or CODEX_API_KEY is set: Codex may use it instead of the active account.');
  if (active && renew !== null) {
    app.out.warn(`The active login (${describeAccount(active)}) needs renewing: ${renewHint}.`);
    return 1;
  }
  return 0;
}
