/**
 * The command line, read against the command table with node's util.parseArgs: which command,
 * its arguments and options, or a request for help or the version. Usage errors are thrown as
 * UsageError with a one-line message (exit 2).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { GlobalOptions } from './app.js';
import { type CommandSpec, isNegation, optionFlags, optionKey, type OptionSpec, type ProgramSpec } from './spec.js';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type Parsed =
  | { kind: 'version' }
  /** Help for the program ([]) or for the command at the end of the path. */
  | { kind: 'help'; path: CommandSpec[] }
  /**
   * A command to run: `command` is its name as typed in full (`fallback enable`), `args` its
   * arguments by camel-cased name (a list for a variadic one), `opts` its options by key.
   */
  | { kind: 'run'; path: CommandSpec[]; command: string; args: Record<string, string | string[] | undefined>; opts: Record<string, string | boolean>; global: GlobalOptions };

/** `codex-args` → `codexArgs`: the key of an argument in the handler's `args`. */
export function argKey(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The program options a command line may also give after the command. */
const GLOBAL_AFTER = new Set(['codex-home', 'debug', 'help']);

export function findCommand(list: readonly CommandSpec[], name: string): CommandSpec | undefined {
  return list.find((c) => c.name === name || c.aliases?.includes(name));
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const here = row[j] as number;
      row[j] = Math.min(here + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = here;
    }
  }
  return row[b.length] as number;
}

function suggest(word: string, candidates: readonly string[]): string {
  const close = candidates.filter((c) => distance(word, c) <= Math.max(1, Math.floor(c.length * 0.4)));
  if (close.length === 0) return '';
  return close.length === 1 ? ` (Did you mean ${close[0]}?)` : ` (Did you mean one of ${close.join(', ')}?)`;
}

const visibleNames = (list: readonly CommandSpec[]) => list.filter((c) => !c.hidden).flatMap((c) => [c.name, ...(c.aliases ?? [])]);

function unknownCommand(word: string, list: readonly CommandSpec[]): UsageError {
  return new UsageError(`unknown command '${word}'${suggest(word, visibleNames(list))}`);
}

function unknownOption(flag: string, known: readonly OptionSpec[]): UsageError {
  return new UsageError(`unknown option '${flag}'${flag.startsWith('--') ? suggest(flag, known.map((o) => `--${o.long}`)) : ''}`);
}

/** The options a command accepts: its own, then the program's that may follow a command. */
function accepted(program: ProgramSpec, leaf: CommandSpec): OptionSpec[] {
  return [...(leaf.options ?? []), ...program.options.filter((o) => GLOBAL_AFTER.has(o.long))];
}

