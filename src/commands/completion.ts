/**
 * `codex-auth completion bash|zsh|fish`: a completion script generated from the command table
 * itself (commands, aliases, subcommands, options, arguments), so it cannot drift from the real CLI.
 *
 * The script embeds a small table, one record per line, fields separated by `|`:
 *   C|<parent path>|<name>|<path>|<description>     a subcommand (listed and resolved)
 *   H|<parent path>|<alias>|<path>|                 a command alias (resolved, not listed)
 *   O|<path>|<flag>|<value kind>|<description>      an option; value kind empty for a flag
 *   A|<path>|<value kind>|<1 if variadic>|<description>   positional arguments, in order
 * Paths are command names joined by spaces ('' is the program, 'fallback enable' a subcommand).
 * Value kinds: account, file, dir, command (the parent's subcommands), none, w:<a>,<b>,... (words).
 * A shell function per shell walks the words before the cursor through that table and offers
 * candidates. Account QUERY values come from the hidden `codex-auth __complete accounts`, which reads
 * the registry without syncing, locking or the network and prints `candidate<TAB>description` lines
 * (nothing at all on any error).
 */
import fs from 'node:fs';
import type { Uses } from '../cli/app.js';
import { type CommandSpec, type OptionSpec, type ProgramSpec } from '../cli/spec.js';
import { describeAccount } from '../domain/accounts.js';
import { numbered } from '../domain/view.js';
import { usageError } from '../errors.js';
import type { Account } from '../domain/types.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** What an argument or option value named like this completes to. */
const KIND_BY_NAME: Record<string, string> = {
  query: 'account',
  dir: 'dir',
  path: 'file',
  'codex-args': 'file',
  command: 'command',
  shell: `w:${SHELLS.join(',')}`,
};

function kindFor(name: string): string {
  return KIND_BY_NAME[name] ?? 'none';
}

function clean(text: string): string {
  return text.replace(/[|\t\r\n]+/g, ' ').trim();
}

function join(parent: string, name: string): string {
  return parent === '' ? name : `${parent} ${name}`;
}

const HELP_OPTION: OptionSpec = { long: 'help', short: 'h', description: 'show help' };

/** The table (see the top of this file) for the command table. */
export function completionTable(program: ProgramSpec): string[] {
  const rows: string[] = [];
  const options = (at: string, list: readonly OptionSpec[]): void => {
    for (const o of list) {
      const kind = o.value ? kindFor(o.value) : '';
      for (const flag of [o.short ? `-${o.short}` : null, `--${o.long}`]) if (flag) rows.push(`O|${at}|${flag}|${kind}|${clean(o.description)}`);
    }
  };
  const commands = (at: string, list: readonly CommandSpec[]): void => {
    for (const c of list.filter((x) => !x.hidden)) {
      const p = join(at, c.name);
      rows.push(`C|${at}|${c.name}|${p}|${clean(c.description)}`);
      for (const alias of c.aliases ?? []) rows.push(`H|${at}|${alias}|${p}|`);
      walk(c, p);
    }
    // `help [command]`, as --help lists it.
    const p = join(at, 'help');
    rows.push(`C|${at}|help|${p}|display help for command`);
    rows.push(`A|${p}|command|0|the command`);
  };
  const walk = (c: CommandSpec, at: string): void => {
    options(at, [...(c.options ?? []), HELP_OPTION]);
    for (const a of c.args ?? []) rows.push(`A|${at}|${kindFor(a.name)}|${a.variadic ? 1 : 0}|${clean(a.description)}`);
    if (c.subcommands) commands(at, c.subcommands);
  };
  options('', program.options);
  commands('', program.commands);
  return rows;
}

const sh = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
const fishq = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export function completionScript(shell: Shell, program: ProgramSpec): string {
  const rows = completionTable(program);
  const name = program.name;
  if (shell === 'fish') return fishScript(name, rows);
  return (shell === 'bash' ? bashScript : zshScript)(name, rows.join('\n'));
}

