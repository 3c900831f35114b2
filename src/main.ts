/**
 * Entry point of the bundle (dist/cli.cjs): bin/codex-auth.cjs calls main(). Every command line goes
 * through the one commander program in cli/program.ts.
 */
import { flushStreams } from './platform/context.js';
import { runProgram } from './cli/program.js';

export { VERSION } from './version.js';
export { flushStreams };
export { runProgram as runCli };

/** Runs the command line and exits with its code once output is flushed. */
export async function main(argv: string[] = process.argv.slice(2)): Promise<never> {
  const code = await runProgram(argv);
  // Exit as soon as output is flushed: a keyring call cut off by its timeout must not keep us alive.
  await flushStreams();
  process.exit(code);
}
