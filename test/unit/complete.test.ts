/**
 * Shell completion's candidates (src/cli/complete.ts): a pure function of the command table, the
 * words of the command line and the registry's accounts.
 */
import { describe, expect, it } from 'vitest';
import { PROGRAM } from '../../src/cli/commands.js';
import { type AccountSource, complete, completionLines, DIRECTIVE } from '../../src/cli/complete.js';
import { parseCommandLine } from '../../src/cli/parse.js';
import type { Account } from '../../src/store/registry-schema.js';
import { acc } from '../support/accounts.js';

const ACCOUNTS = [
  acc({ id: 'chatgpt::u-b::b', email: 'bob@example.com', plan: 'pro' }),
  acc({ id: 'chatgpt::u-a::team', email: 'alice@example.com', plan: 'team', alias: 'work' }),
  acc({ id: 'chatgpt::u-a::plus', email: 'alice@example.com', plan: 'plus' }),
];

/** The accounts, recording which Codex homes they were asked for. */
function source(accounts: readonly Account[] = ACCOUNTS): AccountSource & { homes: (string | undefined)[] } {
  const homes: (string | undefined)[] = [];
  return Object.assign((home: string | undefined) => {
    homes.push(home);
    return { accounts };
  }, { homes });
}

function values(words: string[], accounts = source()): string[] {
  return complete(PROGRAM, words, accounts).candidates.map((c) => c.value);
}

const VISIBLE = PROGRAM.commands.filter((c) => !c.hidden).map((c) => c.name);

describe('commands', () => {
  it('offers the visible commands and help, with descriptions, never the hidden __complete, and no file names', () => {
    const r = complete(PROGRAM, [''], source());
    expect(r.candidates.map((c) => c.value)).toEqual([...VISIBLE, 'help']);
    expect(r.candidates.map((c) => c.value)).not.toContain('__complete');
    expect(r.candidates.find((c) => c.value === 'switch')?.description).toBe('make an account the one Codex uses');
    expect(r.directive).toBe(DIRECTIVE.noFiles);
    expect(values(['sw'])).toEqual(['switch']);
    expect(values(['__'])).toEqual([]);
    expect(complete(PROGRAM, [], source()).candidates.map((c) => c.value)).toEqual([...VISIBLE, 'help']);
  });

  it('offers nested subcommands: fallback en → enable, also after program options', () => {
    expect(values(['fallback', ''])).toEqual(['enable', 'disable', 'status', 'help']);
    expect(values(['fallback', 'en'])).toEqual(['enable']);
    expect(values(['--debug', '--codex-home', '/x', 'fallback', 'd'])).toEqual(['disable']);
    expect(values(['--', 'li'])).toEqual(['list']); // -- ends the program's options; the command follows
    expect(values(['ls', ''])).toEqual([]); // list takes no argument
  });

  it('help [command...] offers the commands it can show, without help itself', () => {
    expect(values(['help', ''])).toEqual(VISIBLE);
    expect(values(['help', 'fall'])).toEqual(['fallback']);
    expect(values(['help', 'fallback', ''])).toEqual(['enable', 'disable', 'status']);
    expect(values(['fallback', 'help', 'd'])).toEqual(['disable']);
    expect(values(['help', 'list', ''])).toEqual([]);
  });
});