// ---------------------------------------------------------------------------------------------
// bash and zsh share the table lookups and the walk over the words before the cursor. The walk
// sets, in the caller's scope: _ca_cmd (command path), _ca_npos (index of the positional argument
// at the cursor), _ca_expect (value kind when the cursor is on an option's value), _ca_dd (after
// --) and _ca_home (--codex-home DIR, passed on to `__complete`).

const SHARED = `
# REPLY := the path of subcommand $2 of command path $1; fails when there is none.
_codex_auth_sub() {
  local t p n c d
  while IFS='|' read -r t p n c d; do
    if [[ ( $t == C || $t == H ) && $p == "$1" && $n == "$2" ]]; then REPLY=$c; return 0; fi
  done <<<"$_codex_auth_spec"
  return 1
}

# REPLY := the value kind of option $2 of command path $1 (else of the program); '' for a flag.
_codex_auth_opt() {
  local t p n k d found=
  while IFS='|' read -r t p n k d; do
    [[ $t == O && $n == "$2" ]] || continue
    if [[ $p == "$1" ]]; then REPLY=$k; return 0; fi
    if [[ -z $p ]]; then REPLY=$k; found=1; fi
  done <<<"$_codex_auth_spec"
  [[ -n $found ]]
}

# REPLY := the value kind of positional argument $2 (from 0) of command path $1; fails when none.
_codex_auth_arg() {
  local t p k v d i=0
  while IFS='|' read -r t p k v d; do
    [[ $t == A && $p == "$1" ]] || continue
    if [[ $i == "$2" || $v == 1 ]]; then REPLY=$k; return 0; fi
    i=$((i + 1))
  done <<<"$_codex_auth_spec"
  return 1
}

# Succeeds when command path $1 has subcommands.
_codex_auth_has_subs() {
  local t p rest
  while IFS='|' read -r t p rest; do
    [[ $t == C && $p == "$1" ]] && return 0
  done <<<"$_codex_auth_spec"
  return 1
}

# REPLY := $1 with a leading ~ expanded (the shell has not expanded words before the cursor).
_codex_auth_expand_home() {
  case $1 in
    '~') REPLY=$HOME ;;
    '~/'*) REPLY=$HOME/\${1#'~/'} ;;
    *) REPLY=$1 ;;
  esac
}

# Walk _ca_words from index $1 (the first word after the program name) up to the cursor.
_codex_auth_walk() {
  local i w ekind=
  _ca_cmd= _ca_npos=0 _ca_expect= _ca_dd=0 _ca_home=()
  for ((i = $1; i < _ca_cword; i++)); do
    w=\${_ca_words[i]}
    if [[ -n $ekind ]]; then
      [[ $w == = ]] && continue
      if [[ $_ca_optname == --codex-home ]]; then _codex_auth_expand_home "$w"; _ca_home=(--codex-home "$REPLY"); fi
      ekind=
      continue
    fi
    if (( ! _ca_dd )) && [[ $w == -?* ]]; then
      if [[ $w == -- ]]; then
        _ca_dd=1
      elif [[ $w == --*=* ]]; then
        if [[ \${w%%=*} == --codex-home ]]; then _codex_auth_expand_home "\${w#*=}"; _ca_home=(--codex-home "$REPLY"); fi
      elif _codex_auth_opt "$_ca_cmd" "$w" && [[ -n $REPLY ]]; then
        ekind=$REPLY _ca_optname=$w
      fi
      continue
    fi
    if (( _ca_npos == 0 )) && _codex_auth_sub "$_ca_cmd" "$w"; then _ca_cmd=$REPLY; continue; fi
    _ca_npos=$((_ca_npos + 1))
  done
  _ca_expect=$ekind
}

# Complete the word at the cursor ($cur) from the walk's results.
_codex_auth_dispatch() {
  if [[ -n $_ca_expect ]]; then
    _codex_auth_values "$_ca_expect" "$_ca_cmd"
  elif (( ! _ca_dd )) && [[ $cur == -* ]]; then
    _codex_auth_list O "$_ca_cmd"
  elif (( _ca_npos == 0 )) && _codex_auth_has_subs "$_ca_cmd"; then
    _codex_auth_list C "$_ca_cmd"
  elif _codex_auth_arg "$_ca_cmd" "$_ca_npos"; then
    _codex_auth_values "$REPLY" "$_ca_cmd"
  fi
  return 0
}
`;

