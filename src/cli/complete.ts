/**
 * Shell completion's candidates, computed from the command table (src/cli/commands.ts) for the words
 * of a command line, the way cobra-based CLIs (gh, kubectl, helm) do it: the scripts that
 * `codex-auth completion SHELL` prints only collect the words and run `codex-auth __complete WORDS...`,
 * which prints one candidate per line (`value` or `value<TAB>description`) and then a directive line,
 * `:N`, whose bits tell the shell what else to do (see DIRECTIVE). Pure: the registry's accounts come
 * in through a callback, called only when an account QUERY is being completed.
 */
import { describeAccount } from '../domain/accounts.js';
import { BIDI_CONTROLS, CONTROL_CHARS, oneLine } from '../domain/display.js';
import { numbered } from '../domain/view.js';
import type { Account } from '../domain/types.js';
import { findCommand } from './parse.js';
import type { CommandSpec, OptionSpec, ProgramSpec, ValueKind } from './spec.js';

/** The directive's bits. 0 never occurs: every answer says whether files may be offered. */
export const DIRECTIVE = {
  /** Something went wrong: offer nothing at all. */
  error: 1,
  /** No space after the candidate. */
  noSpace: 2,
  /** Offer only the candidates, never file names. */
  noFiles: 4,
  /** Offer file names (the shell's own file completion of the word). */
  files: 8,
  /** Offer directory names. */
  dirs: 16,
  /** Keep the candidates in the order given instead of sorting them. */
  keepOrder: 32,
} as const;

export interface Candidate {
  value: string;
  description?: string;
}

export interface Completion {
  candidates: Candidate[];
  directive: number;
}

/** The registry's accounts for the Codex home given on the command line (`--codex-home DIR`), if any. */
export type AccountSource = (codexHome: string | undefined) => { accounts: readonly Account[]; nextNumber?: number };

const HELP_OPTION: OptionSpec = { long: 'help', short: 'h', description: 'show help' };
const HELP_COMMAND: CommandSpec = { name: 'help', description: 'display help for command' };
/** The program options a command line may also give after the command (as src/cli/parse.ts reads it). */
const GLOBAL_AFTER = new Set(['codex-home', 'debug', 'help']);

/** No control or bidi character (src/domain/display.ts): a candidate goes into the command line as it is. */
const PRINTABLE = new RegExp(`^[^${CONTROL_CHARS}${BIDI_CONTROLS}]+$`);

/** A description on one line with nothing a terminal acts on (control characters shown escaped). */
function describe(text: string): string {
  return oneLine(text.trim());
}

/** Candidates for an account QUERY: aliases, emails, row numbers (with their descriptions). */
export function accountCandidates(accounts: readonly Account[], nextNumber?: number): Candidate[] {
  const list = numbered(accounts, nextNumber);
  const out: Candidate[] = [];
  const seen = new Set<string>();
  const add = (value: string | null | undefined, description: string): void => {
    // A value with a control character is dropped (it would reach the shell's command line), and so
    // is one that starts with "-" (it would read as an option).
    if (!value || !PRINTABLE.test(value) || value.startsWith('-') || seen.has(value.toLowerCase())) return;
    seen.add(value.toLowerCase());
    out.push({ value, description: describe(description) });
  };
  for (const { account } of list) add(account.alias, describeAccount(account));
  const byEmail = new Map<string, number>();
  for (const { account } of list) if (account.email) byEmail.set(account.email.toLowerCase(), (byEmail.get(account.email.toLowerCase()) ?? 0) + 1);
  for (const { account } of list) {
    const n = account.email ? (byEmail.get(account.email.toLowerCase()) ?? 0) : 0;
    add(account.email, n > 1 ? `${n} accounts: use a number or alias to pick one` : describeAccount(account));
  }
  for (const { number, account } of list) add(String(number), describeAccount(account));
  return out;
}

function optionWords(list: readonly OptionSpec[]): Candidate[] {
  return list.flatMap((o) => [...(o.short ? [{ value: `-${o.short}`, description: o.description }] : []), { value: `--${o.long}`, description: o.description }]);
}

function commandWords(list: readonly CommandSpec[]): Candidate[] {
  return [...list.filter((c) => !c.hidden), HELP_COMMAND].map((c) => ({ value: c.name, description: c.description }));
}

/** The option a word names (`--alias`, `-r`), among those accepted at this point. */
function findOption(word: string, list: readonly OptionSpec[]): OptionSpec | undefined {
  return word.startsWith('--') ? list.find((o) => `--${o.long}` === word) : list.find((o) => o.short !== undefined && `-${o.short}` === word);
}

/** Where the walk over the words before the cursor ended. */
interface State {
  /** The commands entered: [] at the program, [fallback, enable] in `fallback enable`. */
  path: CommandSpec[];
  /** In `help [command...]`: the commands it names come next. */
  help: boolean;
  /** Positional words given to the current command so far. */
  npos: number;
  /** After `--`: every word is positional. */
  dashdash: boolean;
  /** The option whose value is the next word. */
  pending?: OptionSpec;
  codexHome?: string;
}

function accepted(program: ProgramSpec, s: State): OptionSpec[] {
  const leaf = s.path[s.path.length - 1];
  if (!leaf) return [...program.options];
  return [...(leaf.options ?? []), ...program.options.filter((o) => GLOBAL_AFTER.has(o.long))];
}