describe('options', () => {
  it("offers the current command's options (short and long) and --help, filtered by the partial word", () => {
    expect(values(['list', '--'])).toEqual(['--refresh', '--json', '--help']);
    expect(values(['ls', '--re'])).toEqual(['--refresh']);
    expect(values(['import', '--al'])).toEqual(['--alias']);
    expect(values(['remove', '-'])).toEqual(['-y', '--yes', '--json', '-h', '--help']);
    expect(values(['fallback', 'enable', '--no-'])).toEqual(['--no-rotate', '--no-switch-back']);
    expect(complete(PROGRAM, ['list', '--r'], source()).candidates).toEqual([{ value: '--refresh', description: 'fetch current usage of every ChatGPT account' }]);
  });

  it("offers the program's options before a command", () => {
    expect(values(['--co'])).toEqual(['--codex-home']);
    expect(values(['-'])).toEqual(['-V', '--version', '--codex-home', '--debug', '-h', '--help']);
  });

  it('completes option values: directories for --codex-home, accounts for --key, nothing for free text', () => {
    expect(complete(PROGRAM, ['--codex-home', ''], source())).toEqual({ candidates: [], directive: DIRECTIVE.dirs });
    expect(complete(PROGRAM, ['switch', '--codex-home', 'x'], source())).toEqual({ candidates: [], directive: DIRECTIVE.dirs }); // after the command too
    expect(complete(PROGRAM, ['--codex-home', '=', ''], source())).toEqual({ candidates: [], directive: DIRECTIVE.dirs }); // as bash splits --codex-home=
    expect(values(['fallback', 'enable', '--key', 'bo'])).toEqual(['bob@example.com']);
    expect(complete(PROGRAM, ['fallback', 'enable', '--threshold', ''], source())).toEqual({ candidates: [], directive: DIRECTIVE.noFiles });
    expect(complete(PROGRAM, ['import', '--alias', ''], source())).toEqual({ candidates: [], directive: DIRECTIVE.noFiles });
    // An option's value is not a positional argument: the QUERY is still to come.
    expect(values(['import', '--alias', 'x', '--re'])).toEqual(['--recursive']);
    expect(values(['refresh', '--force', 'w'])).toEqual(['work']);
  });
});

describe('arguments', () => {
  it('offers accounts for a QUERY: aliases, emails, row numbers (numbered() order), kept in that order', () => {
    const accounts = source();
    const r = complete(PROGRAM, ['switch', ''], accounts);
    expect(r.candidates.map((c) => c.value)).toEqual(['work', 'alice@example.com', 'bob@example.com', '1', '2', '3']);
    expect(r.directive).toBe(DIRECTIVE.noFiles | DIRECTIVE.keepOrder);
    expect(r.candidates.find((c) => c.value === 'alice@example.com')?.description).toBe('2 accounts: use a number or alias to pick one');
    expect(r.candidates.find((c) => c.value === 'work')?.description).toBe('work — alice@example.com (team)');
    expect(r.candidates.find((c) => c.value === '3')?.description).toBe('bob@example.com (pro)');
    expect(accounts.homes).toEqual([undefined]);
    expect(values(['switch', 'al'])).toEqual(['alice@example.com']);
    expect(values(['rm', '1', 'work', 'b'])).toEqual(['bob@example.com']); // QUERY...
    expect(values(['alias', ''])).toEqual(['work', 'alice@example.com', 'bob@example.com', '1', '2', '3']);
    expect(complete(PROGRAM, ['alias', 'work', ''], source())).toEqual({ candidates: [], directive: DIRECTIVE.noFiles }); // NAME: free text
    expect(complete(PROGRAM, ['switch', 'work', ''], source())).toEqual({ candidates: [], directive: DIRECTIVE.noFiles }); // one QUERY only
  });

  it('numbers accounts the way list does: stored numbers, and the registry counter for one without', () => {
    const stored = [acc({ id: 'chatgpt::u-b::b', email: 'bob@example.com', number: 4 }), acc({ id: 'chatgpt::u-c::c', email: 'carol@example.com' })];
    const numbers = (nextNumber?: number) =>
      complete(PROGRAM, ['switch', ''], () => (nextNumber === undefined ? { accounts: stored } : { accounts: stored, nextNumber }))
        .candidates.filter((c) => /^[0-9]+$/.test(c.value))
        .map((c) => `${c.value} ${c.description}`);
    expect(numbers()).toEqual(['4 bob@example.com (plus)', '5 carol@example.com (plus)']);
    // Numbers 5..8 were given before and removed: the counter says the next one is 9, as list shows.
    expect(numbers(9)).toEqual(['4 bob@example.com (plus)', '9 carol@example.com (plus)']);
  });

  it('reads the accounts only for a QUERY, from the --codex-home given on the command line', () => {
    const accounts = source();
    for (const words of [[''], ['list', '--'], ['import', ''], ['completion', ''], ['fallback', 'en']]) complete(PROGRAM, words, accounts);
    expect(accounts.homes).toEqual([]);
    complete(PROGRAM, ['--codex-home', '/other', 'switch', ''], accounts);
    complete(PROGRAM, ['--codex-home=~/other', 'remove', ''], accounts);
    complete(PROGRAM, ['--codex-home', '=', '/split', 'switch', ''], accounts);
    complete(PROGRAM, ['switch', '--codex-home', '/after', ''], accounts);
    expect(accounts.homes).toEqual(['/other', '~/other', '/split', '/after']);
  });

  it('falls back to file names for import PATH and run, to fixed choices for completion SHELL', () => {
    expect(complete(PROGRAM, ['import', ''], source())).toEqual({ candidates: [], directive: DIRECTIVE.files });
    expect(complete(PROGRAM, ['import', 'a.json', '-r', 'b'], source())).toEqual({ candidates: [], directive: DIRECTIVE.files });
    expect(complete(PROGRAM, ['run', '--', 'exec', ''], source())).toEqual({ candidates: [], directive: DIRECTIVE.files });
    expect(complete(PROGRAM, ['run', '-'], source())).toEqual({ candidates: [{ value: '-h', description: 'show help' }, { value: '--help', description: 'show help' }], directive: DIRECTIVE.files });
    expect(complete(PROGRAM, ['run', 'exec', '--mo'], source())).toEqual({ candidates: [], directive: DIRECTIVE.files }); // codex's options
    expect(complete(PROGRAM, ['completion', ''], source())).toEqual({ candidates: [{ value: 'bash' }, { value: 'zsh' }, { value: 'fish' }], directive: DIRECTIVE.noFiles | DIRECTIVE.keepOrder });
    expect(values(['completion', 'f'])).toEqual(['fish']);
    expect(complete(PROGRAM, ['add-api-key', ''], source())).toEqual({ candidates: [], directive: DIRECTIVE.noFiles }); // a key: never a file name
  });

  it('after --, every word is an argument: no options are offered', () => {
    expect(complete(PROGRAM, ['import', '--', '--al'], source())).toEqual({ candidates: [], directive: DIRECTIVE.files });
    expect(values(['switch', '--', ''])).toEqual(['work', 'alice@example.com', 'bob@example.com', '1', '2', '3']);
    expect(values(['switch', '--', '-'])).toEqual([]);
    expect(values(['remove', '--', '--yes', 'wo'])).toEqual(['work']); // --yes was a QUERY there
    expect(values(['fallback', 'enable', '--', '--'])).toEqual([]);
  });
});

