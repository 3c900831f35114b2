/** Where Codex and codex-auth keep their files. */
import { type Stats, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { CliError } from '../errors.js';

export interface Paths {
  /** Codex's home (CODEX_HOME), absolute. It may not exist yet when it is the default. */
  codexHome: string;
  codexHomeExists: boolean;
  authJson: string;
  configToml: string;
  /** codex-auth's own home: CODEX_AUTH_HOME, else $CODEX_HOME/codex-auth. */
  home: string;
  registry: string;
  registryLock: string;
  accountsDir: string;
  backupsDir: string;
  eventsLog: string;
}

/**
 * Resolve CODEX_HOME the way Codex does: an explicit value (flag or env) must exist and be a
 * directory; the default ~/.codex may be missing (nothing is logged in yet).
 */
export function resolvePaths(opts: { codexHomeFlag?: string; env: NodeJS.ProcessEnv; homedir: string; cwd: string }): Paths {
  const explicit = opts.codexHomeFlag ?? (opts.env.CODEX_HOME ? opts.env.CODEX_HOME : undefined);
  let codexHome: string;
  let exists = false;
  if (explicit !== undefined) {
    const source = opts.codexHomeFlag !== undefined ? '--codex-home' : 'CODEX_HOME';
    codexHome = path.resolve(opts.cwd, explicit);
    let st: Stats;
    try {
      st = statSync(codexHome);
    } catch {
      throw new CliError('codex_home', `${source} points to ${codexHome}, which does not exist. Create it (mkdir -p "${codexHome}") or fix ${source}.`);
    }
    if (!st.isDirectory()) {
      throw new CliError('codex_home', `${source} points to ${codexHome}, which is not a directory. Fix ${source}.`);
    }
    exists = true;
  } else {
    codexHome = path.join(opts.homedir, '.codex');
    exists = existsSync(codexHome);
  }
  return pathsUnder(codexHome, exists, opts);
}

/** The file layout below a Codex home, with no checks (doctor uses it for a home that is missing). */
export function pathsUnder(codexHome: string, exists: boolean, opts: { env: NodeJS.ProcessEnv; cwd: string }): Paths {
  const home = opts.env.CODEX_AUTH_HOME ? path.resolve(opts.cwd, opts.env.CODEX_AUTH_HOME) : path.join(codexHome, 'codex-auth');
  return {
    codexHome,
    codexHomeExists: exists,
    authJson: path.join(codexHome, 'auth.json'),
    configToml: path.join(codexHome, 'config.toml'),
    home,
    registry: path.join(home, 'registry.json'),
    registryLock: path.join(home, 'registry.lock'),
    accountsDir: path.join(home, 'accounts'),
    backupsDir: path.join(home, 'backups'),
    eventsLog: path.join(home, 'events.jsonl'),
  };
}
