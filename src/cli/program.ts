/**
 * Runs one command line: parsed against the command table (src/cli/commands.ts), then help, the
 * version, or the command's handler, loaded only now. Usage errors exit 2, with a JSON error
 * document under --json.
 */
import { App, only } from './app.js';
import { PROGRAM } from './commands.js';
import { renderHelp } from './help.js';
import { type Parsed, parseCommandLine, UsageError } from './parse.js';
import type { Ctx } from '../platform/context.js';
import { CliError } from '../errors.js';
import { homeWriteError } from '../store/write-errors.js';
import { Output, terminalText } from '../ui/output.js';
import { VERSION } from '../version.js';

export async function runProgram(argv: string[], injected?: Ctx): Promise<number> {
  const ctx = injected ?? (await (await import('../platform/context.js')).defaultCtx());
  let parsed: Parsed;
  try {
    parsed = parseCommandLine(argv, PROGRAM);
  } catch (e) {
    const wantsJson = argv.includes('--json');
    if (e instanceof UsageError) {
      if (wantsJson) new Output(ctx.stdout, ctx.stderr, { json: true, debug: false }).document({ error: { code: 'usage', message: e.message } });
      ctx.stderr.write(terminalText(`error: ${e.message}\n`)); // it quotes the words typed
      return 2;
    }
    return Output.create(ctx.stdout, ctx.stderr, ctx.env, { json: wantsJson, debug: argv.includes('--debug') }).failure(e);
  }
  if (parsed.kind === 'version') {
    ctx.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (parsed.kind === 'help') {
    ctx.stdout.write(renderHelp(PROGRAM, parsed.path));
    return 0;
  }
  const leaf = parsed.path[parsed.path.length - 1];
  const app = await App.create(ctx, parsed.global);
  try {
    if (!leaf?.load) throw new Error('a command without a handler');
    const handler = (await leaf.load()) as (app: unknown, args: unknown, opts: unknown) => Promise<number>;
    // The handler gets the factory fields its entry declared, and nothing else.
    return await handler(only(app, leaf.needs ?? []), parsed.args, parsed.opts);
  } catch (e) {
    return app.out.failure(explained(app, e));
  }
}

/** A raw write error in codex-auth's or Codex's home becomes one that says where and what to do. */
function explained(app: App, e: unknown): unknown {
  if (e instanceof CliError || typeof e !== 'object' || e === null || !('path' in e)) return e;
  try {
    return homeWriteError(app.paths, e) ?? e;
  } catch {
    return e; // the paths themselves are wrong: that error is for the command to tell
  }
}
