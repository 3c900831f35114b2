/**
 * The shape of codex-auth's command table (src/cli/commands.ts): every command, its arguments,
 * options, help and examples, declared once. Parsing (src/cli/parse.ts), `--help`
 * (src/cli/help.ts) and shell completion (src/commands/completion.ts) all come from it.
 */
import type { App } from './app.js';

/** A command's handler: its positional arguments in declared order, and its options. */
export type Handler = (app: App, args: unknown[], opts: Record<string, unknown>) => Promise<number>;

export interface ArgSpec {
  /** Shown as <name> (required) or [name] (optional), with `...` when variadic. */
  name: string;
  required?: boolean;
  variadic?: boolean;
  description: string;
}

export interface OptionSpec {
  /** The long flag without dashes: `refresh` is `--refresh`. A `no-` prefix declares a negation. */
  long: string;
  short?: string;
  /** The value's placeholder (`--alias <name>`); absent for a flag. */
  value?: string;
  description: string;
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
  load?: () => Promise<Handler>;
  hidden?: boolean;
  /**
   * Everything after the command name goes to the handler as one list, unparsed (`run`: Codex's
   * own arguments); only a leading -h/--help is ours. A first `--` is dropped.
   */
  passThrough?: boolean;
}

export interface ProgramSpec {
  name: string;
  description: string;
  /** Options of the program itself, accepted before or after the command. */
  options: readonly OptionSpec[];
  commands: readonly CommandSpec[];
  examples: readonly string[];
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
