/**
 * The commander program: every command, its options, help and examples, and error → exit code.
 * Command handlers live in src/commands/<name>.ts and are imported only when their command runs.
 */
import { Command, CommanderError } from 'commander';
import { App, type GlobalOptions } from './app.js';
import type { Ctx } from './context.js';
import { Output } from './ui/output.js';
import { VERSION } from './version.js';

export type Handler = (app: App, args: unknown[], opts: Record<string, unknown>) => Promise<number>;

function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

export function buildProgram(ctx: Ctx, onRun: (h: () => Promise<Handler>, args: unknown[], opts: Record<string, unknown>, global: GlobalOptions) => void): Command {
  const program = new Command();
  program
    .name('codex-auth')
    .description('Manage several OpenAI Codex CLI identities: ChatGPT plans and API keys.')
    .version(VERSION, '-V, --version', 'print the version')
    .option('--codex-home <dir>', 'Codex home (default: $CODEX_HOME, else ~/.codex)')
    .option('--debug', 'print debugging details (never secrets)')
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    })
    .exitOverride()
    .addHelpText('after', examples(['codex-auth list', 'codex-auth switch work', 'codex-auth import ~/backup/auth.json --alias personal', 'codex-auth status --json']));

  const add = (
    name: string,
    description: string,
    load: () => Promise<Handler>,
    configure: (c: Command) => Command,
    ex: string[],
  ): Command => {
    const c = program.command(name).description(description);
    configure(c);
    c.addHelpText('after', examples(ex));
    c.action((...all: unknown[]) => {
      const cmd = all[all.length - 1] as Command;
      const opts = cmd.opts();
      const args = all.slice(0, -2);
      const g = program.opts() as { codexHome?: string; debug?: boolean };
      const global: GlobalOptions = {
        ...(g.codexHome !== undefined ? { codexHome: g.codexHome } : {}),
        debug: Boolean(g.debug),
        json: Boolean(opts.json),
      };
      onRun(load, args, opts, global);
    });
    return c;
  };

  add(
    'list',
    'show every account: plan, usage left in the 5-hour and weekly windows, last activity',
    async () => (await import('./commands/list.js')).listCommand as Handler,
    (c) => c.alias('ls').option('--refresh', 'fetch current usage of every ChatGPT account').option('--json', 'print one JSON document'),
    ['codex-auth list', 'codex-auth list --refresh', 'codex-auth list --json | jq .accounts[].email'],
  );
  add(
    'import',
    'import Codex auth.json files (ChatGPT or API key); no PATH: Codex\'s current login',
    async () => (await import('./commands/import.js')).importCommand as Handler,
    (c) =>
      c
        .argument('[path...]', 'auth.json files or directories of them')
        .option('--alias <name>', 'name the imported account (one file only)')
        .option('-r, --recursive', 'search directories recursively')
        .option('--json', 'print one JSON document'),
    ['codex-auth import', 'codex-auth import ~/old-laptop/auth.json --alias laptop', 'codex-auth import -r ~/backups/codex'],
  );
  add(
    'login',
    'log in to another account with the real "codex login" (your current login stays active)',
    async () => (await import('./commands/login.js')).loginCommand as Handler,
    (c) =>
      c
        .option('--device-auth', 'log in with a device code (for machines without a browser)')
        .option('--with-api-key', 'read an API key from standard input')
        .option('--alias <name>', 'name the new account')
        .option('--json', 'print one JSON document'),
    ['codex-auth login', 'codex-auth login --device-auth --alias work', 'printenv OPENAI_API_KEY | codex-auth login --with-api-key'],
  );
  add(
    'add-api-key',
    'store an OpenAI API key in the OS keyring and add it as an account',
    async () => (await import('./commands/add-api-key.js')).addApiKeyCommand as Handler,
    (c) =>
      c
        .argument('[key]', 'the key, or "-" to read it from standard input (default: a hidden prompt)')
        .option('--alias <name>', 'name the account')
        .option('--no-fallback', 'do not make it the fallback key')
        .option('--insecure-storage', 'store it in a 0600 file instead of the OS keyring')
        .option('--skip-verify', 'store it even when OpenAI cannot be reached to verify it')
        .option('--json', 'print one JSON document'),
    ['codex-auth add-api-key', 'printenv OPENAI_API_KEY | codex-auth add-api-key - --alias billing', 'codex-auth add-api-key --insecure-storage   # no keyring on this machine'],
  );
  add(
    'switch',
    'make an account the one Codex uses',
    async () => (await import('./commands/switch.js')).switchCommand as Handler,
    (c) => c.argument('[query]', 'row number, alias, email, or a unique fragment; "-" for the previous account').option('--json', 'print one JSON document'),
    ['codex-auth switch 2', 'codex-auth switch work', 'codex-auth switch alice@example.com', 'codex-auth switch -', 'codex-auth switch   # pick interactively'],
  );
  add(
    'remove',
    'forget accounts and delete their stored secrets (Codex\'s live login is left alone)',
    async () => (await import('./commands/remove.js')).removeCommand as Handler,
    (c) => c.alias('rm').argument('<query...>', 'accounts to remove').option('-y, --yes', 'do not ask for confirmation (required without a terminal)').option('--json', 'print one JSON document'),
    ['codex-auth remove 3', 'codex-auth remove old-laptop alice@example.com --yes'],
  );
  add(
    'alias',
    'name an account, or clear its name',
    async () => (await import('./commands/alias.js')).aliasCommand as Handler,
    (c) => c.argument('<query>', 'the account').argument('[name]', 'the new alias').option('--clear', 'remove the alias').option('--json', 'print one JSON document'),
    ['codex-auth alias 2 work', 'codex-auth alias alice@example.com personal', 'codex-auth alias work --clear'],
  );
  add(
    'refresh',
    'refresh OAuth tokens that expire within 5 minutes (all with --force)',
    async () => (await import('./commands/refresh.js')).refreshCommand as Handler,
    (c) => c.argument('[query]', 'only this account').option('--force', 'refresh even tokens that are still valid').option('--json', 'print one JSON document'),
    ['codex-auth refresh', 'codex-auth refresh work --force'],
  );
  add(
    'watch',
    'apply the fallback policy: a foreground loop, a single evaluation (--once), or a per-user service',
    async () => (await import('./commands/watch.js')).watchCommand as Handler,
    (c) =>
      c
        .option('--once', 'evaluate once and exit (for cron, shell hooks, Codex notify)')
        .option('--interval <sec>', 'seconds between usage checks (default 60)')
        .option('--install-service', 'install a systemd user unit (Linux) or LaunchAgent (macOS) running watch')
        .option('--uninstall-service', 'remove that service')
        .option('--json', 'JSON lines, one per event'),
    ['codex-auth watch', 'codex-auth watch --once', 'codex-auth watch --interval 120 --json', 'codex-auth watch --install-service'],
  );
  program
    .command('run')
    .description('run codex; when it hits the usage limit, switch by the fallback policy and carry on')
    .argument('[codex-args...]', 'arguments for codex (put them after -- to be safe)')
    .allowUnknownOption()
    .allowExcessArguments(true)
    .helpOption(false)
    .addHelpText('after', examples(['codex-auth run', 'codex-auth run -- exec "fix the failing test"', 'codex-auth run -- -m gpt-5 "refactor utils.ts"']))
    .action((codexArgs: string[]) => {
      const g = program.opts() as { codexHome?: string; debug?: boolean };
      onRun(async () => (await import('./commands/run.js')).runCommand as Handler, [codexArgs], {}, { ...(g.codexHome !== undefined ? { codexHome: g.codexHome } : {}), debug: Boolean(g.debug) });
    });
  add(
    'status',
    'show the active account, where Codex reads credentials, storage, and overrides',
    async () => (await import('./commands/status.js')).statusCommand as Handler,
    (c) => c.option('--json', 'print one JSON document'),
    ['codex-auth status', 'codex-auth status --json'],
  );
  const fb = program
    .command('fallback')
    .description('automatic fallback: to another ChatGPT account, then to an API key, and back')
    .addHelpText('after', examples(['codex-auth fallback enable', 'codex-auth fallback enable --threshold 95 --no-rotate', 'codex-auth fallback status', 'codex-auth fallback disable']));
  const sub = (name: string, description: string, load: () => Promise<Handler>, configure: (c: Command) => Command, ex: string[]) => {
    const c = fb.command(name).description(description);
    configure(c);
    c.addHelpText('after', examples(ex));
    c.action((...all: unknown[]) => {
      const cmd = all[all.length - 1] as Command;
      const opts = cmd.opts();
      const g = program.opts() as { codexHome?: string; debug?: boolean };
      onRun(load, all.slice(0, -2), opts, { ...(g.codexHome !== undefined ? { codexHome: g.codexHome } : {}), debug: Boolean(g.debug), json: Boolean(opts.json) });
    });
  };
  sub(
    'enable',
    'turn automatic fallback on',
    async () => (await import('./commands/fallback.js')).fallbackEnable as Handler,
    (c) =>
      c
        .option('--key <query>', 'the API key to fall back to (default: the fallback key, else the first stored key)')
        .option('--threshold <pct>', 'count a window as exhausted at this percent used (default 100)')
        .option('--no-rotate', 'go straight to the API key instead of other ChatGPT accounts first')
        .option('--no-switch-back', 'stay on the fallback instead of returning when the window resets')
        .option('--json', 'print one JSON document'),
    ['codex-auth fallback enable', 'codex-auth fallback enable --key billing --threshold 95'],
  );
  sub('disable', 'turn automatic fallback off', async () => (await import('./commands/fallback.js')).fallbackDisable as Handler, (c) => c.option('--json', 'print one JSON document'), ['codex-auth fallback disable']);
  sub(
    'status',
    'the policy, its state, and what the next evaluation would do and why (a dry run)',
    async () => (await import('./commands/fallback.js')).fallbackStatus as Handler,
    (c) => c.option('--refresh', 'fetch current usage first').option('--json', 'print one JSON document'),
    ['codex-auth fallback status', 'codex-auth fallback status --refresh --json'],
  );
  add(
    'doctor',
    'check the setup and say how to fix what is wrong: Codex home, permissions, keyring, codex, registry, locks',
    async () => (await import('./commands/doctor.js')).doctorCommand as Handler,
    (c) => c.option('--json', 'print one JSON document'),
    ['codex-auth doctor', 'codex-auth doctor --json | jq \'.checks[] | select(.status != "ok")\''],
  );
  add(
    'completion',
    'print a shell completion script (bash, zsh or fish)',
    async () => (await import('./commands/completion.js')).completionHandler(program) as Handler,
    (c) => c.argument('<shell>', 'bash, zsh or fish'),
    [
      'codex-auth completion bash > ~/.local/share/bash-completion/completions/codex-auth',
      'codex-auth completion zsh > "${fpath[1]}/_codex-auth"',
      'codex-auth completion fish > ~/.config/fish/completions/codex-auth.fish',
    ],
  );
  // For the completion scripts: account candidates, one per line (hidden; never prints errors).
  program
    .command('__complete', { hidden: true })
    .argument('<kind>')
    .action((kind: string) => {
      const g = program.opts() as { codexHome?: string };
      onRun(async () => (await import('./commands/completion.js')).completeCommand as Handler, [kind], {}, { ...(g.codexHome !== undefined ? { codexHome: g.codexHome } : {}), debug: false });
    });
  return program;
}

export async function runProgram(argv: string[], injected?: Ctx): Promise<number> {
  const ctx = injected ?? (await (await import('./context.js')).defaultCtx());
  let pending: (() => Promise<number>) | undefined;
  const program = buildProgram(ctx, (load, args, opts, global) => {
    pending = async () => {
      const app = await App.create(ctx, global);
      try {
        const handler = await load();
        return await handler(app, args, opts);
      } catch (e) {
        return app.out.failure(e);
      }
    };
  });
  const wantsJson = argv.includes('--json');
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      if (wantsJson) new Output(ctx.stdout, ctx.stderr, { json: true, debug: false }).document({ error: { code: 'usage', message: e.message.replace(/^error: /, '') } });
      return 2;
    }
    return (Output.create(ctx.stdout, ctx.stderr, ctx.env, { json: wantsJson, debug: argv.includes('--debug') })).failure(e);
  }
  if (!pending) {
    program.outputHelp();
    return 0;
  }
  return pending();
}
