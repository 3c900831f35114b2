#!/usr/bin/env node
// Thin launcher: enable the module compile cache where Node has it, then run the bundle.
import module from 'node:module';
if (typeof module.enableCompileCache === 'function' && !process.env.NODE_DISABLE_COMPILE_CACHE) {
  try { module.enableCompileCache(); } catch { /* best effort */ }
}
const { runCli } = await import('../dist/cli.js');
const code = await runCli(process.argv.slice(2));
// Exit as soon as output is flushed: a keyring call cut off by its timeout must not keep us alive.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
