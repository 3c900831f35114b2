/** Finding the Codex CLI: CODEX_AUTH_CODEX_BIN, else `codex` on PATH. */
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { CliError } from '../errors.js';

export function findCodexBinary(env: NodeJS.ProcessEnv): string {
  const explicit = env.CODEX_AUTH_CODEX_BIN;
  if (explicit) {
    try {
      accessSync(explicit, constants.X_OK);
      return explicit;
    } catch {
      throw new CliError('codex_not_found', `CODEX_AUTH_CODEX_BIN points to ${explicit}, which is not an executable file.`);
    }
  }
  const exts = process.platform === 'win32' ? (env.PATHEXT ?? '.EXE;.CMD').split(';') : [''];
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const p = path.join(dir, `codex${ext}`);
      try {
        accessSync(p, constants.X_OK);
        if (statSync(p).isFile()) return p;
      } catch {
        /* next */
      }
    }
  }
  throw new CliError('codex_not_found', 'The Codex CLI was not found on PATH. Install it (npm install -g @openai/codex) or set CODEX_AUTH_CODEX_BIN to its path.');
}
