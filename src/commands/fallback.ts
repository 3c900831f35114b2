/** `codex-auth fallback enable|disable|status`: the automatic fallback policy. */
import type { Services, Uses } from '../cli/app.js';
import { describeAccount } from '../domain/accounts.js';
import { CliError, usageError } from '../errors.js';
import { selectAccount } from '../services/select.js';
import type { Registry } from '../domain/types.js';
import { applySync, syncedView } from '../services/sync.js';

/** What this command gets of the factory: its `needs` in src/cli/commands.ts. */
type Needs = Uses<Services | 'out'>;

export interface EnableOptions {
  key?: string;
  threshold?: string;
  /** commander's --no-rotate / --no-switch-back */
  rotate?: boolean;
  switchBack?: boolean;
  json?: boolean;
}

/**
 * What enabled fallback can do: rotate between ChatGPT accounts and then fall back to the API key,
 * rotate only (no API key stored), go to the key only (--no-rotate), or nothing at all (neither).
 */
export type FallbackMode = 'rotate-then-key' | 'rotate-only' | 'key-only' | 'none';

function fallbackKey(reg: Registry) {
  const key = reg.fallback.keyId ? reg.accounts.find((a) => a.id === reg.fallback.keyId) : undefined;
  return key?.kind === 'apikey' ? key : undefined;
}

function policyJson(reg: Registry) {
  const key = fallbackKey(reg);
  const mode: FallbackMode = key ? (reg.fallback.rotate ? 'rotate-then-key' : 'key-only') : reg.fallback.rotate ? 'rotate-only' : 'none';
  return {
    enabled: reg.fallback.enabled,
    mode,
    key: key ? { id: key.id, email: key.email, alias: key.alias, keyMask: key.keyMask ?? null } : null,
    threshold: reg.fallback.threshold,
    rotate: reg.fallback.rotate,
    switchBack: reg.fallback.switchBack,
  };
}

export async function fallbackEnable(app: Needs, _args: unknown, opts: EnableOptions): Promise<number> {
  let threshold: number | undefined;
  if (opts.threshold !== undefined) {
    threshold = Number(opts.threshold);
    if (!Number.isFinite(threshold) || threshold < 1 || threshold > 100) throw usageError('invalid_threshold', `--threshold must be a percentage from 1 to 100, not "${opts.threshold}".`);
  }
  // The sync (and its I/O) first; the registry lock below is held only to change the policy.
  const { reg: snapshot, live } = await syncedView(app);
  let keyId: string | null = null;
  if (opts.key !== undefined) {
    const acc = await selectAccount(app, snapshot, opts.key, { verb: 'use as the fallback key', command: 'codex-auth fallback enable --key' });
    if (acc.kind !== 'apikey') throw usageError('not_an_api_key', `${describeAccount(acc)} is a ChatGPT account; the fallback key must be an API key.`);
    keyId = acc.id;
  }
  const reg = await app.registry.update((r) => {
    applySync(r, live, app.now());
    const keys = r.accounts.filter((a) => a.kind === 'apikey');
    if (keyId === null) keyId = r.fallback.keyId && keys.some((k) => k.id === r.fallback.keyId) ? r.fallback.keyId : (keys[0]?.id ?? null);
    if (keyId === null && opts.rotate === false) {
      throw new CliError(
        'no_api_key',
        'Nothing to fall back to: with --no-rotate automatic fallback only moves Codex to an API key, and none is stored. Add one with "codex-auth add-api-key", or leave out --no-rotate to rotate between ChatGPT accounts only.',
      );
    }
    r.fallback.enabled = true;
    r.fallback.keyId = keyId;
    if (threshold !== undefined) r.fallback.threshold = threshold;
    // Without a key, rotation is all there is: it is on, whatever an earlier --no-rotate said.
    if (keyId === null) r.fallback.rotate = true;
    else if (opts.rotate !== undefined) r.fallback.rotate = opts.rotate;
    if (opts.switchBack !== undefined) r.fallback.switchBack = opts.switchBack;
    return structuredClone(r);
  });
  const p = policyJson(reg);
  if (app.out.json) app.out.document({ fallback: p });
  const back = p.switchBack ? '; switch back when the window resets' : '';
  if (p.mode === 'rotate-only') {
    app.out.success(`Automatic fallback enabled, rotation only: at ${p.threshold}% used, switch Codex to another ChatGPT account with headroom (its usage checked first)${back}.`);
    app.out.info('It never switches to an API key: none is stored. To fall back to one when no ChatGPT account has headroom (billed per token), add it with "codex-auth add-api-key".');
    app.out.info('It acts when "codex-auth watch" runs (or "codex-auth watch --install-service"), or around "codex-auth run".');
    return 0;
  }
  const key = fallbackKey(reg);
  app.out.success(
    `Automatic fallback enabled: at ${p.threshold}% used, ${p.rotate ? 'rotate to the ChatGPT account with the most headroom (its usage checked first), then ' : ''}fall back to ${key ? describeAccount(key) : 'the API key'}${back}.`,
  );
  app.out.info('It acts when "codex-auth watch" runs (or "codex-auth watch --install-service"), or around "codex-auth run". API usage is billed per token.');
  return 0;
}

export async function fallbackDisable(app: Needs): Promise<number> {
  const { live } = await syncedView(app);
  const reg = await app.registry.update((r) => {
    applySync(r, live, app.now());
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

export async function fallbackStatus(app: Needs, _args: unknown, opts: { refresh?: boolean }): Promise<number> {
  const { evaluate } = await import('../services/fallback.js');
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
      ? `switch to ${name(d.to)} (${d.kind})${d.check ? ' if the usage API confirms it has headroom' : ''}: ${d.reason}`
      : d.action === 'warn'
        ? `stay, with a warning: ${d.reason}`
        : `nothing: ${d.reason}`;
  if (app.out.json) {
    app.out.document({
      fallback: policyJson(reg),
      state: state ? { ...state } : null,
      next: { action: d.action, ...(d.action === 'switch' ? { to: d.to, kind: d.kind, checkFirst: d.check === true } : {}), reason: d.reason },
    });
    return 0;
  }
  const c = app.out.out;
  const p = policyJson(reg);
  const line = (k: string, v: string) => app.out.data(`${c.bold(k.padEnd(16))} ${v}`);
  const modes: Record<FallbackMode, string> = {
    'rotate-then-key': 'other ChatGPT accounts first, then the API key',
    'rotate-only': 'rotation only: other ChatGPT accounts, never an API key (none stored)',
    'key-only': 'straight to the API key',
    none: 'nothing to fall back to (no API key stored, rotation off)',
  };
  line('Fallback', p.enabled ? `${c.green('enabled')} (${modes[p.mode]})` : 'disabled');
  line('Fallback key', p.key ? name(p.key.id) : c.dim('none (codex-auth add-api-key)'));
  line('Threshold', `${p.threshold}% used`);
  line('Rotation', p.rotate ? `on: other ChatGPT accounts${p.key ? ' first' : ''}, each one's usage checked before moving` : 'off: straight to the API key');
  line('Switch back', p.switchBack ? 'on: when the chosen account has headroom again' : 'off');
  if (state) {
    line('State', `in fallback since ${state.since} (from ${name(state.fromId)}; ${state.reason}; until ${state.until ?? 'unknown'})`);
  } else line('State', 'not in fallback');
  line('Next evaluation', next);
  return 0;
}
