/**
 * `codex-auth run [--] CODEX_ARGS...`: evaluate the fallback policy, run codex, and when the run hit
 * the usage limit, switch by the policy and carry on: re-run an `exec` once under the new account,
 * continue an interactive session with `codex resume <session id>`. Exits with codex's code.
 */
import { spawn } from 'node:child_process';
import type { Services, Uses } from '../cli/app.js';
import { findCodexBinary } from '../codex/binary.js';
import { describeAccount } from '../domain/accounts.js';
import type { Evaluation } from '../services/fallback.js';

/** What this command gets of the factory: its `needs` in src/cli/commands.ts. */
type Needs = Uses<Services | 'opts' | 'out'>;

/** Codex's subcommands: the first positional that is one of these decides the kind of run. */
const SUBCOMMANDS = new Set(['exec', 'e', 'review', 'login', 'logout', 'mcp', 'mcp-server', 'app-server', 'completion', 'sandbox', 'debug', 'apply', 'a', 'resume', 'fork', 'cloud', 'features', 'help']);
/** Codex options that take a value (so their value is not mistaken for the subcommand). */
const VALUED = new Set(['-c', '--config', '-m', '--model', '-p', '--profile', '-s', '--sandbox', '-a', '--ask-for-approval', '-C', '--cd', '-i', '--image', '--add-dir', '--enable', '--disable', '--local-provider']);

export function classifyRun(args: readonly string[]): { kind: 'exec' | 'interactive' | 'other'; leading: string[] } {
  const leading: string[] = [];
  for (let i = 0; i < args.length; i += 1) {
    const a = args[i] as string;
    if (a === '--') break;
    if (a.startsWith('-')) {
      leading.push(a);
      if (VALUED.has(a) && i + 1 < args.length) leading.push(args[++i] as string);
      continue;
    }
    if (a === 'exec' || a === 'e') return { kind: 'exec', leading };
    if (a === 'resume') return { kind: 'interactive', leading };
    if (SUBCOMMANDS.has(a)) return { kind: 'other', leading };
    return { kind: 'interactive', leading }; // a prompt: the interactive TUI
  }
  return { kind: 'interactive', leading };
}

function runCodex(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: 'inherit', env });
    // Ctrl-C reaches codex directly (same terminal process group): we wait for it to finish.
    const ignore = () => {};
    const forward = (sig: NodeJS.Signals) => () => {
      try {
        child.kill(sig);
      } catch {
        /* gone */
      }
    };
    const onTerm = forward('SIGTERM');
    const onHup = forward('SIGHUP');
    process.on('SIGINT', ignore);
    process.on('SIGTERM', onTerm);
    process.on('SIGHUP', onHup);
    const done = () => {
      process.off('SIGINT', ignore);
      process.off('SIGTERM', onTerm);
      process.off('SIGHUP', onHup);
    };
    child.on('error', (e) => {
      done();
      reject(e);
    });
    child.on('exit', (code, signal) => {
      done();
      resolve(code ?? (signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 1));
    });
  });
}

function say(app: Needs, ev: Evaluation): void {
  const d = ev.decision;
  if (d.action === 'switch' && ev.switched?.switched) {
    app.out.info(`codex-auth: switched Codex to ${describeAccount(ev.switched.to)} (${d.kind}): ${d.reason}.`);
  } else if (d.action === 'warn') {
    app.out.warn(d.reason);
  }
}

/**
 * Codex's environment: codex-auth's own, with CODEX_HOME set to the Codex home codex-auth watches
 * (from --codex-home or CODEX_HOME, made absolute), so that the session logs it reads for a usage
 * limit and the credentials it switches are the ones this codex uses. Without either, Codex's own
 * default (~/.codex) is codex-auth's too, and CODEX_HOME stays unset (Codex refuses a CODEX_HOME
 * that does not exist, and ~/.codex may not exist yet).
 */
export function codexEnv(app: Pick<Needs, 'env' | 'opts' | 'paths'>): NodeJS.ProcessEnv {
  const env = { ...app.env };
  if (app.opts.codexHome !== undefined || app.env.CODEX_HOME) env.CODEX_HOME = app.paths.codexHome;
  return env;
}

export async function runCommand(app: Needs, args: { codexArgs: string[] }): Promise<number> {
  const codexArgs = args.codexArgs.slice();
  const bin = findCodexBinary(app.env);
  const { evaluate } = await import('../services/fallback.js');
  const sessions = await import('../codex/sessions.js');

  // Before: an account that is already exhausted is not worth starting on.
  const reg0 = (await app.registry.load());
  if (reg0.fallback.enabled) {
    const since = reg0.activeSince ? new Date(reg0.activeSince) : undefined;
    const events = sessions.readRecentEvents(app.paths.codexHome, { maxFiles: 4, ...(since ? { since } : {}), initialTailBytes: 256 * 1024 });
    say(app, await evaluate(app, { poll: true, events }));
  }

  const started = app.now();
  const env = codexEnv(app);
  let code = await runCodex(bin, codexArgs, env);
  const events = sessions.readRecentEvents(app.paths.codexHome, { maxFiles: 4, since: started });
  const hit = events.some((e) => e.kind === 'usage_limit' && e.at.getTime() >= started.getTime());
  if (!hit) return code;

  const reg = (await app.registry.load());
  if (!reg.fallback.enabled) {
    app.out.info('codex-auth: Codex hit the usage limit. Turn on automatic fallback with "codex-auth fallback enable", or switch by hand with "codex-auth switch".');
    return code;
  }
  const ev = await evaluate(app, { poll: false, events });
  say(app, ev);
  if (!(ev.decision.action === 'switch' && ev.switched?.switched)) return code;

  const { kind, leading } = classifyRun(codexArgs);
  if (kind === 'exec') {
    app.out.info('codex-auth: running it again under the new account…');
    code = await runCodex(bin, codexArgs, env);
  } else if (kind === 'interactive') {
    const session = sessions.newestSessionId(app.paths.codexHome, started);
    if (session) {
      app.out.info(`codex-auth: continuing the session with "codex resume ${session}"…`);
      code = await runCodex(bin, [...leading, 'resume', session], env);
    } else {
      app.out.warn('Could not find the session to resume; start codex again to continue under the new account.');
    }
  }
  return code;
}
