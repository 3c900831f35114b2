/**
 * Entry point. The commonest invocations (`list`, `switch`, `status`, `--version`) are recognised
 * here and run without loading commander; everything else — help, other commands, anything
 * unusual — goes to the commander program in program.ts, which handles it exactly the same way.
 */
import { App, type GlobalOptions } from './app.js';
import type { Ctx } from './context.js';
import { VERSION } from './version.js';

export { VERSION };
export { flushStreams } from './context.js';

export interface FastCall {
  command: 'list' | 'switch' | 'status';
  global: GlobalOptions;
  refresh: boolean;
  query: string | undefined;
}

/** A parse of the simple forms only; null means "let commander decide". */
export function fastParse(argv: readonly string[]): FastCall | 'version' | null {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) return 'version';
  let codexHome: string | undefined;
  let debug = false;
  let json = false;
  let refresh = false;
  let command: string | undefined;
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i] as string;
    if (a === '--codex-home') {
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('-')) return null;
      codexHome = v;
      i += 1;
    } else if (a.startsWith('--codex-home=')) codexHome = a.slice('--codex-home='.length);
    else if (a === '--debug') debug = true;
    else if (a === '--json' && command !== undefined) json = true;
    else if (a === '--refresh' && (command === 'list' || command === 'ls')) refresh = true;
    else if (a.startsWith('-') && a !== '-') return null;
    else if (command === undefined) command = a;
    else positionals.push(a);
  }
  const global: GlobalOptions = { ...(codexHome !== undefined ? { codexHome } : {}), debug, json };
  if ((command === 'list' || command === 'ls') && positionals.length === 0) return { command: 'list', global, refresh, query: undefined };
  if (command === 'switch' && positionals.length <= 1) return { command: 'switch', global, refresh: false, query: positionals[0] };
  if (command === 'status' && positionals.length === 0) return { command: 'status', global, refresh: false, query: undefined };
  return null;
}

export async function runCli(argv: string[], injected?: Ctx): Promise<number> {
  const fast = fastParse(argv);
  // The program is a separate bundle with its own copies of every module: it builds its own Ctx, so
  // no object (an HTTP client and its error classes) crosses from one bundle to the other.
  if (fast === null) return (await import('./program.js')).runProgram(argv, injected);
  const ctx = injected ?? (await (await import('./context.js')).defaultCtx());
  if (fast === 'version') {
    ctx.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const app = await App.create(ctx, fast.global);
  try {
    if (fast.command === 'list') return await (await import('./commands/list.js')).listCommand(app, [], { json: fast.global.json, refresh: fast.refresh });
    if (fast.command === 'switch') return await (await import('./commands/switch.js')).switchCommand(app, [fast.query], { json: fast.global.json });
    return await (await import('./commands/status.js')).statusCommand(app);
  } catch (e) {
    return app.out.failure(e);
  }
}
