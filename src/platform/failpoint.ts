/**
 * Crash points for the crash tests (test/torture): with CODEX_AUTH_TEST_CRASH_AT=<name>, the process
 * kills itself with SIGKILL when it reaches the point of that name — exactly what a crash, a power
 * cut or `kill -9` at that instant would leave behind. Unset (always, outside those tests): nothing.
 */
export function crashPoint(env: NodeJS.ProcessEnv, name: string): void {
  if (env.CODEX_AUTH_TEST_CRASH_AT === name) process.kill(process.pid, 'SIGKILL');
}
