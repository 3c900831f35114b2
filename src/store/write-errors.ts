/**
 * A file-system error from writing in codex-auth's home or Codex's home (read-only, not a directory,
 * no permission), said as what it means: where the write was tried and what to do about it.
 */
import path from 'node:path';
import { CliError, errnoCode } from '../errors.js';
import type { Paths } from './paths.js';

const WRITE_ERRORS = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR']);

function within(dir: string, p: string): boolean {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** The CliError for `err` when it is such a write error below one of the homes, else null. */
export function homeWriteError(paths: Paths, err: unknown): CliError | null {
  const code = errnoCode(err);
  const at = typeof err === 'object' && err !== null && 'path' in err ? String((err as { path: unknown }).path) : null;
  if (!code || !WRITE_ERRORS.has(code) || at === null) return null;
  if (within(paths.home, at)) {
    return new CliError(
      'home_not_writable',
      `Cannot write codex-auth's files in ${paths.home} (${code} on ${at}). Make it a writable directory, or set the environment variable CODEX_AUTH_HOME to a writable directory to keep codex-auth's files there instead; Codex's login was left as it is.`,
    );
  }
  if (within(paths.codexHome, at)) {
    return new CliError(
      'codex_home_not_writable',
      `Cannot write in Codex's home ${paths.codexHome} (${code} on ${at}): while it is read-only, codex-auth cannot change the account Codex uses (switch, fallback) nor save its refreshed tokens there. Make it writable, or set CODEX_AUTH_HOME so that codex-auth's own files live elsewhere.`,
    );
  }
  return null;
}
