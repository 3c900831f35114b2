/**
 * The shape of codex-auth's command table (src/cli/commands.ts): every command, its arguments,
 * options, help and examples, the dependencies its handler needs, declared once. Parsing
 * (src/cli/parse.ts), `--help` (src/cli/help.ts) and shell completion (src/cli/complete.ts)
 * all come from it; the types of a handler's arguments and options are derived from it
 * (defineCommand), and its first parameter has only the factory fields the entry lists in `needs`.
 */
import type { Need, Uses } from './app.js';

/**
 * A command's handler: the factory fields it declared (and only those, at run time too), its
 * arguments by name, and its options.
 */
export type Handler<A = Record<string, unknown>, O = Record<string, unknown>, N extends Need = Need> = (app: Uses<N>, args: A, opts: O) => Promise<number>;

/** Any handler, as the table stores it (program.ts calls it with what the entry declared). */
export type RawHandler = (app: never, args: never, opts: never) => Promise<number>;

/** `switch-back` → `switchBack`. */
type Camel<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;
/** The key an option sets: `--no-rotate` → `rotate`. */
type OptionKey<L extends string> = Camel<L extends `no-${infer R}` ? R : L>;

/** The long flags of these option specs. */
type Longs<O extends readonly OptionSpec[]> = O[number]['long'];

/**
 * The options object a handler gets for these option specs: strings for valued options, booleans for
 * flags; a lone negation (`--no-rotate`) is always set (true unless given), while a flag declared with
 * its negation (`--rotate` and `--no-rotate`) is true, false, or absent when neither is given.
 */
export type OptionsOf<O extends readonly OptionSpec[]> = {
  [K in O[number] as K['long'] extends `no-${string}` ? never : OptionKey<K['long']>]?: K extends { value: string } ? string : boolean;
} & {
  [K in O[number] as K['long'] extends `no-${infer R}` ? (R extends Longs<O> ? never : OptionKey<K['long']>) : never]: boolean;
};

/** The arguments object a handler gets: by camel-cased name; a list when variadic (possibly empty), else a string (undefined when optional and absent). */
export type ArgsOf<A extends readonly ArgSpec[]> = {
  [K in A[number] as K['variadic'] extends true ? Camel<K['name']> : K['required'] extends true ? Camel<K['name']> : never]: K['variadic'] extends true ? string[] : string;
} & {
  [K in A[number] as K['variadic'] extends true ? never : K['required'] extends true ? never : Camel<K['name']>]?: string;
};

/** The shells `completion` writes scripts for. */
export const SHELLS = ['bash', 'zsh', 'fish'] as const;

/** What shell completion offers for a value: accounts of the registry, file names, directory names. */
export type ValueKind = 'accounts' | 'files' | 'dirs';

export interface ArgSpec {
  /** Shown as <name> (required) or [name] (optional), with `...` when variadic. */
  name: string;
  required?: boolean;
  variadic?: boolean;
  description: string;
  /** What completion offers for it (nothing when absent, besides `choices`). */
  complete?: ValueKind;
  /** The only values it takes, offered by completion. */
  choices?: readonly string[];
}

export interface OptionSpec {
  /**
   * The long flag without dashes: `refresh` is `--refresh`. A `no-` prefix declares a negation: alone,
   * its key is always set (true unless the negation is given); declared beside the flag it negates
   * (`rotate` and `no-rotate`), the key is set only when one of the two is given.
   */
  long: string;
  short?: string;
  /** The value's placeholder (`--alias <name>`); absent for a flag. */
  value?: string;
  description: string;
  /** What completion offers for the value. */
  complete?: ValueKind;
  choices?: readonly string[];
}

export interface CommandSpec {
  name: string;
  aliases?: readonly string[];
  description: string;
  args?: readonly ArgSpec[];
  options?: readonly OptionSpec[];
  examples?: readonly string[];
  /** Subcommands (`fallback enable`); a command with subcommands has no handler of its own. */
  subcommands?: readonly CommandSpec[];
  /** Loaded only when the command runs. */
  load?: () => Promise<RawHandler>;
  /** The factory fields (src/cli/app.ts) the handler gets; nothing else is reachable from it. */
  needs?: readonly Need[];
  hidden?: boolean;
  /**
   * Everything after the command name goes to the handler as one list, unparsed (`run`: Codex's
   * own arguments); only a leading -h/--help is ours. A first `--` is dropped.
   */
  passThrough?: boolean;
  /** Every word after the command name goes to the handler as it is, even `--help` and `--` (`__complete`). */
  raw?: boolean;
}

export interface ProgramSpec {
  name: string;
  description: string;
  /** Options of the program itself, accepted before or after the command. */
  options: readonly OptionSpec[];
  commands: readonly CommandSpec[];
  examples: readonly string[];
}

/**
 * A table entry whose handler is type-checked against it: the handler must accept the arguments and
 * options this entry parses into (ArgsOf, OptionsOf) and ask for no factory field beyond `needs`.
 */
export function defineCommand<const A extends readonly ArgSpec[] = [], const O extends readonly OptionSpec[] = [], const N extends readonly Need[] = []>(
  spec: Omit<CommandSpec, 'args' | 'options' | 'needs' | 'load' | 'subcommands'> & {
    args?: A;
    options?: O;
    needs: N;
    load: () => Promise<Handler<ArgsOf<A>, OptionsOf<O>, N[number]>>;
  },
): CommandSpec {
  return spec as unknown as CommandSpec;
}

/** The option key a flag sets: `--switch-back` → `switchBack`, `--no-rotate` → `rotate`. */
export function optionKey(o: OptionSpec): string {
  const base = o.long.startsWith('no-') ? o.long.slice(3) : o.long;
  return base.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

export function isNegation(o: OptionSpec): boolean {
  return o.long.startsWith('no-');
}

/** `--alias <name>`, `-r, --recursive`. */
export function optionFlags(o: OptionSpec): string {
  return `${o.short ? `-${o.short}, ` : ''}--${o.long}${o.value ? ` <${o.value}>` : ''}`;
}

export function argUsage(a: ArgSpec): string {
  const inner = `${a.name}${a.variadic ? '...' : ''}`;
  return a.required ? `<${inner}>` : `[${inner}]`;
}
