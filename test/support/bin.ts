/** Runs the built codex-auth binary (bin/codex-auth.cjs → dist/cli.cjs) as a user would, isolated. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import { isolatedEnv, REPO_ROOT, type RunResult, runProcess } from './codex.js';

export const BIN = join(REPO_ROOT, 'bin', 'codex-auth.cjs');

export function assertBuilt(): void {
  if (!existsSync(join(REPO_ROOT, 'dist', 'cli.cjs'))) throw new Error('dist/cli.cjs is missing: run "npm run build" (npm test does it first).');
}

export interface BinOptions {
  home: string;
  codexHome?: string;
  env?: Record<string, string>;
  input?: string;
  timeoutMs?: number;
  cwd?: string;
}

/**
 * The shared private keyring session's environment (see global-setup.ts). Suites that store API keys
 * call `requireKeyring()` at load time: it skips them loudly where the keyring parts are missing, and
 * fails under CI=true.
 */
export function keyringEnv(): Record<string, string> {
  return inject('keyringEnv') ?? {};
}

export function requireKeyring(): { skip: boolean } {
  const why = inject('keyringWhy');
  if (!why) return { skip: false };
  if (process.env.CI === 'true') throw new Error(`the real keyring is required and CI=true forbids skipping: ${why}`);
  console.warn(`\n*** SKIPPING tests that need the OS keyring: ${why} ***\n`);
  return { skip: true };
}

export function runBin(args: string[], opts: BinOptions): Promise<RunResult> {
  const env = isolatedEnv(opts.home, { ...keyringEnv(), ...(opts.codexHome ? { CODEX_HOME: opts.codexHome } : {}), TZ: 'UTC', ...opts.env });
  return runProcess(process.execPath, [BIN, ...args], {
    env,
    cwd: opts.cwd ?? opts.home,
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    timeoutMs: opts.timeoutMs ?? 30_000,
  });
}