/** The subcommands the next word may name, or null when it is an argument. */
function subcommands(program: ProgramSpec, s: State): readonly CommandSpec[] | null {
  const leaf = s.path[s.path.length - 1];
  if (s.npos > 0) return null;
  return leaf ? (leaf.subcommands ?? null) : program.commands;
}

function walk(program: ProgramSpec, words: readonly string[]): State {
  const s: State = { path: [], help: false, npos: 0, dashdash: false };
  for (const w of words) {
    if (s.pending) {
      if (w === '=') continue; // bash splits --codex-home=DIR into three words
      if (s.pending.long === 'codex-home') s.codexHome = w;
      delete s.pending;
      continue;
    }
    const leaf = s.path[s.path.length - 1];
    if (leaf?.passThrough && !s.help) {
      s.npos += 1;
      continue;
    }
    if (!s.dashdash && w.startsWith('-') && w !== '-') {
      if (w === '--') {
        // Before the command it ends the program's options; after it, options altogether.
        if (leaf) s.dashdash = true;
        continue;
      }
      const eq = w.indexOf('=');
      if (w.startsWith('--') && eq > 0) {
        if (w.slice(0, eq) === '--codex-home') s.codexHome = w.slice(eq + 1);
        continue;
      }
      const o = findOption(w, accepted(program, s));
      if (o?.value) s.pending = o;
      continue;
    }
    const subs = s.dashdash && leaf ? null : subcommands(program, s);
    if (subs) {
      const found = findCommand(subs, w);
      if (found && !found.hidden) {
        s.path.push(found);
        continue;
      }
      if (w === 'help' && !s.help) {
        s.help = true;
        continue;
      }
    }
    s.npos += 1;
  }
  return s;
}

function startingWith(list: readonly Candidate[], prefix: string): Candidate[] {
  return list.filter((c) => c.value.startsWith(prefix));
}

function values(kind: ValueKind | undefined, choices: readonly string[] | undefined, prefix: string, codexHome: string | undefined, accounts: AccountSource): Completion {
  if (choices) return { candidates: startingWith(choices.map((value) => ({ value })), prefix), directive: DIRECTIVE.noFiles | DIRECTIVE.keepOrder };
  if (kind === 'files') return { candidates: [], directive: DIRECTIVE.files };
  if (kind === 'dirs') return { candidates: [], directive: DIRECTIVE.dirs };
  if (kind === 'accounts') return { candidates: startingWith(((r) => accountCandidates(r.accounts, r.nextNumber))(accounts(codexHome)), prefix), directive: DIRECTIVE.noFiles | DIRECTIVE.keepOrder };
  return { candidates: [], directive: DIRECTIVE.noFiles };
}

/**
 * The candidates for the last of `words` (the words after the program name; the last is the one
 * being completed, "" for a new word), from the command table and, for account QUERY values, the
 * accounts `accounts` returns. Candidates start with that word; hidden commands are never offered.
 */
export function complete(program: ProgramSpec, words: readonly string[], accounts: AccountSource): Completion {
  const cur = words.length ? (words[words.length - 1] as string) : '';
  const s = walk(program, words.slice(0, -1));
  const home = s.codexHome;
  if (s.pending) return values(s.pending.complete, s.pending.choices, cur === '=' ? '' : cur, home, accounts);

  const leaf = s.path[s.path.length - 1];
  if (s.help) {
    const subs = leaf ? leaf.subcommands : program.commands;
    if (!subs || s.npos > 0) return { candidates: [], directive: DIRECTIVE.noFiles };
    return { candidates: startingWith(commandWords(subs).filter((c) => c.value !== 'help'), cur), directive: DIRECTIVE.noFiles };
  }
  if (leaf?.passThrough) {
    // `run`: Codex's own arguments, except a first -h/--help.
    if (s.npos === 0 && cur.startsWith('-')) return { candidates: startingWith(optionWords([HELP_OPTION]), cur), directive: DIRECTIVE.files };
    return { candidates: [], directive: DIRECTIVE.files };
  }
  if (!s.dashdash && cur.startsWith('-')) {
    const own = leaf ? [...(leaf.options ?? []), HELP_OPTION] : program.options;
    return { candidates: startingWith(optionWords(own), cur), directive: DIRECTIVE.noFiles };
  }
  const subs = s.dashdash && leaf ? null : subcommands(program, s);
  if (subs) return { candidates: startingWith(commandWords(subs), cur), directive: DIRECTIVE.noFiles };
  const args = leaf?.args ?? [];
  const last = args[args.length - 1];
  const arg = args[s.npos] ?? (last?.variadic ? last : undefined);
  if (!arg) return { candidates: [], directive: DIRECTIVE.noFiles };
  return values(arg.complete, arg.choices, cur, home, accounts);
}

/** `__complete`'s output: `value` or `value<TAB>description` lines, then the directive line `:N`. */
export function completionLines(c: Completion): string {
  const lines = c.candidates
    .filter((x) => PRINTABLE.test(x.value))
    .map((x) => {
      const d = x.description === undefined ? '' : describe(x.description);
      return d ? `${x.value}\t${d}` : x.value;
    });
  return `${[...lines, `:${c.directive}`].join('\n')}\n`;
}
