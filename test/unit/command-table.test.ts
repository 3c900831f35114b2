/**
 * The command table (src/cli/commands.ts) is the only source of commands: the command line parses
 * into the command's name, its arguments by name and its options — checked here without running
 * anything —, every entry declares the factory fields its handler gets, and the handler gets those
 * and nothing else (only()).
 */
import { describe, expect, it } from 'vitest';
import { type App, only, SERVICES } from '../../src/cli/app.js';
import { PROGRAM } from '../../src/cli/commands.js';
import { parseCommandLine, UsageError } from '../../src/cli/parse.js';
import { type CommandSpec, defineCommand } from '../../src/cli/spec.js';

const parse = (argv: string[]) => parseCommandLine(argv, PROGRAM);

/** Every entry with a handler, with its full name (`fallback enable`). */
function leaves(list: readonly CommandSpec[] = PROGRAM.commands, prefix = ''): { name: string; spec: CommandSpec }[] {
  return list.flatMap((c) => (c.subcommands ? leaves(c.subcommands, `${prefix}${c.name} `) : [{ name: `${prefix}${c.name}`, spec: c }]));
}

/** The codex-auth command line of an example: no pipes, redirections or comments; quotes removed. */
function exampleArgv(example: string): string[] {
  const segment = example.split('|').map((s) => s.trim()).find((s) => s.startsWith('codex-auth ')) ?? '';
  const line = segment.replace(/\s+#.*$/, '').replace(/\s+>.*$/, '');
  const words = [...line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
  return words.slice(1);
}

describe('parsing against the table', () => {
  it('gives the command, its arguments by name and its options', () => {
    expect(parse(['switch', '2', '--json'])).toMatchObject({ kind: 'run', command: 'switch', args: { query: '2' }, opts: { json: true }, global: { json: true } });
    expect(parse(['switch'])).toMatchObject({ command: 'switch', args: { query: undefined }, opts: {} });
    expect(parse(['rm', '3', 'old-laptop', '-y'])).toMatchObject({ command: 'remove', args: { query: ['3', 'old-laptop'] }, opts: { yes: true } });
    expect(parse(['alias', '2', 'work'])).toMatchObject({ command: 'alias', args: { query: '2', name: 'work' }, opts: {} });
    expect(parse(['import'])).toMatchObject({ command: 'import', args: { path: [] } });
    expect(parse(['fallback', 'enable', '--threshold', '95', '--no-rotate'])).toMatchObject({
      command: 'fallback enable',
      args: {},
      opts: { threshold: '95', rotate: false, switchBack: true },
    });
    expect(parse(['run', '--', 'exec', '--json', 'fix it'])).toMatchObject({ command: 'run', args: { codexArgs: ['exec', '--json', 'fix it'] }, opts: {} });
    expect(parse(['--codex-home', '/tmp/x', 'list', '--refresh'])).toMatchObject({ command: 'list', opts: { refresh: true }, global: { codexHome: '/tmp/x' } });
  });

  it('a flag declared with its negation is set only when one of them is given; a lone negation is always set', () => {
    const plain = parse(['gateway', 'enable']);
    expect(plain.kind === 'run' ? plain.opts : null).toEqual({});
    expect(parse(['gateway', 'enable', '--rotate'])).toMatchObject({ command: 'gateway enable', opts: { rotate: true } });
    expect(parse(['gateway', 'enable', '--no-rotate'])).toMatchObject({ command: 'gateway enable', opts: { rotate: false } });
    expect(() => parse(['gateway', 'enable', '--rotate', '--no-rotate'])).toThrow('use either --rotate or --no-rotate, not both');
    expect(parse(['fallback', 'enable'])).toMatchObject({ opts: { rotate: true, switchBack: true } });
  });

  it('refuses what the table does not declare, before any command runs', () => {
    expect(() => parse(['switch', '--frobnicate'])).toThrow(UsageError);
    expect(() => parse(['alias'])).toThrow("missing required argument 'query'");
    expect(() => parse(['switch', 'a', 'b'])).toThrow(/too many arguments/);
  });

  it("parses every example of every command into that command", () => {
    const all = leaves();
    expect(all.length).toBeGreaterThan(10);
    for (const { name, spec } of all) {
      if (spec.hidden) continue; // __complete: for the completion scripts only
      expect(spec.examples?.length, `${name} has examples`).toBeGreaterThan(0);
      for (const example of spec.examples ?? []) {
        const r = parse(exampleArgv(example));
        expect(r.kind === 'run' ? r.command : r.kind, example).toBe(name);
      }
    }
  });
});

describe('the dependencies a command gets', () => {
  it('every handler is declared with the factory fields it needs, all of them real', async () => {
    const fields = new Set(['ctx', 'out', 'opts', ...SERVICES]);
    for (const { name, spec } of leaves()) {
      expect(spec.load, name).toBeTypeOf('function');
      expect(spec.needs?.length, `${name} declares its needs`).toBeGreaterThan(0);
      for (const n of spec.needs ?? []) expect(fields.has(n), `${name} needs ${n}`).toBe(true);
      expect(await spec.load?.(), name).toBeTypeOf('function');
    }
  });

  it('only() hands over the declared fields, created on first use, methods bound', () => {
    let built = 0;
    const app = {
      clock: new Date('2026-01-02T03:04:05Z'),
      get registry() {
        built += 1;
        return { store: true };
      },
      get out() {
        return { out: true };
      },
      now(this: { clock: Date }) {
        return this.clock;
      },
    } as unknown as App;
    const view = only(app, ['registry', 'now']);
    expect(Object.keys(view).sort()).toEqual(['now', 'registry']);
    expect('out' in view).toBe(false);
    expect((view as unknown as Record<string, unknown>).out).toBeUndefined();
    expect(built).toBe(0);
    expect(view.registry).toEqual({ store: true });
    expect(built).toBe(1);
    const { now } = view;
    expect(now()).toEqual(new Date('2026-01-02T03:04:05Z'));
  });
});

describe('defineCommand (checked by tsc: each @ts-expect-error must be an error)', () => {
  it('types a handler by its entry: arguments, options and needs', () => {
    const json = { long: 'json', description: 'JSON' } as const;
    const ok = defineCommand({
      name: 'x',
      description: 'x',
      args: [{ name: 'the-query', description: 'q' }],
      options: [{ long: 'alias', value: 'name', description: 'a' }, { long: 'no-rotate', description: 'r' }, json],
      needs: ['out'],
      load: async () => async (app: Pick<App, 'out'>, args: { theQuery?: string }, opts: { alias?: string; rotate: boolean; json?: boolean }) =>
        app.out && args.theQuery === undefined && opts.rotate ? 0 : 1,
    });
    expect(ok.name).toBe('x');
    const pair = defineCommand({
      name: 'pair',
      description: 'x',
      options: [{ long: 'rotate', description: 'r' }, { long: 'no-rotate', description: 'r' }],
      needs: ['out'],
      // Declared with its negation: the handler must allow it to be absent.
      load: async () => async (_app: Pick<App, 'out'>, _args: unknown, opts: { rotate?: boolean }) => (opts.rotate === undefined ? 0 : 1),
    });
    expect(pair.name).toBe('pair');
    const bad = [
      defineCommand({
        name: 'wrong-option-type',
        description: 'x',
        options: [json],
        needs: ['out'],
        // @ts-expect-error --json is a flag, not a number
        load: async () => async (_app: Pick<App, 'out'>, _args: unknown, _opts: { json?: number }) => 0,
      }),
      defineCommand({
        name: 'undeclared-need',
        description: 'x',
        needs: ['out'],
        // @ts-expect-error the handler uses the registry, which the entry does not declare
        load: async () => async (_app: Pick<App, 'out' | 'registry'>) => 0,
      }),
      defineCommand({
        name: 'unknown-argument',
        description: 'x',
        args: [{ name: 'query', description: 'q' }],
        needs: ['out'],
        // @ts-expect-error the entry has no argument `name`
        load: async () => async (_app: Pick<App, 'out'>, _args: { name: string }) => 0,
      }),
      defineCommand({
        name: 'pair-always-set',
        description: 'x',
        options: [{ long: 'rotate', description: 'r' }, { long: 'no-rotate', description: 'r' }],
        needs: ['out'],
        // @ts-expect-error --rotate with --no-rotate may be absent: not a required boolean
        load: async () => async (_app: Pick<App, 'out'>, _args: unknown, _opts: { rotate: boolean }) => 0,
      }),
    ];
    expect(bad).toHaveLength(4);
  });
});
