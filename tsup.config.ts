import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

// One bundle, dist/cli.cjs, loaded by bin/codex-auth.cjs (which turns on Node's own compile cache
// first, where Node has it). CommonJS, although the source is ESM: an ES module that imports a Node
// built-in gets all of its exports at once, which loads everything behind the built-in's lazy
// getters (node:fs brings fs/promises and readline, node:util a dozen more): about 10 ms a run on
// Node 24, more than a whole `list` may take. require() leaves them lazy.
//
// The small libraries codex-auth needs (zod, smol-toml) are bundled in, so a run reads one
// file instead of resolving dozens in node_modules; the heavy ones (undici, @napi-rs/keyring,
// @inquirer/prompts) stay in node_modules and are imported lazily by the code that needs them, so
// commands that make no network or keyring call, or open no prompt, never load them.
const BUNDLED = new Set(['zod', 'smol-toml']);

export default defineConfig({
  entry: { cli: 'src/main.ts' },
  format: ['cjs'],
  outExtension: () => ({ js: '.cjs' }),
  target: 'node20',
  platform: 'node',
  splitting: false,
  sourcemap: false,
  minify: false,
  clean: true,
  // Every bare package name not in BUNDLED stays external (node: built-ins are external anyway).
  external: [/^[^./]/],
  noExternal: [...BUNDLED].map((name) => new RegExp(`^${name}(/|$)`)),
  define: { __VERSION__: JSON.stringify(pkg.version) },
});
