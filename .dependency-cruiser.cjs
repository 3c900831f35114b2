/**
 * The layers of codex-auth, checked by `npm run lint:deps` (part of `npm test`, so of CI):
 *
 *   main → cli (table, parser, factory) → commands → services → domain and stores → platform
 *
 * - platform/ (Ctx, streams, HTTP client, process list): imports nothing of ours
 *   but platform/ and errors.ts.
 * - domain/: pure logic and the data types; imports only domain/ (Node's built-ins it needs on
 *   first use come from process.getBuiltinModule).
 * - stores and adapters (store/, codex/, openai/): domain, platform, errors and each other.
 * - services/ and gateway/ (the loopback gateway, a service too): everything below them; never
 *   commands/, cli/ or ui/ (they return results and report events; only commands print).
 * - ui/ (output, tables, prompts): domain, platform and errors only.
 * - commands/: anything below, cli/spec.ts, the factory (cli/app.ts) and cli/complete.ts (shell
 *   completion's candidates: a pure function of a table it is given); never another command
 *   (shared pieces go to services/).
 * - no import cycles anywhere, type-only imports included.
 *
 * Paths are relative to the folder depcruise runs in, so the same rules check test/fixtures/layers
 * (test/unit/layers.test.ts proves each rule fires).
 */
const ours = '^src/';
/** What every layer may use: the shared error type and the version constant. */
const shared = '^src/(errors|version)\\.ts$';

/** A rule: modules under `from` may import nothing of ours outside `allowed`. */
function only(name, comment, from, allowed) {
  return {
    name,
    comment,
    severity: 'error',
    from: { path: from },
    to: { path: ours, pathNot: [...allowed, shared] },
  };
}

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Import cycles make the load order matter and the layers meaningless; move the shared piece down.',
      severity: 'error',
      from: { path: ours },
      to: { circular: true },
    },
    only('platform-is-the-bottom', 'platform/ is the lowest layer: it imports nothing of ours above it.', '^src/platform/', ['^src/platform/']),
    only('domain-is-pure', 'domain/ is pure logic and owns the data types: it imports only domain/.', '^src/domain/', ['^src/domain/']),
    only(
      'stores-below-services',
      'Stores and adapters (store/, codex/, openai/) use domain/, platform/ and each other, never services, commands or UI.',
      '^src/(store|codex|openai)/',
      ['^src/(store|codex|openai|domain|platform)/'],
    ),
    only(
      'services-do-not-print',
      'services/ (and gateway/) return results and report events; they never import commands/, cli/ or ui/ (only commands print).',
      '^src/(services|gateway)/',
      ['^src/(services|gateway|store|codex|openai|domain|platform)/'],
    ),
    only('ui-is-presentation', 'ui/ renders; it uses domain/ (display), platform/ (streams) and errors only.', '^src/ui/', ['^src/(ui|domain|platform)/']),
    {
      name: 'commands-do-not-import-commands',
      comment: 'A command never imports another: what two commands share is a service.',
      severity: 'error',
      from: { path: '^src/commands/([^/]+)\\.ts$' },
      to: { path: '^src/commands/', pathNot: '^src/commands/$1\\.ts$' },
    },
    only(
      'commands-use-the-framework-only',
      'commands/ may use everything below them, cli/spec.ts, the factory (cli/app.ts) and completion (cli/complete.ts), but not the parser, the table or the program.',
      '^src/commands/',
      ['^src/(commands|services|gateway|store|codex|openai|domain|platform|ui)/', '^src/cli/(spec|app|complete)\\.ts$'],
    ),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
  },
};