export function parseCommandLine(argv: readonly string[], program: ProgramSpec): Parsed {
  const global: GlobalOptions = { debug: false, json: false };
  const first = argv[0] === undefined ? undefined : findCommand(program.commands, argv[0]);
  if (first?.raw) return { kind: 'run', path: [first], command: first.name, args: Object.fromEntries((first.args ?? []).slice(0, 1).map((a) => [argKey(a.name), argv.slice(1)])), opts: {}, global };
  let help = false;
  let version = false;
  let i = 0;
  // The program's own options, before the command.
  for (; i < argv.length; i += 1) {
    const a = argv[i] as string;
    if (a === '--') {
      i += 1;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    if (a === '-h' || a === '--help') help = true;
    else if (a === '-V' || a === '--version') version = true;
    else if (a === '--debug') global.debug = true;
    else if (a === '--codex-home' || a.startsWith('--codex-home=')) {
      const v = a === '--codex-home' ? argv[(i += 1)] : a.slice('--codex-home='.length);
      if (v === undefined || v === '' || (a === '--codex-home' && v.startsWith('-'))) throw new UsageError("option '--codex-home <dir>' argument missing");
      global.codexHome = v;
    } else throw unknownOption(a, program.options);
  }
  if (version) return { kind: 'version' };
  const word = argv[i];
  if (help || word === undefined) return { kind: 'help', path: [] };

  if (word === 'help') return { kind: 'help', path: helpPath(argv.slice(i + 1), program) };
  const command = findCommand(program.commands, word);
  if (!command) throw unknownCommand(word, program.commands);
  const path = [command];
  i += 1;
  let leaf = command;
  if (command.subcommands) {
    const sub = argv[i];
    if (sub === undefined || sub === '-h' || sub === '--help') return { kind: 'help', path };
    if (sub === 'help') return { kind: 'help', path: [command, ...helpPath(argv.slice(i + 1), { ...program, commands: command.subcommands })] };
    const found = findCommand(command.subcommands, sub);
    if (!found) throw sub.startsWith('-') ? unknownOption(sub, []) : unknownCommand(sub, command.subcommands);
    leaf = found;
    path.push(found);
    i += 1;
  }

  const rest = argv.slice(i);
  if (leaf.passThrough) {
    if (rest[0] === '-h' || rest[0] === '--help') return { kind: 'help', path };
    const list = rest[0] === '--' ? rest.slice(1) : rest;
    return { kind: 'run', path, command: commandName(path), args: Object.fromEntries((leaf.args ?? []).slice(0, 1).map((a) => [argKey(a.name), list])), opts: {}, global };
  }

  const options = accepted(program, leaf);
  const config: ParseArgsConfig['options'] = {};
  for (const o of options) config[o.long] = { type: o.value ? 'string' : 'boolean', ...(o.short ? { short: o.short } : {}), multiple: false };
  // Not strict: the checks below give commander-style messages, and a value that starts with "-"
  // is refused instead of being read as the next option.
  const { tokens } = parseArgs({ args: rest, options: config, allowPositionals: true, strict: false, tokens: true });
  const values: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'positional') positionals.push(t.value);
    else if (t.kind === 'option') {
      const o = options.find((x) => x.long === t.name);
      if (!o) throw unknownOption(t.rawName, options);
      if (o.value) {
        if (t.value === undefined || t.value === '' || (!t.inlineValue && t.value.startsWith('-') && t.value !== '-')) {
          throw new UsageError(`option '${optionFlags(o)}' argument missing`);
        }
        values[o.long] = t.value;
      } else {
        if (t.value !== undefined) throw new UsageError(`option '${optionFlags(o)}' takes no value`);
        values[o.long] = true;
      }
    }
  }
  if (values.help === true) return { kind: 'help', path };
  if (values.debug === true) global.debug = true;
  if (typeof values['codex-home'] === 'string') global.codexHome = values['codex-home'];

  const opts: Record<string, string | boolean> = {};
  const own = leaf.options ?? [];
  for (const o of own) {
    if (isNegation(o)) {
      const positive = own.find((p) => p.long === o.long.slice(3) && !p.value);
      if (!positive) opts[optionKey(o)] = values[o.long] !== true;
      else if (values[o.long] === true && values[positive.long] === true) throw new UsageError(`use either --${positive.long} or --${o.long}, not both`);
      else if (values[o.long] === true) opts[optionKey(o)] = false;
      // A flag declared with its negation: set only when one of them is given.
    } else {
      const v = values[o.long];
      if (v !== undefined) opts[optionKey(o)] = v;
    }
  }
  global.json = opts.json === true;

  const specs = leaf.args ?? [];
  const variadic = specs.some((a) => a.variadic);
  const missing = specs.find((a, k) => a.required && positionals[k] === undefined);
  if (missing) throw new UsageError(`missing required argument '${missing.name}'`);
  if (!variadic && positionals.length > specs.length) {
    const n = specs.length;
    throw new UsageError(`too many arguments for '${leaf.name}'. Expected ${n} argument${n === 1 ? '' : 's'} but got ${positionals.length}.`);
  }
  const args = Object.fromEntries(specs.map((a, k) => [argKey(a.name), a.variadic ? positionals.slice(k) : positionals[k]]));
  return { kind: 'run', path, command: commandName(path), args, opts, global };
}

function commandName(path: readonly CommandSpec[]): string {
  return path.map((c) => c.name).join(' ');
}

/** `help [command [subcommand]]`. */
function helpPath(words: readonly string[], program: ProgramSpec): CommandSpec[] {
  const path: CommandSpec[] = [];
  let list = program.commands;
  for (const w of words) {
    const c = findCommand(list, w);
    if (!c) throw unknownCommand(w, list);
    path.push(c);
    if (!c.subcommands) break;
    list = c.subcommands;
  }
  return path;
}