function header(shell: Shell, name: string, install: string[]): string {
  const lead = shell === 'zsh' ? `#compdef ${name}\n` : '';
  return `${lead}# ${shell} completion for ${name}, generated by \`${name} completion ${shell}\` from the CLI's own
# definitions: regenerate it after upgrading ${name}.
${install.map((l, i) => `# ${i === 0 ? 'Install:' : '     or:'}  ${l}`).join('\n')}
# Account names and numbers come from \`${name} __complete accounts\` (the local registry only).
`;
}

function bashScript(name: string, spec: string): string {
  return `${header('bash', name, [`${name} completion bash > ~/.local/share/bash-completion/completions/${name}`, `echo 'source <(${name} completion bash)' >> ~/.bashrc`])}
_codex_auth_spec=${sh(spec)}
${SHARED}
# Add the entries of type $1 (C or O) of command path $2 that start with $cur.
_codex_auth_list() {
  local t p n rest
  while IFS='|' read -r t p n rest; do
    [[ $t == "$1" && $p == "$2" && $n == "$cur"* ]] && COMPREPLY+=("$n")
  done <<<"$_codex_auth_spec"
}

_codex_auth_compgen() {
  local x
  while IFS= read -r x; do COMPREPLY+=("$x"); done < <(compgen "$@" -- "$cur")
}

_codex_auth_accounts() {
  local line tab=$'\\t'
  while IFS= read -r line; do
    line=\${line%%$tab*}
    [[ -n $line && $line == "$cur"* ]] || continue
    [[ $line == *[!A-Za-z0-9._@+:,=%/-]* ]] && printf -v line '%q' "$line"
    COMPREPLY+=("$line")
  done < <(command ${name} "\${_ca_home[@]}" __complete accounts 2>/dev/null)
}

# Offer the values of kind $1 for command path $2.
_codex_auth_values() {
  local w
  case $1 in
    account) _codex_auth_accounts ;;
    dir) compopt -o filenames 2>/dev/null; _codex_auth_compgen -d ;;
    file) compopt -o filenames 2>/dev/null; _codex_auth_compgen -f ;;
    command) if [[ $2 == *' '* ]]; then _codex_auth_list C "\${2% *}"; else _codex_auth_list C ''; fi ;;
    w:*) local IFS=,; for w in \${1#w:}; do [[ $w == "$cur"* ]] && COMPREPLY+=("$w"); done ;;
  esac
}

_codex_auth() {
  local cur=\${COMP_WORDS[COMP_CWORD]} REPLY _ca_cmd _ca_npos _ca_expect _ca_dd _ca_optname _ca_cword=$COMP_CWORD
  local -a _ca_home _ca_words=("\${COMP_WORDS[@]}")
  COMPREPLY=()
  _codex_auth_walk 1
  [[ -n $_ca_expect && $cur == = ]] && cur=
  _codex_auth_dispatch
}

complete -F _codex_auth ${name}
`;
}

function zshScript(name: string, spec: string): string {
  return `${header('zsh', name, [`${name} completion zsh > "\${fpath[1]}/_${name}"   (then start a new shell)`, `echo 'source <(${name} completion zsh)' >> ~/.zshrc   (after compinit)`])}
_codex_auth_spec=${sh(spec)}
${SHARED}
# Describe the entries of type $1 (C or O) of command path $2.
_codex_auth_list() {
  local t p n c d
  local -a items
  while IFS='|' read -r t p n c d; do
    [[ $t == "$1" && $p == "$2" ]] && items+=("\${n//:/\\\\:}:$d")
  done <<<"$_codex_auth_spec"
  if [[ $1 == C ]]; then _describe -t commands 'command' items; else _describe -t options 'option' items; fi
}

