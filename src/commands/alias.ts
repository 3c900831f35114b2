/** `codex-auth alias QUERY NAME` / `codex-auth alias QUERY --clear`. */
import type { Services, Uses } from '../cli/app.js';
import { aliasClash, describeAccount, normalizeAlias, validateAlias } from '../domain/accounts.js';
import { CliError, usageError } from '../errors.js';
import { selectAccount } from '../services/select.js';
import { applySync, syncedView } from '../services/sync.js';

/** What this command gets of the factory: its `needs` in src/cli/commands.ts. */
type Needs = Uses<Services | 'out'>;

export interface AliasOptions {
  clear?: boolean;
  json?: boolean;
}

export async function aliasCommand(app: Needs, args: { query: string; name?: string }, opts: AliasOptions): Promise<number> {
  const query = args.query;
  const name = args.name;
  if (opts.clear && name !== undefined) throw usageError('usage', 'Give either a NAME or --clear, not both.');
  if (!opts.clear && name === undefined) throw usageError('usage', 'Give the new NAME, or --clear to remove the alias: codex-auth alias QUERY NAME');
  if (name !== undefined) {
    const bad = validateAlias(name);
    if (bad) throw usageError('invalid_alias', `Invalid alias ${JSON.stringify(name)}: ${bad}.`);
  }
  // The sync (and its I/O) first; the registry lock below is held only to rename (src/store/registry.ts).
  const view = await syncedView(app);
  const target = await selectAccount(app, view.reg, query, { verb: 'name', command: 'codex-auth alias' });
  const alias = name === undefined ? null : normalizeAlias(name);
  const account = await app.registry.update((reg) => {
    applySync(reg, view.live, app.now());
    const acc = reg.accounts.find((a) => a.id === target.id);
    if (!acc) throw new CliError('not_found', 'That account was removed meanwhile; nothing was changed.');
    if (alias !== null) {
      const clash = aliasClash(reg.accounts, alias, acc);
      if (clash) throw usageError('alias_taken', `The alias ${JSON.stringify(alias)} cannot be used: ${clash}. Nothing was changed.`);
    }
    if (acc.alias !== alias) {
      acc.alias = alias;
      acc.updatedAt = app.now().toISOString();
    }
    return acc;
  });
  if (app.out.json) app.out.document({ id: account.id, email: account.email, alias: account.alias });
  app.out.success(alias === null ? `Cleared the alias of ${describeAccount(account)}.` : `Named ${describeAccount(account)}.`);
  return 0;
}
