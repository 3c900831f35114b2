#!/usr/bin/env node
// Thin launcher: enable the module compile cache where Node has it, then run the bundle.
import module from 'node:module';
if (typeof module.enableCompileCache === 'function' && !process.env.NODE_DISABLE_COMPILE_CACHE) {
  try { module.enableCompileCache(); } catch { /* best effort */ }
}
const { runCli } = await import('../dist/cli.js');
process.exitCode = await runCli(process.argv.slice(2));
