/** `--help` text, from the command table: usage, description, options, commands, examples. */
import { argUsage, type CommandSpec, optionFlags, type OptionSpec, type ProgramSpec } from './spec.js';

const HELP: OptionSpec = { long: 'help', short: 'h', description: 'show help' };
const HELP_COMMAND = { term: 'help [command]', description: 'display help for command' };

/** Words of `text` in lines of at most `width` characters (a longer word keeps its own line). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const w of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  return line ? [...lines, line] : [''];
}

/** Two columns: terms padded to the widest, descriptions wrapped beside them. */
function columns(rows: readonly { term: string; description: string }[], width: number): string[] {
  const termWidth = Math.max(...rows.map((r) => r.term.length));
  const descWidth = Math.max(20, width - termWidth - 4);
  return rows.flatMap((r) => {
    const [first = '', ...more] = wrap(r.description, descWidth);
    return [`  ${r.term.padEnd(termWidth)}  ${first}`.trimEnd(), ...more.map((l) => `${' '.repeat(termWidth + 4)}${l}`)];
  });
}

function commandTerm(c: CommandSpec): string {
  const name = [c.name, ...(c.aliases ?? [])].join('|');
  if (c.subcommands) return name;
  const parts = [name];
  if (c.options?.length) parts.push('[options]');
  for (const a of c.args ?? []) parts.push(argUsage(a));
  return parts.join(' ');
}

function section(title: string, lines: readonly string[]): string {
  return lines.length ? `${title}:\n${lines.join('\n')}\n` : '';
}

export function renderHelp(program: ProgramSpec, path: readonly CommandSpec[], width = 80): string {
  const leaf = path[path.length - 1];
  const parts: string[] = [];
  if (!leaf) {
    parts.push(`Usage: ${program.name} [options] [command]\n`, `${program.description}\n`);
    parts.push(section('Options', columns(program.options.map((o) => ({ term: optionFlags(o), description: o.description })), width)));
    const cmds = program.commands.filter((c) => !c.hidden).map((c) => ({ term: commandTerm(c), description: c.description }));
    parts.push(section('Commands', columns([...cmds, HELP_COMMAND], width)));
    parts.push(examples(program.examples));
    return parts.filter(Boolean).join('\n');
  }
  const parents = [program.name, ...path.slice(0, -1).map((c) => c.name)].join(' ');
  const name = [leaf.name, ...(leaf.aliases ?? [])].join('|');
  const usage = leaf.subcommands ? [name, '[options]', '[command]'] : [name, ...(leaf.options?.length ? ['[options]'] : []), ...(leaf.args ?? []).map(argUsage)];
  parts.push(`Usage: ${parents} ${usage.join(' ')}\n`, `${leaf.description}\n`);
  if (leaf.args?.length) parts.push(section('Arguments', columns(leaf.args.map((a) => ({ term: a.name, description: a.description })), width)));
  const help = leaf.passThrough ? { ...HELP, description: `show this help (only as the first word after ${leaf.name}; ${program.name} ${leaf.name} -- --help shows codex's)` } : HELP;
  parts.push(section('Options', columns([...(leaf.options ?? []), help].map((o) => ({ term: optionFlags(o), description: o.description })), width)));
  if (leaf.subcommands) {
    const cmds = leaf.subcommands.filter((c) => !c.hidden).map((c) => ({ term: commandTerm(c), description: c.description }));
    parts.push(section('Commands', columns([...cmds, HELP_COMMAND], width)));
  }
  parts.push(examples(leaf.examples ?? []));
  return parts.filter(Boolean).join('\n');
}

function examples(lines: readonly string[]): string {
  return lines.length ? `Examples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n` : '';
}
