/**
 * `codex-auth completion bash|zsh|fish` prints a small script per shell, and the hidden
 * `codex-auth __complete WORDS...` answers it. The scripts know nothing of codex-auth's commands:
 * on each TAB they pass the words of the command line to `__complete`, which computes the candidates
 * from the command table (src/cli/complete.ts) and prints one per line (`value<TAB>description`),
 * then a directive line `:N` (src/cli/complete.ts DIRECTIVE: 1 error, 2 no space, 4 no file names,
 * 8 file names, 16 directory names, 32 keep the order). Account candidates come from the local
 * registry as it is on disk: no sync, no lock, no network, no keyring, nothing written.
 */
import type { Uses } from '../cli/app.js';
import { complete, completionLines, DIRECTIVE } from '../cli/complete.js';
import { type ProgramSpec, SHELLS } from '../cli/spec.js';
import { usageError } from '../errors.js';
import { resolvePaths } from '../store/paths.js';
import { peekAccounts } from '../store/registry-peek.js';

export type Shell = (typeof SHELLS)[number];

function header(shell: Shell, name: string, install: string[]): string {
  const lead = shell === 'zsh' ? `#compdef ${name}\n` : '';
  return `${lead}# ${shell} completion for ${name}, printed by \`${name} completion ${shell}\`.
${install.map((l, i) => `# ${i === 0 ? 'Install:' : '     or:'}  ${l}`).join('\n')}
# Dynamic: on each TAB, \`${name} __complete WORDS...\` prints the candidates for the last word (one
# per line, "value<TAB>description"), then a directive line ":N" whose bits say: 1 offer nothing,
# 2 no space after, 4 no file names, 8 file names, 16 directory names, 32 keep the order.
`;
}

function bashScript(name: string): string {
  return `${header('bash', name, [`${name} completion bash > ~/.local/share/bash-completion/completions/${name}`, `echo 'source <(${name} completion bash)' >> ~/.bashrc`])}
_codex_auth() {
  local cur=\${COMP_WORDS[COMP_CWORD]} line directive n i tab=$'\\t'
  local -a lines
  COMPREPLY=()
  while IFS= read -r line; do lines+=("$line"); done < <(command ${name} __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
  n=\${#lines[@]}
  (( n )) || return 0
  directive=\${lines[n - 1]}
  [[ $directive =~ ^:[0-9]+$ ]] || return 0
  directive=\${directive#:}
  (( directive & 1 )) && return 0
  # bash splits --opt=VALUE into three words: at "=", the value is empty.
  [[ $cur == = ]] && cur=
  for ((i = 0; i < n - 1; i++)); do
    line=\${lines[i]%%$tab*}
    [[ $line == *[!A-Za-z0-9._@+:,=%/-]* ]] && printf -v line '%q' "$line"
    COMPREPLY+=("$line")
  done
  if (( directive & 16 )); then
    compopt -o filenames 2>/dev/null
    while IFS= read -r line; do COMPREPLY+=("$line"); done < <(compgen -d -- "$cur")
  elif (( directive & 8 )); then
    compopt -o filenames 2>/dev/null
    while IFS= read -r line; do COMPREPLY+=("$line"); done < <(compgen -f -- "$cur")
  fi
  (( directive & 2 )) && compopt -o nospace 2>/dev/null
  (( directive & 32 )) && compopt -o nosort 2>/dev/null
  return 0
}

complete -F _codex_auth ${name}
`;
}

function zshScript(name: string): string {
  return `${header('zsh', name, [`${name} completion zsh > "\${fpath[1]}/_${name}"   (then start a new shell)`, `echo 'source <(${name} completion zsh)' >> ~/.zshrc   (after compinit)`])}
_codex_auth() {
  local line directive tab=$'\\t' ret=1
  local -a lines items opts
  # The words as typed, one level of quoting removed (never evaluated).
  lines=("\${(@f)$(command ${name} __complete "\${(@Q)words[2,CURRENT]}" 2>/dev/null)}")
  directive=\${lines[-1]}
  [[ $directive == :<-> ]] || return 1
  directive=\${directive#:}
  (( directive & 1 )) && return 1
  for line in "\${(@)lines[1,-2]}"; do
    [[ -n $line ]] || continue
    if [[ $line == *$tab* ]]; then items+=("\${\${line%%$tab*}//:/\\\\:}:\${line#*$tab}"); else items+=("\${line//:/\\\\:}"); fi
  done
  (( directive & 2 )) && opts+=(-S '')
  if (( \${#items} )); then
    if (( directive & 32 )); then _describe -V -t values 'value' items "\${opts[@]}" && ret=0
    else _describe -t values 'value' items "\${opts[@]}" && ret=0; fi
  fi
  if (( directive & 16 )); then _directories && ret=0
  elif (( directive & 8 )); then _files && ret=0
  fi
  return ret
}

if [[ "\${funcstack[1]}" == _${name} ]]; then
  _codex_auth "$@"
elif (( \${+functions[compdef]} )); then
  compdef _codex_auth ${name}
fi
`;
}

function fishScript(name: string): string {
  return `${header('fish', name, [`${name} completion fish > ~/.config/fish/completions/${name}.fish`, `${name} completion fish | source`])}
function __codex_auth_complete
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -l lines (command ${name} __complete $words[2..-1] $cur 2>/dev/null)
    string match -qr '^:[0-9]+$' -- "$lines[-1]"; or return
    set -l directive (string sub -s 2 -- $lines[-1])
    test (math "bitand($directive, 1)") -eq 0; or return
    test (count $lines) -gt 1; and printf '%s\\n' $lines[1..-2]
    if test (math "bitand($directive, 16)") -ne 0
        __fish_complete_directories $cur
    else if test (math "bitand($directive, 8)") -ne 0
        __fish_complete_path $cur
    end
end

complete -c ${name} -e
complete -c ${name} -f -a '(__codex_auth_complete)'
`;
}

export function completionScript(shell: Shell, program: ProgramSpec): string {
  return (shell === 'bash' ? bashScript : shell === 'zsh' ? zshScript : fishScript)(program.name);
}

/** `codex-auth completion SHELL`. */
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

/**
 * Hidden `codex-auth __complete WORDS...`: the candidates for the last word. It never fails and never
 * writes to stderr: on any error it prints only the directive `:1` (offer nothing), so a TAB never
 * shows an error.
 */
export function completeHandler(program: ProgramSpec): (app: Uses<'ctx' | 'env'>, args: { words: string[] }) => Promise<number> {
  return async (app, args) => {
    const words = args.words;
    const accounts = (codexHome: string | undefined) => {
      try {
        const flag = codexHome?.replace(/^~(?=\/|$)/, () => app.ctx.homedir);
        return peekAccounts(resolvePaths({ ...(flag !== undefined ? { codexHomeFlag: flag } : {}), env: app.env, homedir: app.ctx.homedir, cwd: app.ctx.cwd }).registry);
      } catch {
        return { accounts: [] };
      }
    };
    let out: string;
    try {
      out = completionLines(complete(program, words, accounts));
    } catch {
      out = `:${DIRECTIVE.error}\n`;
    }
    app.ctx.stdout.write(out);
    return 0;
  };
}
