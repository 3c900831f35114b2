/** `codex-auth fallback enable|disable|status`: the automatic fallback policy. */
import type { App } from '../app.js';
import { describeAccount } from '../domain/accounts.js';
import { CliError, usageError } from '../errors.js';
import { selectAccount } from '../select.js';
import type { Registry } from '../store/registry-schema.js';
import { loadSynced, syncInto } from '../sync.js';

export interface EnableOptions {
  key?: string;
  threshold?: string;
  /** commander's --no-rotate / --no-switch-back */
  rotate?: boolean;
  switchBack?: boolean;
  json?: boolean;
}

function policyJson(reg: Registry) {
  const key = reg.fallback.keyId ? reg.accounts.find((a) => a.id === reg.fallback.keyId) : undefined;
  return {
    enabled: reg.fallback.enabled,
    key: key ? { id: key.id, email: key.email, alias: key.alias, keyMask: key.keyMask ?? null } : null,
    threshold: reg.fallback.threshold,
    rotate: reg.fallback.rotate,
    switchBack: reg.fallback.switchBack,
  };
}

export async function fallbackEnable(app: App, _args: unknown[], opts: EnableOptions): Promise<number> {
  let threshold: number | undefined;
  if (opts.threshold !== undefined) {
    threshold = Number(opts.threshold);
    if (!Number.isFinite(threshold) || threshold < 1 || threshold > 100) throw usageError('invalid_threshold', `--threshold must be a percentage from 1 to 100, not "${opts.threshold}".`);
  }
  const snapshot = await loadSynced(app);
  let keyId: string | null = null;
  if (opts.key !== undefined) {
    const acc = await selectAccount(app, snapshot, opts.key, { verb: 'use as the fallback key', command: 'codex-auth fallback enable --key' });
    if (acc.kind !== 'apikey') throw usageError('not_an_api_key', `${describeAccount(acc)} is a ChatGPT account; the fallback key must be an API key.`);
    keyId = acc.id;
  }
  const reg = await app.registry.update(async (r) => {
    await syncInto(app, r);
    const keys = r.accounts.filter((a) => a.kind === 'apikey');
    if (keyId === null) keyId = r.fallback.keyId && keys.some((k) => k.id === r.fallback.keyId) ? r.fallback.keyId : (keys[0]?.id ?? null);
    if (keyId === null) {
      throw new CliError('no_api_key', 'Automatic fallback needs a stored API key to fall back to. Add one first: codex-auth add-api-key');
    }
    r.fallback.enabled = true;
    r.fallback.keyId = keyId;
    if (threshold !== undefined) r.fallback.threshold = threshold;
    if (opts.rotate !== undefined) r.fallback.rotate = opts.rotate;
    if (opts.switchBack !== undefined) r.fallback.switchBack = opts.switchBack;
    return structuredClone(r);
  });
  const p = policyJson(reg);
  if (app.out.json) app.out.document({ fallback: p });
  const key = reg.accounts.find((a) => a.id === reg.fallback.keyId);
  app.out.success(
    `Automatic fallback enabled: at ${p.threshold}% used, ${p.rotate ? 'rotate to the ChatGPT account with the most headroom, then ' : ''}fall back to ${key ? describeAccount(key) : 'the API key'}${p.switchBack ? '; switch back when the window resets' : ''}.`,
  );
  app.out.info('It acts when "codex-auth watch" runs (or "codex-auth watch --install-service"), or around "codex-auth run". API usage is billed per token.');
  return 0;
}

export async function fallbackDisable(app: App): Promise<number> {
  const reg = await app.registry.update(async (r) => {
    await syncInto(app, r);
    const state = r.fallbackState;
    r.fallback.enabled = false;
    r.fallbackState = null;
    return { copy: structuredClone(r), state };
  });
  if (app.out.json) app.out.document({ fallback: policyJson(reg.copy) });
  app.out.success('Automatic fallback disabled.');
  if (reg.state) {
    const home = reg.copy.accounts.find((a) => a.id === reg.state?.fromId);
    const active = reg.copy.accounts.find((a) => a.id === reg.copy.activeId);
    if (home && active && home.id !== active.id) app.out.info(`Codex still uses ${describeAccount(active)}; go back with: codex-auth switch ${home.alias ?? home.email ?? home.id}`);
  }
  return 0;
}

export async function fallbackStatus(app: App, _args: unknown[], opts: { refresh?: boolean }): Promise<number> {
  const { evaluate } = await import('../fallback.js');
  const ev = await evaluate(app, { poll: Boolean(opts.refresh), dryRun: true });
  const reg = (await app.registry.load());
  const d = ev.decision;
  const byId = new Map(reg.accounts.map((a) => [a.id, a]));
  const state = reg.fallbackState;
  const name = (id: string) => {
    const a = byId.get(id);
    return a ? describeAccount(a) : id;
  };
  const next =
    d.action === 'switch'
      ? `switch to ${name(d.to)} (${d.kind}): ${d.reason}`
      : d.action === 'warn'
        ? `stay, with a warning: ${d.reason}`
        : `nothing: ${d.reason}`;
  if (app.out.json) {
    app.out.document({
      fallback: policyJson(reg),
      state: state ? { ...state } : null,
      next: { action: d.action, ...(d.action === 'switch' ? { to: d.to, kind: d.kind } : {}), reason: d.reason },
    });
    return 0;
  }
  const c = app.out.out;
  const p = policyJson(reg);
  const line = (k: string, v: string) => app.out.data(`${c.bold(k.padEnd(16))} ${v}`);
  line('Fallback', p.enabled ? c.green('enabled') : 'disabled');
  line('Fallback key', p.key ? name(p.key.id) : c.dim('none (codex-auth add-api-key)'));
  line('Threshold', `${p.threshold}% used`);
  line('Rotation', p.rotate ? 'on: other ChatGPT accounts first' : 'off: straight to the API key');
  line('Switch back', p.switchBack ? 'on: when the chosen account has headroom again' : 'off');
  if (state) {
    line('State', `in fallback since ${state.since} (from ${name(state.fromId)}; ${state.reason}; until ${state.until ?? 'unknown'})`);
  } else line('State', 'not in fallback');
  line('Next evaluation', next);
  return 0;
}
