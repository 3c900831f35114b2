/**
 * Every command of codex-auth, declared once: arguments, options, help, examples, and the handler,
 * loaded only when its command runs, and the factory fields it needs. To add a command: a handler in
 * src/commands/<name>.ts and a defineCommand entry here; parsing, --help and shell completion follow
 * from the entry, and tsc checks the handler against it (README "Architecture").
 */
import { SERVICES } from './app.js';
import { type CommandSpec, defineCommand, type OptionSpec, type ProgramSpec, SHELLS } from './spec.js';

const json = { long: 'json', description: 'print one JSON document' } as const satisfies OptionSpec;

const commands: CommandSpec[] = [
  defineCommand({
    name: 'list',
    aliases: ['ls'],
    description: 'show every account: plan, usage left in the 5-hour and weekly windows, last activity',
    options: [{ long: 'refresh', description: 'fetch current usage of every ChatGPT account' }, json],
    examples: ['codex-auth list', 'codex-auth list --refresh', 'codex-auth list --json | jq .accounts[].email'],
    needs: [...SERVICES, 'ctx', 'out'],
    load: async () => (await import('../commands/list.js')).listCommand,
  }),
  defineCommand({
    name: 'import',
    description: "import Codex auth.json files (ChatGPT or API key); no PATH: Codex's current login",
    args: [{ name: 'path', variadic: true, description: 'auth.json files or directories of them', complete: 'files' }],
    options: [
      { long: 'alias', value: 'name', description: 'name the imported account (one file only)' },
      { long: 'recursive', short: 'r', description: 'search directories recursively' },
      json,
    ],
    examples: ['codex-auth import', 'codex-auth import ~/old-laptop/auth.json --alias laptop', 'codex-auth import -r ~/backups/codex'],
    needs: [...SERVICES, 'ctx', 'out'],
    load: async () => (await import('../commands/import.js')).importCommand,
  }),
  defineCommand({
    name: 'login',
    description: 'log in to another account with the real "codex login" (your current login stays active)',
    options: [
      { long: 'device-auth', description: 'log in with a device code (for machines without a browser)' },
      { long: 'with-api-key', description: 'read an API key from standard input' },
      { long: 'alias', value: 'name', description: 'name the new account' },
      json,
    ],
    examples: ['codex-auth login', 'codex-auth login --device-auth --alias work', 'printenv OPENAI_API_KEY | codex-auth login --with-api-key'],
    needs: [...SERVICES, 'ctx', 'out'],
    load: async () => (await import('../commands/login.js')).loginCommand,
  }),
  defineCommand({
    name: 'add-api-key',
    description: 'store an OpenAI API key in the OS keyring and add it as an account',
    args: [{ name: 'key', description: 'the key, or "-" to read it from standard input (default: a hidden prompt)' }],
    options: [
      { long: 'alias', value: 'name', description: 'name the account' },
      { long: 'no-fallback', description: 'do not make it the fallback key' },
      { long: 'insecure-storage', description: 'store it in a 0600 file instead of the OS keyring' },
      { long: 'skip-verify', description: 'store it even when OpenAI cannot be reached to verify it' },
      json,
    ],
    examples: ['codex-auth add-api-key', 'printenv OPENAI_API_KEY | codex-auth add-api-key - --alias billing', 'codex-auth add-api-key --insecure-storage   # no keyring on this machine'],
    needs: [...SERVICES, 'ctx', 'out'],
    load: async () => (await import('../commands/add-api-key.js')).addApiKeyCommand,
  }),
  defineCommand({
    name: 'switch',
    description: 'make an account the one Codex uses',
    args: [{ name: 'query', description: 'row number, alias, email, or a unique fragment; "-" for the previous account', complete: 'accounts' }],
    options: [{ long: 'force', description: 'switch even to an account marked [login required] (it needs a new login: codex-auth login)' }, json],
    examples: ['codex-auth switch 2', 'codex-auth switch work', 'codex-auth switch alice@example.com', 'codex-auth switch -', 'codex-auth switch   # pick interactively'],
    needs: [...SERVICES, 'ctx', 'out'],
    load: async () => (await import('../commands/switch.js')).switchCommand,
  }),
  defineCommand({
    name: 'remove',
    aliases: ['rm'],
    description: "forget accounts and delete their stored secrets (Codex's live login is left alone)",
    args: [{ name: 'query', required: true, variadic: true, description: 'accounts to remove', complete: 'accounts' }],
    options: [{ long: 'yes', short: 'y', description: 'do not ask for confirmation (required without a terminal)' }, json],
    examples: ['codex-auth remove 3', 'codex-auth remove old-laptop alice@example.com --yes'],
    needs: [...SERVICES, 'ctx', 'out'],
    load: async () => (await import('../commands/remove.js')).removeCommand,
  }),
  defineCommand({
    name: 'alias',
    description: 'name an account, or clear its name',
    args: [
      { name: 'query', required: true, description: 'the account', complete: 'accounts' },
      { name: 'name', description: 'the new alias' },
    ],
    options: [{ long: 'clear', description: 'remove the alias' }, json],
    examples: ['codex-auth alias 2 work', 'codex-auth alias alice@example.com personal', 'codex-auth alias work --clear'],
    needs: [...SERVICES, 'out'],
    load: async () => (await import('../commands/alias.js')).aliasCommand,
  }),
  defineCommand({
    name: 'refresh',
    description: 'refresh OAuth tokens that expire within 5 minutes (all with --force)',
    args: [{ name: 'query', description: 'only this account', complete: 'accounts' }],
    options: [{ long: 'force', description: 'refresh even tokens that are still valid' }, json],
    examples: ['codex-auth refresh', 'codex-auth refresh work --force'],
    needs: [...SERVICES, 'out'],
    load: async () => (await import('../commands/refresh.js')).refreshCommand,
  }),
  defineCommand({
    name: 'watch',
    description: 'apply the fallback policy: a foreground loop, a single evaluation (--once), or a per-user service',
    options: [
      { long: 'once', description: 'evaluate once and exit (for cron, shell hooks, Codex notify)' },
      { long: 'interval', value: 'sec', description: 'seconds between usage checks (default 60)' },
      { long: 'install-service', description: 'install a systemd user unit (Linux) or LaunchAgent (macOS) running watch' },
      { long: 'uninstall-service', description: 'remove that service' },
      { long: 'json', description: 'JSON lines, one per event' },
    ],
    examples: ['codex-auth watch', 'codex-auth watch --once', 'codex-auth watch --interval 120 --json', 'codex-auth watch --install-service'],
    needs: [...SERVICES, 'ctx', 'opts', 'out'],
    load: async () => (await import('../commands/watch.js')).watchCommand,
  }),
  defineCommand({
    name: 'run',
    description: 'run codex; when it hits the usage limit, switch by the fallback policy and carry on',
    args: [{ name: 'codex-args', variadic: true, description: 'arguments for codex (put them after -- to be safe)', complete: 'files' }],
    passThrough: true,
    examples: ['codex-auth run', 'codex-auth run -- exec "fix the failing test"', 'codex-auth run -- -m gpt-5 "refactor utils.ts"', 'codex-auth run -- --help   # codex\'s own help'],
    needs: [...SERVICES, 'opts', 'out'],
    load: async () => (await import('../commands/run.js')).runCommand,
  }),
  defineCommand({
    name: 'status',
    description: 'show the active account, where Codex reads credentials, storage, and overrides',
    options: [json],
    examples: ['codex-auth status', 'codex-auth status --json'],
    needs: [...SERVICES, 'ctx', 'out'],
    load: async () => (await import('../commands/status.js')).statusCommand,
  }),
  {
    name: 'fallback',
    description: 'automatic fallback: to another ChatGPT account, then to an API key, and back',
    examples: ['codex-auth fallback enable', 'codex-auth fallback enable --threshold 95 --no-rotate', 'codex-auth fallback status', 'codex-auth fallback disable'],
    subcommands: [
      defineCommand({
        name: 'enable',
        description: 'turn automatic fallback on',
        options: [
          { long: 'key', value: 'query', description: 'the API key to fall back to (default: the fallback key, else the first stored key)', complete: 'accounts' },
          { long: 'threshold', value: 'pct', description: 'count a window as exhausted at this percent used (default 100)' },
          { long: 'no-rotate', description: 'go straight to the API key instead of other ChatGPT accounts first' },
          { long: 'no-switch-back', description: 'stay on the fallback instead of returning when the window resets' },
          json,
        ],
        examples: ['codex-auth fallback enable', 'codex-auth fallback enable --key billing --threshold 95'],
        needs: [...SERVICES, 'out'],
        load: async () => (await import('../commands/fallback.js')).fallbackEnable,
      }),
      defineCommand({
        name: 'disable',
        description: 'turn automatic fallback off',
        options: [json],
        examples: ['codex-auth fallback disable'],
        needs: [...SERVICES, 'out'],
        load: async () => (await import('../commands/fallback.js')).fallbackDisable,
      }),
      defineCommand({
        name: 'status',
        description: 'the policy, its state, and what the next evaluation would do and why (a dry run)',
        options: [{ long: 'refresh', description: 'fetch current usage first' }, json],
        examples: ['codex-auth fallback status', 'codex-auth fallback status --refresh --json'],
        needs: [...SERVICES, 'out'],
        load: async () => (await import('../commands/fallback.js')).fallbackStatus,
      }),
    ],
  },
  {
    name: 'gateway',
    description: 'keep Codex working through a usage limit inside the running session (a loopback gateway)',
    examples: ['codex-auth gateway enable', 'codex-auth gateway serve', 'codex-auth gateway install-service', 'codex-auth gateway status', 'codex-auth gateway disable'],
    subcommands: [
      defineCommand({
        name: 'enable',
        description: "point Codex at the gateway: base URLs in config.toml (backed up), a placeholder login instead of the real one",
        options: [
          { long: 'port', value: 'n', description: 'port of the ChatGPT-backend origin; the model origin uses n+1 (default 47310)' },
          { long: 'rotate', description: 'let other ChatGPT accounts serve when the chosen one is exhausted, before the API key (the setting is kept until changed; off at first)' },
          { long: 'no-rotate', description: 'turn that off: only the chosen account, then the API key' },
          json,
        ],
        examples: ['codex-auth gateway enable', 'codex-auth gateway enable --port 48000', 'codex-auth gateway enable --rotate', 'codex-auth gateway enable --no-rotate'],
        needs: [...SERVICES, 'ctx', 'out'],
        load: async () => (await import('../commands/gateway.js')).gatewayEnable,
      }),
      defineCommand({
        name: 'disable',
        description: "undo enable: config.toml put back (your later edits kept), the chosen account's real login given back to Codex",
        options: [json],
        examples: ['codex-auth gateway disable'],
        needs: [...SERVICES, 'ctx', 'out'],
        load: async () => (await import('../commands/gateway.js')).gatewayDisable,
      }),
      defineCommand({
        name: 'status',
        description: 'whether the gateway runs, which account serves, requests and failovers per account, the last error',
        options: [json],
        examples: ['codex-auth gateway status', 'codex-auth gateway status --json'],
        needs: [...SERVICES, 'ctx', 'out'],
        load: async () => (await import('../commands/gateway.js')).gatewayStatus,
      }),
      defineCommand({
        name: 'serve',
        description: 'run the gateway in the foreground on 127.0.0.1 (Ctrl-C stops it)',
        options: [
          { long: 'port', value: 'n', description: 'port of the ChatGPT-backend origin; the model origin uses n+1 (default 47310; 0: any free ports)' },
          { long: 'json', description: 'JSON lines, one per event' },
        ],
        examples: ['codex-auth gateway serve', 'codex-auth gateway serve --port 0 --json'],
        needs: [...SERVICES, 'ctx', 'out'],
        load: async () => (await import('../commands/gateway.js')).gatewayServe,
      }),
      defineCommand({
        name: 'install-service',
        description: 'run "gateway serve" as a per-user service: a systemd user unit (Linux) or LaunchAgent (macOS)',
        options: [json],
        examples: ['codex-auth gateway install-service', 'codex-auth gateway install-service --json'],
        needs: ['ctx', 'env', 'opts', 'out', 'paths'],
        load: async () => (await import('../commands/gateway.js')).gatewayInstallService,
      }),
      defineCommand({
        name: 'uninstall-service',
        description: 'remove that service (stop it with the command it prints)',
        options: [json],
        examples: ['codex-auth gateway uninstall-service'],
        needs: ['ctx', 'env', 'opts', 'out', 'paths'],
        load: async () => (await import('../commands/gateway.js')).gatewayUninstallService,
      }),
    ],
  },
  defineCommand({
    name: 'doctor',
    description: 'check the setup and say how to fix what is wrong: Codex home, permissions, keyring, codex, registry, locks',
    options: [json],
    examples: ['codex-auth doctor', 'codex-auth doctor --json | jq \'.checks[] | select(.status != "ok")\''],
    needs: ['ctx', 'env', 'now', 'opts', 'out', 'paths'],
    load: async () => (await import('../commands/doctor.js')).doctorCommand,
  }),
  defineCommand({
    name: 'completion',
    description: 'print a shell completion script (bash, zsh or fish)',
    args: [{ name: 'shell', required: true, description: 'bash, zsh or fish', choices: SHELLS }],
    examples: [
      'codex-auth completion bash > ~/.local/share/bash-completion/completions/codex-auth',
      'codex-auth completion zsh > "${fpath[1]}/_codex-auth"',
      'codex-auth completion fish > ~/.config/fish/completions/codex-auth.fish',
    ],
    needs: ['ctx'],
    load: async () => (await import('../commands/completion.js')).completionHandler(PROGRAM),
  }),
  defineCommand({
    // For the completion scripts: `__complete WORDS...` prints the candidates for the last word and a
    // directive line (src/cli/complete.ts). Raw: its words are the user's command line, not options
    // of its own (src/cli/parse.ts passes them on untouched).
    name: '__complete',
    hidden: true,
    description: 'completion candidates',
    args: [{ name: 'words', variadic: true, description: 'the command line after the program name' }],
    raw: true,
    needs: ['ctx', 'env'],
    load: async () => (await import('../commands/completion.js')).completeHandler(PROGRAM),
  }),
];

export const PROGRAM: ProgramSpec = {
  name: 'codex-auth',
  description: 'Manage several OpenAI Codex CLI identities: ChatGPT plans and API keys.',
  options: [
    { long: 'version', short: 'V', description: 'print the version' },
    { long: 'codex-home', value: 'dir', description: 'Codex home (default: $CODEX_HOME, else ~/.codex)', complete: 'dirs' },
    { long: 'debug', description: 'print debugging details (never secrets)' },
    { long: 'help', short: 'h', description: 'show help' },
  ],
  commands,
  examples: ['codex-auth list', 'codex-auth switch work', 'codex-auth import ~/backup/auth.json --alias personal', 'codex-auth status --json'],
};
