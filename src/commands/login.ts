/**
 * `codex-auth login`: the real `codex login` in a fresh private CODEX_HOME, then import the result.
 * The active account is never touched and nothing is revoked: a login in Codex's own home would
 * replace (and revoke) the current one, a login in a scratch home replaces nothing.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Services, Uses } from '../cli/app.js';
import { findCodexBinary } from '../codex/binary.js';
import { validateAlias } from '../domain/accounts.js';
import { CliError, usageError } from '../errors.js';
import { ensurePrivateDir } from '../store/atomic.js';
import { importSources } from '../services/import.js';
import { reportImport } from '../ui/import-report.js';

/** What this command gets of the factory: its `needs` in src/cli/commands.ts. */
type Needs = Uses<Services | 'out'>;

export interface LoginOptions {
  deviceAuth?: boolean;
  withApiKey?: boolean;
  alias?: string;
  json?: boolean;
}

export async function loginCommand(app: Needs, _args: unknown, opts: LoginOptions): Promise<number> {
  if (opts.alias !== undefined) {
    const bad = validateAlias(opts.alias);
    if (bad) throw usageError('invalid_alias', `Invalid alias ${JSON.stringify(opts.alias)}: ${bad}.`);
  }
  if (opts.deviceAuth && opts.withApiKey) throw usageError('usage', 'Use either --device-auth or --with-api-key, not both.');
  const codex = findCodexBinary(app.env);
  ensurePrivateDir(app.paths.home);
  const scratch = fs.mkdtempSync(path.join(app.paths.home, 'login-'));
  fs.chmodSync(scratch, 0o700);
  const args = ['login', '-c', 'cli_auth_credentials_store="file"'];
  if (opts.deviceAuth) args.push('--device-auth');
  if (opts.withApiKey) args.push('--with-api-key');
  // Ctrl-C reaches codex too (same process group); we stay alive to clean up after it.
  const ignore = () => {};
  process.on('SIGINT', ignore);
  process.on('SIGTERM', ignore);
  try {
    app.out.info(opts.withApiKey ? 'Reading the API key from standard input…' : 'Starting "codex login" in a private scratch home (your current login stays active)…');
    const env = { ...app.env, CODEX_HOME: scratch };
    const code = await new Promise<number>((resolve, reject) => {
      // stdin passes through (for --with-api-key); codex's stdout is a message for a person: our stderr.
      const child = spawn(codex, args, { env, stdio: ['inherit', process.stderr, 'inherit'] });
      child.on('error', (e) => reject(new CliError('codex_failed', `Could not start ${codex}: ${e.message}`)));
      child.on('exit', (c, sig) => resolve(c ?? (sig === 'SIGINT' ? 130 : 1)));
    });
    if (code !== 0) {
      throw new CliError('login_failed', code === 130 ? 'Login cancelled; nothing was changed.' : `"codex login" failed (exit ${code}); nothing was changed.`, code === 130 ? 130 : 1);
    }
    const authFile = path.join(scratch, 'auth.json');
    if (!fs.existsSync(authFile)) throw new CliError('login_failed', '"codex login" finished without writing credentials; nothing was changed.');
    const results = await importSources(
      app,
      [{ path: 'codex login', live: false, scanned: false, read: async () => fs.readFileSync(authFile, 'utf8') }],
      [],
      { ...(opts.alias !== undefined ? { alias: opts.alias } : {}), syncFirst: true },
    );
    return reportImport(app.out, results);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
    process.off('SIGINT', ignore);
    process.off('SIGTERM', ignore);
  }
}
