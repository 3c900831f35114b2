/**
 * The layering rules of .dependency-cruiser.cjs (run by `npm run lint:deps`, part of `npm test`):
 * each rule fires on a tree made to break it (test/fixtures/layers), allowed imports pass, and
 * codex-auth's own src/ keeps every rule.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const depcruise = path.join(root, 'node_modules/.bin/depcruise');
const config = path.join(root, '.dependency-cruiser.cjs');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

/**
 * depcruise on `src` under `cwd`: the exit code of the check as `npm run lint:deps` runs it (the
 * `err` report), and the violations (from the JSON report).
 */
function cruise(cwd: string): { code: number; violations: string[] } {
  let code = 0;
  try {
    execFileSync(depcruise, ['src', '--config', config, '--output-type', 'err'], { cwd, stdio: 'ignore' });
  } catch (e) {
    code = (e as { status: number }).status;
  }
  const stdout = execFileSync(depcruise, ['src', '--config', config, '--output-type', 'json'], { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  const out = JSON.parse(stdout) as { summary: { violations: Violation[] } };
  return { code, violations: out.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort() };
}

describe('layering rules (.dependency-cruiser.cjs)', () => {
  it('fire on each kind of violation, and only there', () => {
    const r = cruise(path.join(root, 'test/fixtures/layers'));
    expect(r.violations).toEqual(
      [
        'commands-do-not-import-commands: src/commands/a.ts -> src/commands/b.ts',
        'commands-use-the-framework-only: src/commands/b.ts -> src/cli/parse.ts',
        'domain-is-pure: src/domain/pure.ts -> src/platform/base.ts',
        'domain-is-pure: src/domain/pure.ts -> src/store/st.ts',
        'no-circular: src/domain/c1.ts -> src/domain/c2.ts',
        'platform-is-the-bottom: src/platform/low.ts -> src/services/svc.ts',
        'services-do-not-print: src/services/svc.ts -> src/ui/out.ts',
        'stores-below-services: src/store/st.ts -> src/services/svc.ts',
        'ui-is-presentation: src/ui/out.ts -> src/store/st2.ts',
      ].sort(),
    );
    expect(r.code).not.toBe(0);
  });

  it("hold for codex-auth's own source", () => {
    expect(cruise(root)).toEqual({ code: 0, violations: [] });
  });
});
