import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

// One bundled ESM file for the CLI. Heavy modules (undici, the keyring, TOML, prompts)
// are imported dynamically by the commands that need them, so they land in separate
// chunks and fast commands never load them.
export default defineConfig({
  entry: { cli: 'src/cli.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  splitting: true,
  sourcemap: false,
  clean: true,
  minify: false,
  treeshake: true,
  // Bundle every dependency so start-up reads a few files instead of hundreds.
  noExternal: [/^(?!@napi-rs\/keyring)/],
  external: ['@napi-rs/keyring'],
  define: { __VERSION__: JSON.stringify(pkg.version) },
  banner: {
    js: "import { createRequire as __cjsCreateRequire } from 'node:module'; const require = __cjsCreateRequire(import.meta.url);",
  },
});
