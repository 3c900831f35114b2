/** `codex-auth switch [QUERY|-]`: make an account the one Codex uses, atomically. */
import type { Services, Uses } from '../cli/app.js';
import { describeAccount } from '../domain/accounts.js';
import { selectAccount } from '../services/select.js';
import { performSwitch, refuseEphemeral, switchWarnings } from '../services/switch.js';
import { applySync, prepareSync } from '../services/sync.js';

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