describe('safety', () => {
  it('drops account values with control or bidi characters, or a leading "-"; descriptions are escaped', () => {
    const accounts = source([
      acc({ id: 'a', email: 'evil\u001b]0;pwned\u0007@example.com', alias: 'ok' }),
      acc({ id: 'b', email: 'rtl\u202e@example.com', alias: 'tab\there' }),
      acc({ id: 'c', email: 'dash@example.com', alias: '-rf' }),
    ]);
    const r = complete(PROGRAM, ['switch', ''], accounts);
    expect(r.candidates.map((c) => c.value)).toEqual(['ok', 'dash@example.com', '1', '2', '3']);
    const text = completionLines(r);
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/);
    expect(text).toContain('ok\tok — evil\\x1b]0;pwned\\x07@example.com (plus)\n');
  });

  it('prints value<TAB>description lines (or the bare value), then the directive line', () => {
    expect(completionLines({ candidates: [{ value: 'switch', description: 'make it\nthe one' }, { value: 'bash' }, { value: 'bad\tvalue' }], directive: 36 })).toBe('switch\tmake it\\nthe one\nbash\n:36\n');
    expect(completionLines({ candidates: [], directive: DIRECTIVE.files })).toBe(':8\n');
  });

  it('__complete gets its words exactly as given: --help, -- and --json are words to complete, not its options', () => {
    const parsed = parseCommandLine(['__complete', '--help', '--', '--json', ''], PROGRAM);
    expect(parsed).toMatchObject({ kind: 'run', command: '__complete', args: { words: ['--help', '--', '--json', ''] }, opts: {} });
    expect(parsed.kind === 'run' && parsed.path.map((c) => c.name)).toEqual(['__complete']);
  });
});
