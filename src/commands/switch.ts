/** `codex-auth switch [QUERY|-]`: make an account the one Codex uses, atomically. */
import type { Services, Uses } from '../cli/app.js';
import { describeAccount } from '../domain/accounts.js';
import type { Account } from '../domain/types.js';
import { CliError } from '../errors.js';
import { gatewayEnabled } from '../gateway/peek.js';
import { selectAccount } from '../services/select.js';
import { performSwitch, refuseEphemeral, refuseLoginRequired, switchWarnings } from '../services/switch.js';
import { applySync, prepareSync, setActive } from '../services/sync.js';

/** What this command gets of the factory: its `needs` in src/cli/commands.ts. */
type Needs = Uses<Services | 'ctx' | 'out'>;

export interface SwitchOptions {
  json?: boolean;
  /** Switch even to an account that needs a new login. */
  force?: boolean;
}

export async function switchCommand(app: Needs, args: { query?: string }, opts: SwitchOptions): Promise<number> {
  const query = args.query;
  refuseEphemeral(app, await app.live()); // before the picker asks for a choice that cannot be applied
  // The sync first (no lock held: the picker may wait for the user), then the choice on it.
  const prepared = await prepareSync(app, { identify: true });
  const view = prepared.reg ? structuredClone(prepared.reg) : await app.registry.load();
  applySync(view, prepared.plan, app.now());
  const target = await selectAccount(app, view, query, { verb: 'switch to', command: 'codex-auth switch', pickWhenEmpty: true });
  if (gatewayEnabled(app.paths.home)) return gatewaySwitch(app, target.id, opts);
  // Running Codex processes are looked up while the switch runs (Codex's locks are taken by helper
  // processes): the lookup costs nothing then.
  const procs = app.codexProcesses().catch(() => []);
  const result = await performSwitch(app, target.id, { kind: 'manual' }, { force: Boolean(opts.force), prepared });
  const warnings = result.switched ? await switchWarnings(app, await procs) : [];
  if (app.out.json) {
    app.out.document({
      switched: result.switched,
      from: result.from ? { id: result.from.id, email: result.from.email, alias: result.from.alias } : null,
      to: { id: result.to.id, email: result.to.email, alias: result.to.alias, kind: result.to.kind, plan: result.to.plan },
      warnings,
    });
  }
  if (result.switched) app.out.success(`Switched Codex to ${describeAccount(result.to)}.`);
  else app.out.info(`Codex already uses ${describeAccount(result.to)}; nothing to do.`);
  for (const w of warnings) app.out.warn(w);
  return 0;
}

/**
 * While the gateway is on, Codex holds the placeholder login: a switch changes the account the
 * gateway serves from (the registry's chosen account), and writes nothing where Codex reads.
 */
async function gatewaySwitch(app: Needs, targetId: string, opts: SwitchOptions): Promise<number> {
  let from: Account | null = null;
  let to: Account | null = null;
  await app.registry.update((r) => {
    const t = r.accounts.find((a) => a.id === targetId);
    if (!t) throw new CliError('not_found', 'That account was removed meanwhile; nothing was changed.');
    if (r.activeId !== t.id) refuseLoginRequired(t, opts.force);
    from = r.accounts.find((a) => a.id === r.activeId) ?? null;
    to = t;
    if (r.activeId === t.id) return;
    setActive(r, t.id, app.now());
    r.fallbackState = null;
    t.lastActivityAt = app.now().toISOString();
  });
  const target = to as unknown as Account;
  const prev = from as Account | null;
  const switched = prev?.id !== target.id;
  if (app.out.json) {
    app.out.document({
      switched,
      gateway: true,
      from: prev ? { id: prev.id, email: prev.email, alias: prev.alias } : null,
      to: { id: target.id, email: target.email, alias: target.alias, kind: target.kind, plan: target.plan },
      warnings: [],
    });
  }
  if (switched) app.out.success(`The gateway now serves from ${describeAccount(target)} (Codex keeps its placeholder login; running sessions follow at their next request).`);
  else app.out.info(`The gateway already serves from ${describeAccount(target)}; nothing to do.`);
  return 0;
}
