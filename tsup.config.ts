import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

// One CommonJS file with all of codex-auth's own code; the packages it depends on stay in
// node_modules and are required lazily by the commands that use them (see src/vendor/). CommonJS
// because it starts faster than ES modules on Node 20 and can be loaded through V8's code cache
// (bin/codex-auth.cjs), which Node 20 has no built-in switch for. The source itself is ESM.
export default defineConfig({
  entry: { cli: 'src/cli.ts' },
  format: ['cjs'],
  outExtension: () => ({ js: '.cjs' }),
  target: 'node20',
  platform: 'node',
  splitting: false,
  sourcemap: false,
  clean: true,
  minify: false,
  treeshake: false, // rollup's tree-shaking would hoist every lazy require to the top
  // Every bare package name stays external (node: builtins are external on platform node anyway).
  external: [/^[^./]/],
  define: { __VERSION__: JSON.stringify(pkg.version) },
  // src/domain/hash.ts falls back to import.meta only where `require` is missing (never in this bundle).
  esbuildOptions(o) {
    o.logOverride = { 'empty-import-meta': 'silent' };
  },
});