_codex_auth_accounts() {
  local line value tab=$'\\t'
  local -a items
  while IFS= read -r line; do
    value=\${line%%$tab*}
    [[ -n $value ]] && items+=("\${value//:/\\\\:}:\${line#*$tab}")
  done < <(command ${name} "\${_ca_home[@]}" __complete accounts 2>/dev/null)
  (( \${#items} )) && _describe -t accounts 'account' items
}

# Offer the values of kind $1 for command path $2.
_codex_auth_values() {
  case $1 in
    account) _codex_auth_accounts ;;
    dir) _directories ;;
    file) _files ;;
    command) if [[ $2 == *' '* ]]; then _codex_auth_list C "\${2% *}"; else _codex_auth_list C ''; fi ;;
    w:*) compadd -- \${(s:,:)\${1#w:}} ;;
  esac
}

_codex_auth() {
  local cur=\${words[CURRENT]} REPLY _ca_cmd _ca_npos _ca_expect _ca_dd _ca_optname _ca_cword=$CURRENT
  local -a _ca_home _ca_words
  _ca_words=("\${(@)words}")
  _codex_auth_walk 2
  _codex_auth_dispatch
}

if [[ "\${funcstack[1]}" == _${name} ]]; then
  _codex_auth "$@"
elif (( \${+functions[compdef]} )); then
  compdef _codex_auth ${name}
fi
`;
}

function fishScript(name: string, rows: string[]): string {
  return `${header('fish', name, [`${name} completion fish > ~/.config/fish/completions/${name}.fish`, `${name} completion fish | source`])}
set -g __codex_auth_spec \\
    ${rows.map(fishq).join(' \\\n    ')}

# The path of subcommand $word of command path $cmd; fails when there is none.
function __codex_auth_sub --argument-names cmd word
    for row in $__codex_auth_spec
        set -l f (string split '|' -- $row)
        if contains -- $f[1] C H; and test "$f[2]" = "$cmd"; and test "$f[3]" = "$word"
            echo $f[4]
            return 0
        end
    end
    return 1
end

# The value kind of option $flag of command path $cmd (else of the program); empty for a flag.
function __codex_auth_opt --argument-names cmd flag
    set -l found
    for row in $__codex_auth_spec
        set -l f (string split '|' -- $row)
        test "$f[1]" = O; and test "$f[3]" = "$flag"; or continue
        if test "$f[2]" = "$cmd"
            echo $f[4]
            return 0
        end
        test -z "$f[2]"; and set found $f[4] 1
    end
    test -n "$found[-1]"; or return 1
    echo $found[1]
end

# The value kind of positional argument $n (from 0) of command path $cmd; fails when none.
function __codex_auth_arg --argument-names cmd n
    set -l i 0
    for row in $__codex_auth_spec
        set -l f (string split '|' -- $row)
        test "$f[1]" = A; and test "$f[2]" = "$cmd"; or continue
        if test $i = $n; or test "$f[4]" = 1
            echo $f[3]
            return 0
        end
        set i (math $i + 1)
    end
    return 1
end

# Entries of type $type (C or O) of command path $cmd, as value<TAB>description.
function __codex_auth_list --argument-names type cmd
    for row in $__codex_auth_spec
        set -l f (string split '|' -- $row)
        test "$f[1]" = $type; and test "$f[2]" = "$cmd"; and printf '%s\\t%s\\n' $f[3] $f[5]
    end
end

# Values of kind $kind for command path $cmd; the rest of argv is --codex-home DIR, if any.
function __codex_auth_values --argument-names kind cmd cur
    switch $kind
        case account
            command ${name} $argv[4..-1] __complete accounts 2>/dev/null
        case dir
            __fish_complete_directories $cur
        case file
            __fish_complete_path $cur
        case command
            set -l parent (string replace -r ' ?[^ ]*$' '' -- $cmd)
            __codex_auth_list C "$parent"
        case 'w:*'
            string split , -- (string replace 'w:' '' -- $kind)
    end
end

function __codex_auth_complete
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -l cmd ''
    set -l npos 0
    set -l ekind ''
    set -l optname ''
    set -l dd 0
    set -l home
    set -l r
    for w in $words[2..-1]
        if test -n "$ekind"
            test "$optname" = --codex-home; and set home --codex-home (string replace -r '^~(?=/|$)' $HOME -- $w)
            set ekind ''
            continue
        end
        if test $dd = 0; and string match -q -- '-?*' $w
            if test "$w" = --
                set dd 1
            else if string match -q -- '--codex-home=*' $w
                set home --codex-home (string replace -r '^~(?=/|$)' $HOME -- (string replace -- '--codex-home=' '' $w))
            else if not string match -q -- '--*=*' $w; and set r (__codex_auth_opt "$cmd" $w); and test -n "$r"
                set ekind $r
                set optname $w
            end
            continue
        end
        if test $npos = 0; and set r (__codex_auth_sub "$cmd" $w)
            set cmd $r
            continue
        end
        set npos (math $npos + 1)
    end
    if test -n "$ekind"
        __codex_auth_values $ekind "$cmd" "$cur" $home
    else if test $dd = 0; and string match -q -- '-*' $cur
        __codex_auth_list O "$cmd"
    else if test $npos = 0; and __codex_auth_list C "$cmd" | string length -q
        __codex_auth_list C "$cmd"
    else if set r (__codex_auth_arg "$cmd" $npos)
        __codex_auth_values $r "$cmd" "$cur" $home
    end
end

complete -c ${name} -e
complete -c ${name} -f -a '(__codex_auth_complete)'
`;
}

// ---------------------------------------------------------------------------------------------
// Commands

/** `codex-auth completion SHELL`, bound to the command table it describes. */
export function completionHandler(program: ProgramSpec): (app: Uses<'ctx'>, args: { shell: string }) => Promise<number> {
  return async (app, args) => {
    const shell = args.shell;
    if (!(SHELLS as readonly string[]).includes(shell)) {
      throw usageError('unknown_shell', `Unknown shell "${shell}": codex-auth completion supports ${SHELLS.join(', ')}.`);
    }
    app.ctx.stdout.write(completionScript(shell as Shell, program));
    return 0;
  };
}

/** Lenient: whatever looks like an account is offered; anything odd yields no candidates. */
function accountsFromRegistry(text: string): Account[] {
  const doc: unknown = JSON.parse(text);
  if (typeof doc !== 'object' || doc === null) return [];
  const list = (doc as { accounts?: unknown }).accounts;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (a): a is Account =>
      typeof a === 'object' && a !== null && typeof (a as Account).id === 'string' && ((a as Account).kind === 'chatgpt' || (a as Account).kind === 'apikey'),
  );
}

/** No control or bidi character (src/domain/display.ts): a candidate is typed into the command line as it is. */
const PRINTABLE = /^[^\p{Cc}\p{Bidi_Control}]+$/u;

/** Candidates for an account QUERY: aliases, emails, row numbers, as `value<TAB>description`. */
export function accountCandidates(accounts: readonly Account[]): string[] {
  const list = numbered(accounts);
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (value: string | null | undefined, description: string): void => {
    if (!value || !PRINTABLE.test(value) || value.startsWith('-') || seen.has(value.toLowerCase())) return;
    seen.add(value.toLowerCase());
    out.push(`${value}\t${description.replace(/[\p{Cc}\p{Bidi_Control}]+/gu, ' ')}`);
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

/**
 * Hidden `codex-auth __complete KIND` for the completion scripts: one candidate per line. It reads
 * the registry as it is (no sync, no lock, no network, nothing written) and prints nothing at all
 * when anything goes wrong, so a TAB never shows an error.
 */
export async function completeCommand(app: Uses<'ctx' | 'paths'>, args: { kind: string }): Promise<number> {
  try {
    if (args.kind !== 'accounts') return 0;
    const lines = accountCandidates(accountsFromRegistry(fs.readFileSync(app.paths.registry, 'utf8')));
    if (lines.length) app.ctx.stdout.write(`${lines.join('\n')}\n`);
  } catch {
    /* no candidates */
  }
  return 0;
}
