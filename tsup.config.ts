import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { defineConfig, type Options } from 'tsup';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

// CommonJS bundles of codex-auth's own code; the packages it depends on stay in node_modules and are
// required lazily by the commands that use them (see src/vendor/). CommonJS because it starts
// faster than ES modules on Node 20 and can be loaded through V8's code cache (bin/codex-auth.cjs),
// which Node 20 has no built-in switch for. The source itself is ESM.
//
// Two bundles: dist/cli.cjs has the hot path (list, switch, status, --version) and is all most runs
// load; dist/program.cjs has the commander program and every command, required by cli.cjs only
// when the command line is anything else.
// esbuild turns `import fs from 'node:fs'` into `__toESM(require("fs"), 1)`, which copies every
// export of the module onto a new object — some twenty times per run, about a millisecond. A
// built-in module needs no interop: an object whose prototype is the module, with `default` being
// the module, answers every default and named import the same way.
const builtinNames = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const bundleTweaks = {
  name: 'bundle-tweaks',
  renderChunk(code: string) {
    const out = code
      .replace(/__toESM\(require\("([^"]+)"\), 1\)/g, (all, name: string) => (builtinNames.has(name) ? `__builtinESM(require(${JSON.stringify(name)}))` : all))
      // esbuild escapes non-ASCII in strings but keeps it in the comments it keeps: one em dash makes
      // V8 hold the whole bundle as a two-byte string. In a comment an escape is just text.
      .replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    if (out === code) return undefined;
    const helper = 'var __builtinESM = (mod) => Object.create(mod, { default: { value: mod, enumerable: true } });\n';
    // After the "use strict" directive, before the first use.
    return { code: out.startsWith('"use strict";\n') ? `"use strict";\n${helper}${out.slice(14)}` : `${helper}${out}` };
  },
};

const common: Options = {
  plugins: [bundleTweaks],
  format: ['cjs'],
  outExtension: () => ({ js: '.cjs' }),
  target: 'node20',
  platform: 'node',
  splitting: false,
  sourcemap: false,
  minify: false,
  treeshake: false, // rollup's tree-shaking would hoist every lazy require to the top
  // Every bare package name stays external (node: builtins are external on platform node anyway).
  external: [/^[^./]/],
  define: { __VERSION__: JSON.stringify(pkg.version) },
  esbuildOptions(o) {
    // src/domain/hash.ts falls back to import.meta only where `require` is missing (never here).
    o.logOverride = { 'empty-import-meta': 'silent' };
  },
};

export default defineConfig([
  // commander is bundled into the program (it is always needed there, and so goes through the
  // compiled-code cache with it); every other package stays in node_modules.
  { ...common, entry: { program: 'src/program.ts' }, clean: false, external: [/^(?!commander(\/|$))[^./]/], noExternal: ['commander'] },
  {
    ...common,
    entry: { cli: 'src/cli.ts' },
    clean: false,
    esbuildPlugins: [
      {
        // cli.ts's `import('./program.js')` becomes a runtime require of the sibling bundle.
        name: 'program-bundle',
        setup(build) {
          build.onResolve({ filter: /^\.\/program\.js$/ }, () => ({ path: 'program-bundle', namespace: 'program-bundle' }));
          build.onResolve({ filter: /^\.\/program\.cjs$/ }, () => ({ path: './program.cjs', external: true }));
          build.onLoad({ filter: /.*/, namespace: 'program-bundle' }, () => ({ contents: "module.exports = require('./program.cjs');", loader: 'js' }));
        },
      },
    ],
  },
]);
