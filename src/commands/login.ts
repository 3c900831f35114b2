/**
 * `codex-auth login`: the real `codex login` in a fresh private CODEX_HOME, then import the result.
 * The active account is never touched and nothing is revoked: a login in Codex's own home would
 * replace (and revoke) the current one, a login in a scratch home replaces nothing.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Services, Uses } from '../cli/app.js';
import { findCodexBinary } from '../codex/binary.js';
import { aliasClashBeforeLogin, normalizeAlias, validateAlias } from '../domain/accounts.js';
import { Cancelled, CliError, usageError } from '../errors.js';
import { ensurePrivateDir } from '../store/atomic.js';
import { numbered } from '../domain/view.js';
import { terminalText } from '../ui/output.js';
import { importSources, type Result } from '../services/import.js';
import { reportImport } from '../ui/import-report.js';

/** What this command gets of the factory: its `needs` in src/cli/commands.ts. */
type Needs = Uses<Services | 'ctx' | 'out'>;

export interface LoginOptions {
  deviceAuth?: boolean;
  withApiKey?: boolean;
  alias?: string;
  json?: boolean;
}

/** Codex's hint, which would log in in Codex's own home (replacing, and revoking, the live login)... */
const CODEX_HINT = 'codex login --device-auth';
/** ...and what does the same through codex-auth. */
const OUR_HINT = 'codex-auth login --device-auth';

/**
 * Rewrites Codex's `codex login --device-auth` hint as it streams past, chunk by chunk: the end of a
 * chunk that may be the start of the hint is held back until the next chunk (or flush) tells.
 */
export class HintRewriter {
  private held = '';

  push(chunk: string): string {
    const text = (this.held + chunk).replaceAll(CODEX_HINT, OUR_HINT);
    let keep = 0;
    for (let k = Math.min(CODEX_HINT.length - 1, text.length); k > 0; k -= 1) {
      if (CODEX_HINT.startsWith(text.slice(text.length - k))) {
        keep = k;
        break;
      }
    }
    this.held = text.slice(text.length - keep);
    return text.slice(0, text.length - keep);
  }

  flush(): string {
    const rest = this.held;
    this.held = '';
    return rest;
  }
}

/**
 * One of codex's output streams, passed on to `write` (our stderr) with the hint rewritten and made
 * safe like everything codex-auth prints (codex writes no colours to a pipe). Text held back for the
 * hint is let go after a moment, so that a prompt without a line break is not kept from the user.
 */
function passThrough(from: NodeJS.ReadableStream, write: (s: string) => void): Promise<void> {
  const rewriter = new HintRewriter();
  let timer: NodeJS.Timeout | undefined;
  const out = (s: string) => {
    if (s) write(terminalText(s));
  };
  from.setEncoding('utf8');
  return new Promise((resolve) => {
    from.on('data', (chunk: string) => {
      clearTimeout(timer);
      out(rewriter.push(chunk));
      timer = setTimeout(() => out(rewriter.flush()), 100);
    });
    const end = () => {
      clearTimeout(timer);
      out(rewriter.flush());
      resolve();
    };
    from.on('end', end);
    from.on('error', end);
  });
}

export async function loginCommand(app: Needs, _args: unknown, opts: LoginOptions): Promise<number> {
  if (opts.alias !== undefined) {
    const bad = validateAlias(opts.alias);
    if (bad) throw usageError('invalid_alias', `Invalid alias ${JSON.stringify(opts.alias)}: ${bad}.`);
    // Refused now rather than after the browser login, when it can be known already.
    const clash = aliasClashBeforeLogin((await app.registry.load()).accounts, opts.alias);
    if (clash) throw usageError('alias_taken', `The alias ${JSON.stringify(normalizeAlias(opts.alias))} cannot be used: ${clash}. Nothing was changed.`);
  }
  if (opts.deviceAuth && opts.withApiKey) throw usageError('usage', 'Use either --device-auth or --with-api-key, not both.');
  const codex = findCodexBinary(app.env);
  ensurePrivateDir(app.paths.home);
  const scratch = mkdtempSync(path.join(app.paths.home, 'login-'));
  chmodSync(scratch, 0o700);
  const args = ['login', '-c', 'cli_auth_credentials_store="file"'];
  if (opts.deviceAuth) args.push('--device-auth');
  if (opts.withApiKey) args.push('--with-api-key');
  // Ctrl-C reaches codex too (same process group); we stay alive to clean up after it, and remember
  // it: codex may catch it and exit 1, which is still the user cancelling.
  let interrupted = false;
  const ignore = () => {
    interrupted = true;
  };
  process.on('SIGINT', ignore);
  process.on('SIGTERM', ignore);
  try {
    app.out.info(opts.withApiKey ? 'Reading the API key from standard input…' : 'Starting "codex login" in a private scratch home (your current login stays active)…');
    const env = { ...app.env, CODEX_HOME: scratch };
    const code = await new Promise<number>((resolve, reject) => {
      // stdin passes through (for --with-api-key); codex's stdout and stderr are messages for a
      // person: our stderr, with its device-auth hint pointing at codex-auth.
      const child = spawn(codex, args, { env, stdio: ['inherit', 'pipe', 'pipe'] });
      const write = (s: string) => app.ctx.stderr.write(s);
      const streams = Promise.all([passThrough(child.stdout, write), passThrough(child.stderr, write)]);
      child.on('error', (e) => reject(new CliError('codex_failed', `Could not start ${codex}: ${e.message}`)));
      child.on('close', (c, sig) => void streams.then(() => resolve(c ?? (sig === 'SIGINT' ? 130 : 1))));
    });
    if (code !== 0) {
      if (code === 130 || interrupted) throw new Cancelled('Login cancelled; nothing was changed.');
      throw new CliError('login_failed', `"codex login" failed (exit ${code}); nothing was changed.`);
    }
    const authFile = path.join(scratch, 'auth.json');
    if (!existsSync(authFile)) throw new CliError('login_failed', '"codex login" finished without writing credentials; nothing was changed.');
    const results: Result[] = [];
    await importSources(
      app,
      [{ path: 'codex login', live: false, scanned: false, read: async () => readFileSync(authFile, 'utf8') }],
      results,
      { ...(opts.alias !== undefined ? { alias: opts.alias } : {}), syncFirst: true },
    );
    const imported = reportImport(app.out, results);
    if (imported === 0) await switchHint(app, results);
    return imported;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    process.off('SIGINT', ignore);
    process.off('SIGTERM', ignore);
  }
}

/** After a login: how to make Codex use that account (unless it already does). */
async function switchHint(app: Needs, results: Result[]): Promise<void> {
  const account = results.find((r) => r.status !== 'skipped' && r.account)?.account;
  if (!account) return;
  const reg = await app.registry.load();
  if (reg.activeId === account.id) return;
  const row = numbered(reg.accounts).find((m) => m.account.id === account.id);
  if (!row) return;
  const query = account.alias && /^[\w.@+-]+$/.test(account.alias) ? account.alias : String(row.number);
  app.out.info(`Switch to it: codex-auth switch ${query}`);
}
