/** Turning a QUERY (or nothing, on a terminal) into accounts, the same way for every command. */
import type { Deps } from './deps.js';
import { describeAccount } from '../domain/accounts.js';
import { type NumberedAccount, numbered, resolveQuery } from '../domain/view.js';
import { CliError, usageError } from '../errors.js';
import type { Account, Registry } from '../domain/types.js';

function candidates(list: NumberedAccount[]): string {
  return list.map((m) => `  ${String(m.number).padStart(3)}  ${describeAccount(m.account)}`).join('\n');
}

/** The query as typed, in quotes; control characters escaped so it cannot break the line or the terminal. */
function quoted(query: string): string {
  return JSON.stringify(query);
}

function interactive(app: Deps): boolean {
  return app.picker.interactive;
}

async function pickFrom(app: Deps, title: string, list: NumberedAccount[], reg: Registry): Promise<Account> {
  const active = list.findIndex((m) => m.account.id === reg.activeId);
  return app.picker.pick(
    title,
    list.map((m) => ({
      label: `${String(m.number).padStart(2)}  ${describeAccount(m.account)}${reg.activeId === m.account.id ? '  (active)' : ''}`,
      value: m.account,
    })),
    active >= 0 ? active : undefined,
  );
}

export interface SelectOptions {
  /** What the account is chosen for, for prompts and messages: "switch to". */
  verb: string;
  /** The command line to suggest, e.g. "codex-auth switch". */
  command: string;
  /** Offer a picker when there is no QUERY (only on a terminal). */
  pickWhenEmpty?: boolean;
  /** Never prompt: where a picker would open, throw NeedsPicker instead (the caller holds locks). */
  noPicker?: boolean;
}

/** Thrown by selectAccount with `noPicker` where it would have asked the user to pick. */
export class NeedsPicker extends Error {
  constructor() {
    super('an account has to be picked interactively');
  }
}

export async function selectAccount(app: Deps, reg: Registry, query: string | undefined, opts: SelectOptions): Promise<Account> {
  const list = numbered(reg.accounts, reg.nextNumber);
  if (list.length === 0) {
    throw new CliError('no_accounts', 'There are no accounts yet. Add one with "codex-auth login", "codex-auth import PATH" or "codex-auth add-api-key".');
  }
  if (query === undefined || query === '') {
    if (opts.pickWhenEmpty && interactive(app)) {
      if (opts.noPicker) throw new NeedsPicker();
      return pickFrom(app, `Account to ${opts.verb}:`, list, reg);
    }
    throw usageError('query_required', `Name the account to ${opts.verb}: ${opts.command} QUERY (a row number, alias, email or fragment). Accounts:\n${candidates(list)}`);
  }
  if (query === '-') {
    const prev = reg.previousId ? reg.accounts.find((a) => a.id === reg.previousId) : undefined;
    if (!prev) throw new CliError('no_previous', 'There is no previous account to go back to yet.');
    return prev;
  }
  const r = resolveQuery(query, list);
  if (r.kind === 'one') return r.match.account;
  if (r.kind === 'none') {
    // A plain number is only ever a row number: it never falls through to text matching, so the
    // number of a removed account cannot silently pick another one.
    const why = r.number === undefined ? '' : `: no account has number ${r.number} (numbers stay with their account until it is removed, and are never reused)`;
    throw new CliError('not_found', `No account matches ${quoted(query)}${why}. Accounts:\n${candidates(list)}`, 1, { query });
  }
  if (interactive(app)) {
    if (opts.noPicker) throw new NeedsPicker();
    return pickFrom(app, `${quoted(query)} matches several accounts; ${opts.verb}:`, r.matches, reg);
  }
  throw usageError('ambiguous_query', `${quoted(query)} matches several accounts; use a row number or alias:\n${candidates(r.matches)}`, { query });
}
