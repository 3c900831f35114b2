/**
 * Shell completion, end to end: the scripts the built binary prints are loaded into the real shells
 * and asked for candidates, with `codex-auth` on PATH (a shim running the built bin) and a sandbox
 * registry behind the account candidates. The scripts are dynamic: every candidate comes from
 * `codex-auth __complete WORDS...` (src/cli/complete.ts), so these tests run the whole path.
 *
 * bash: sourced, then `_codex_auth` called with COMP_WORDS / COMP_CWORD as bash sets them.
 * zsh:  `zsh -n`, then a real interactive zsh on a pseudo-terminal (zsh/zpty) with compinit: a line
 *       is typed, TAB pressed, and the resulting command line read back.
 * fish: `fish -n`, then `complete -C`, fish's own non-interactive completion query.
 * zsh and fish are optional on a developer machine (skipped loudly when missing); CI installs them
 * (.ci/run), and CI=true turns a missing shell into a failure.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, BIN, runBin } from '../support/bin.js';
import { isolatedEnv } from '../support/codex.js';
import { secretScan } from '../support/e2e.js';
import { chatgptAuth } from '../support/jwt.js';

const ALICE = { email: 'alice@example.com', userId: 'user-alice', accountId: 'acc-alice', plan: 'plus' };
const ALICE_TEAM = { email: 'alice@example.com', userId: 'user-alice', accountId: 'acc-team', plan: 'team' };
const BOB = { email: 'bob@example.com', userId: 'user-bob', accountId: 'acc-bob', plan: 'pro' };
const CAROL = { email: 'carol@example.com', userId: 'user-carol', accountId: 'acc-carol', plan: 'plus' };

/** What the registry below offers for an account QUERY: aliases, emails, row numbers. */
const ACCOUNT_CANDIDATES = ['work', 'alice@example.com', 'bob@example.com', '1', '2', '3'];
/** An alias a shell must not evaluate, and one with an escape sequence (written into the registry by hand). */
const ODD_ALIAS = "my $(touch pwned) 'work'";
const ESC_ALIAS = 'evil\u001b]0;pwned\u0007';

let root: string;
let home: string;
let codexHome: string;
let otherHome: string;
let oddHome: string;
let shimDir: string;
const scripts: Record<'bash' | 'zsh' | 'fish', string> = { bash: '', zsh: '', fish: '' };
const { transcript, secrets } = secretScan();

function has(shell: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${shell}`]).status === 0;
}

/** Skip a shell loudly when it is missing; under CI=true a missing shell is a failure. */
function requireShell(shell: 'zsh' | 'fish'): boolean {
  if (has(shell)) return true;
  if (process.env.CI === 'true') throw new Error(`${shell} is required in CI (.ci/run installs it) and CI=true forbids skipping`);
  console.warn(`\n*** SKIPPING the ${shell} completion tests: ${shell} is not installed (apt-get install ${shell}) ***\n`);
  return false;
}
const HAVE_ZSH = requireShell('zsh');
const HAVE_FISH = requireShell('fish');

function shellEnv(extra: Record<string, string> = {}): Record<string, string> {
  return isolatedEnv(home, { CODEX_HOME: codexHome, PATH: `${shimDir}${path.delimiter}${process.env.PATH ?? ''}`, TZ: 'UTC', ...extra });
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

/** `_codex_auth` in a real bash, for the words of a command line (the last one is at the cursor). */
function bash(words: string[], env: Record<string, string> = shellEnv()): string[] {
  const r = spawnSync(
    'bash',
    ['--norc', '--noprofile', '-c', 'f=$1; shift; source "$f"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _codex_auth; printf "%s\\n" "${COMPREPLY[@]}"', '_', scripts.bash, ...words],
    { env, encoding: 'utf8', timeout: 20_000, cwd: root },
  );
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  transcript.push(r.stdout);
  return lines(r.stdout);
}

/** fish's `complete -C` for a command line: the candidates, without their descriptions. */
function fish(commandLine: string, withDescriptions = false): string[] {
  const file = path.join(root, 'codex-auth.fish');
  fs.writeFileSync(file, scripts.fish);
  const r = spawnSync('fish', ['--no-config', '-c', 'source $argv[1]; complete -C $argv[2]', file, commandLine], { env: shellEnv(), encoding: 'utf8', timeout: 20_000, cwd: root });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  transcript.push(r.stdout);
  return lines(r.stdout).map((l) => (withDescriptions ? l : (l.split('\t')[0] ?? '')));
}

/**
 * A real interactive zsh on a pseudo-terminal: compinit, the script, and a widget on ^X that appends
 * $BUFFER to a file. Each line is typed followed by TAB and ^X; returns the command lines after TAB.
 */
const ZPTY_DRIVER = `
zmodload zsh/zpty
script=$1 out=$2; shift 2
zpty z 'zsh -f -i'
zpty -w z "PS1='> '; autoload -Uz compinit && compinit -u -D; source \${(q)script}; dump() { print -r -- \\"\\$BUFFER\\" >> \${(q)out}; BUFFER= }; zle -N dump; bindkey '^X' dump; echo READY"
for i in {1..400}; do zpty -r -t z chunk && [[ $chunk == READY* ]] && break; sleep 0.05; done
n=0
for line in "$@"; do
  n=$((n + 1))
  zpty -w -n z "$line"$'\\t\\x18'
  for i in {1..400}; do [[ -f $out && $(wc -l < $out) -ge $n ]] && break; zpty -r -t z chunk; sleep 0.05; done
done
zpty -d z
`;

function zshTab(typed: string[]): string[] {
  const driver = path.join(root, 'zpty-driver.zsh');
  const script = path.join(root, '_codex-auth');
  const out = path.join(root, `zsh-out-${Date.now()}`);
  fs.writeFileSync(driver, ZPTY_DRIVER);
  fs.writeFileSync(script, scripts.zsh);
  const r = spawnSync('zsh', ['-f', driver, script, out, ...typed], { env: shellEnv(), encoding: 'utf8', timeout: 60_000, cwd: root });
  expect(r.status).toBe(0);
  const got = fs.existsSync(out) ? fs.readFileSync(out, 'utf8').split('\n').slice(0, typed.length) : [];
  transcript.push(got.join('\n'));
  return got;
}

/** The subcommands and the options a `--help` output lists: the oracle the scripts must match. */
async function helpOf(args: string[]): Promise<{ commands: string[]; options: string[] }> {
  const r = await runBin([...args, '--help'], { home, codexHome });
  expect(r.code).toBe(0);
  const section = (title: string): string[] => {
    const start = r.stdout.indexOf(`\n${title}:\n`);
    if (start < 0) return [];
    const body = r.stdout.slice(start + title.length + 3).split('\n\n')[0] ?? '';
    return body.split('\n').filter((l) => /^ {2}\S/.test(l));
  };
  return {
    commands: section('Commands').map((l) => (l.trim().split(/[\s|]/)[0] ?? '')),
    options: section('Options').flatMap((l) => (l.trim().split(/\s{2,}/)[0] ?? '').match(/--?[\w-]+/g) ?? []),
  };
}

beforeAll(async () => {
  assertBuilt();
  root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-completion-')));
  home = path.join(root, 'home');
  codexHome = path.join(home, '.codex');
  otherHome = path.join(root, 'other-codex');
  fs.mkdirSync(codexHome, { recursive: true });
  fs.mkdirSync(otherHome, { recursive: true });
  oddHome = path.join(root, 'odd-codex');
  fs.mkdirSync(oddHome, { recursive: true });
  fs.mkdirSync(path.join(root, 'importdir'), { recursive: true });
  fs.writeFileSync(path.join(root, 'importdir', 'one.json'), '{}');
  shimDir = path.join(root, 'bin');
  fs.mkdirSync(shimDir);
  fs.writeFileSync(path.join(shimDir, 'codex-auth'), `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`, { mode: 0o755 });

  // The registry behind the account candidates: Alice's two workspaces (one aliased "work") and Bob.
  const files = [ALICE, ALICE_TEAM, BOB].map((a, i) => {
    const doc = chatgptAuth(a);
    secrets.push(doc.tokens.access_token, doc.tokens.refresh_token, doc.tokens.id_token);
    const p = path.join(root, `auth-${i}.json`);
    fs.writeFileSync(p, JSON.stringify(doc));
    return p;
  });
  for (const args of [['import', ...files], ['alias', 'team', 'work']]) {
    const r = await runBin(args, { home, codexHome });
    transcript.push(r.stdout, r.stderr);
    expect(r.code).toBe(0);
  }
  const carol = chatgptAuth(CAROL);
  secrets.push(carol.tokens.access_token, carol.tokens.refresh_token, carol.tokens.id_token);
  fs.writeFileSync(path.join(root, 'carol.json'), JSON.stringify(carol));
  const other = await runBin(['import', path.join(root, 'carol.json'), '--alias', 'elsewhere'], { home, codexHome: otherHome });
  expect(other.code).toBe(0);
  // Odd aliases: one full of shell syntax, one with an escape sequence (only a hand edit gets it there).
  const dave = chatgptAuth({ email: 'dave@example.com', userId: 'user-dave', accountId: 'acc-dave' });
  const erin = chatgptAuth({ email: 'erin@example.com', userId: 'user-erin', accountId: 'acc-erin' });
  for (const d of [dave, erin]) secrets.push(d.tokens.access_token, d.tokens.refresh_token, d.tokens.id_token);
  fs.writeFileSync(path.join(root, 'dave.json'), JSON.stringify(dave));
  fs.writeFileSync(path.join(root, 'erin.json'), JSON.stringify(erin));
  expect((await runBin(['import', path.join(root, 'dave.json'), '--alias', ODD_ALIAS], { home, codexHome: oddHome })).code).toBe(0);
  expect((await runBin(['import', path.join(root, 'erin.json'), '--alias', 'erin'], { home, codexHome: oddHome })).code).toBe(0);
  const oddRegistry = path.join(oddHome, 'codex-auth', 'registry.json');
  fs.writeFileSync(oddRegistry, fs.readFileSync(oddRegistry, 'utf8').replace('"erin"', JSON.stringify(ESC_ALIAS)));

  for (const shell of ['bash', 'zsh', 'fish'] as const) {
    const r = await runBin(['completion', shell], { home, codexHome });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    scripts[shell] = r.stdout;
  }
  fs.writeFileSync(path.join(root, 'codex-auth.bash'), scripts.bash);
  scripts.bash = path.join(root, 'codex-auth.bash');
});

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe('completion command', () => {
  it('rejects an unknown shell with a usage error naming the supported ones', async () => {
    const r = await runBin(['completion', 'tcsh'], { home, codexHome });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Unknown shell "tcsh": codex-auth completion supports bash, zsh, fish.');
  });

  it('prints account candidates with __complete without syncing, then the directive; no candidates and no error on errors', async () => {
    const regFile = path.join(codexHome, 'codex-auth', 'registry.json');
    const before = fs.readFileSync(regFile, 'utf8');
    // An unknown live login would be added by any normal command; __complete must not touch anything.
    const dave = chatgptAuth({ email: 'dave@example.com', userId: 'user-dave', accountId: 'acc-dave' });
    secrets.push(dave.tokens.access_token, dave.tokens.refresh_token, dave.tokens.id_token);
    fs.writeFileSync(path.join(codexHome, 'auth.json'), JSON.stringify(dave), { mode: 0o600 });
    try {
      const r = await runBin(['__complete', 'switch', ''], { home, codexHome });
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      const got = lines(r.stdout).map((l) => l.split('\t'));
      expect(got.pop()).toEqual([':36']); // no file names, keep the order
      expect(got.map((c) => c[0])).toEqual(ACCOUNT_CANDIDATES);
      expect(got.find((c) => c[0] === 'alice@example.com')?.[1]).toBe('2 accounts: use a number or alias to pick one');
      expect(got.find((c) => c[0] === 'work')?.[1]).toBe('work — alice@example.com (team)');
      expect(fs.readFileSync(regFile, 'utf8')).toBe(before);
    } finally {
      fs.rmSync(path.join(codexHome, 'auth.json'));
    }
    const broken = path.join(root, 'broken-home');
    fs.mkdirSync(path.join(broken, 'codex-auth'), { recursive: true });
    fs.writeFileSync(path.join(broken, 'codex-auth', 'registry.json'), '{"version": 1, "accounts": [{"id": 5');
    for (const args of [['__complete', 'switch', ''], ['__complete', '--codex-home', path.join(root, 'missing'), 'switch', ''], ['__complete', 'remove', 'x', '']]) {
      const r = await runBin(args, { home, codexHome: broken });
      expect(r).toMatchObject({ code: 0, stdout: ':36\n', stderr: '' });
    }
    expect(await runBin(['__complete', 'nonsense'], { home, codexHome: broken })).toMatchObject({ code: 0, stdout: ':4\n', stderr: '' });
  });

  it('__complete takes the words as they are: --help, -- and partial options are words to complete', async () => {
    const at = async (...words: string[]) => (await runBin(['__complete', ...words], { home, codexHome })).stdout;
    expect(await at('--he')).toBe('--help\tshow help\n:4\n');
    expect(await at('--help')).toBe('--help\tshow help\n:4\n');
    expect(await at('import', '--al')).toBe('--alias\tname the imported account (one file only)\n:4\n');
    expect(await at('import', '--', '--al')).toBe(':8\n'); // after --, a file name
    expect(await at('switch', '--', 'w')).toBe('work\twork — alice@example.com (team)\n:36\n');
  });

  it('is fast: __complete adds little to a bare node start (no sync, no lock, no keyring, no network)', async () => {
    const time = (args: string[]): number => {
      const t = process.hrtime.bigint();
      const r = spawnSync(process.execPath, args, { env: shellEnv(), encoding: 'utf8' });
      expect(r.status).toBe(0);
      return Number(process.hrtime.bigint() - t) / 1e6;
    };
    const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const node: number[] = [];
    const comp: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      node.push(time(['-e', '0']));
      comp.push(time([BIN, '__complete', 'switch', '']));
    }
    console.log(`__complete switch '': median ${median(comp).toFixed(1)} ms; node -e 0: ${median(node).toFixed(1)} ms`);
    // Generous under load (2 cores shared with other test runs): a TAB must not feel like a command run.
    expect(median(comp) - median(node)).toBeLessThan(400);
  });

  it('does not list the hidden __complete command in help', async () => {
    expect((await helpOf([])).commands).not.toContain('__complete');
  });
});

describe('bash', () => {
  it('completes subcommands, exactly the ones --help lists', async () => {
    expect(bash(['codex-auth', 'sw'])).toEqual(['switch']);
    const all = bash(['codex-auth', '']);
    expect(all.sort()).toEqual((await helpOf([])).commands.sort());
    expect(all).toEqual(expect.arrayContaining(['list', 'switch', 'fallback', 'doctor', 'completion']));
    expect(all).not.toContain('__complete');
  });

  it('completes the options of a subcommand (also through an alias), exactly the ones its --help lists', async () => {
    expect(bash(['codex-auth', 'list', '--']).sort()).toEqual((await helpOf(['list'])).options.filter((o) => o.startsWith('--')).sort());
    expect(bash(['codex-auth', 'ls', '--re'])).toEqual(['--refresh']);
    expect(bash(['codex-auth', 'remove', '-']).sort()).toEqual((await helpOf(['remove'])).options.sort());
    expect(bash(['codex-auth', '--co'])).toEqual(['--codex-home']);
  });

  it('completes fallback subcommands and their options', async () => {
    expect(bash(['codex-auth', 'fallback', '']).sort()).toEqual(['disable', 'enable', 'help', 'status']);
    expect(bash(['codex-auth', 'fallback', 'en'])).toEqual(['enable']);
    expect(bash(['codex-auth', 'fallback', 'enable', '--']).sort()).toEqual((await helpOf(['fallback', 'enable'])).options.filter((o) => o.startsWith('--')).sort());
    expect(bash(['codex-auth', 'fallback', 'status', '--r'])).toEqual(['--refresh']);
    expect(bash(['codex-auth', 'help', 'fall'])).toEqual(['fallback']);
    expect(bash(['codex-auth', 'fallback', 'help', 'd'])).toEqual(['disable']);
  });

  it('completes account queries from the registry: aliases, emails, row numbers', () => {
    expect(bash(['codex-auth', 'switch', ''])).toEqual(ACCOUNT_CANDIDATES);
    expect(bash(['codex-auth', 'switch', 'al'])).toEqual(['alice@example.com']);
    expect(bash(['codex-auth', 'switch', 'w'])).toEqual(['work']);
    expect(bash(['codex-auth', 'rm', 'b'])).toEqual(['bob@example.com']);
    expect(bash(['codex-auth', 'remove', '1', 'work', ''])).toEqual(ACCOUNT_CANDIDATES); // QUERY...
    expect(bash(['codex-auth', 'alias', ''])).toEqual(ACCOUNT_CANDIDATES);
    expect(bash(['codex-auth', 'alias', 'work', ''])).toEqual([]); // NAME: free text
    expect(bash(['codex-auth', 'refresh', '--force', ''])).toEqual(ACCOUNT_CANDIDATES);
    expect(bash(['codex-auth', 'fallback', 'enable', '--key', 'bo'])).toEqual(['bob@example.com']);
    expect(bash(['codex-auth', 'fallback', 'enable', '--threshold', ''])).toEqual([]);
  });

  it('asks the registry of the --codex-home given on the command line', () => {
    expect(bash(['codex-auth', '--codex-home', otherHome, 'switch', ''])).toEqual(['elsewhere', 'carol@example.com', '1']);
    expect(bash(['codex-auth', '--codex-home', '=', otherHome, 'switch', 'e'])).toEqual(['elsewhere']); // --codex-home=DIR as bash splits it
  });

  it('completes files, directories and fixed choices where the CLI takes them', () => {
    fs.mkdirSync(path.join(root, 'importdir'), { recursive: true });
    fs.writeFileSync(path.join(root, 'importdir', 'one.json'), '{}');
    expect(bash(['codex-auth', 'import', 'importdir/o'])).toEqual(['importdir/one.json']);
    expect(bash(['codex-auth', '--codex-home', 'importd'])).toEqual(['importdir']);
    expect(bash(['codex-auth', 'completion', ''])).toEqual(['bash', 'zsh', 'fish']);
    expect(bash(['codex-auth', 'completion', 'f'])).toEqual(['fish']);
  });

  it('offers nothing, silently, when codex-auth is not on PATH or the registry is broken', () => {
    const noShim = isolatedEnv(home, { CODEX_HOME: codexHome, PATH: '/usr/bin:/bin' });
    expect(bash(['codex-auth', 'switch', ''], noShim)).toEqual([]);
    const broken = path.join(root, 'broken-bash');
    fs.mkdirSync(path.join(broken, 'codex-auth'), { recursive: true });
    fs.writeFileSync(path.join(broken, 'codex-auth', 'registry.json'), 'not json');
    expect(bash(['codex-auth', 'switch', ''], shellEnv({ CODEX_HOME: broken }))).toEqual([]);
    // Every candidate comes from the program (dynamic completion): without it, nothing, silently.
    expect(bash(['codex-auth', 'fallback', 'dis'], noShim)).toEqual([]);
  });

  it('completes partial options, words after --, and file names for import', () => {
    expect(bash(['codex-auth', 'import', '--al'])).toEqual(['--alias']);
    expect(bash(['codex-auth', 'switch', '--', ''])).toEqual(ACCOUNT_CANDIDATES);
    expect(bash(['codex-auth', 'import', '--', 'importdir/'])).toEqual(['importdir/one.json']);
    expect(bash(['codex-auth', 'import', ''])).toEqual(expect.arrayContaining(['importdir', 'codex-auth.bash']));
    expect(bash(['codex-auth', 'alias', 'work', 'impo'])).toEqual([]); // NAME: no file names
  });

  it('quotes an alias full of shell syntax, never runs it, and drops one with an escape sequence', () => {
    const got = bash(['codex-auth', '--codex-home', oddHome, 'switch', '']);
    expect(got).toEqual([String.raw`my\ \$\(touch\ pwned\)\ \'work\'`, 'dave@example.com', 'erin@example.com', '1', '2']);
    // What bash reads back from the inserted word is the alias itself.
    const r = spawnSync('bash', ['--norc', '-c', `printf '%s' ${got[0]}`], { encoding: 'utf8', cwd: root });
    expect(r.stdout).toBe(ODD_ALIAS);
    expect(fs.existsSync(path.join(root, 'pwned'))).toBe(false);
  });
});

describe.skipIf(!HAVE_ZSH)('zsh', () => {
  it('is valid zsh', () => {
    const file = path.join(root, '_codex-auth-syntax');
    fs.writeFileSync(file, scripts.zsh);
    const r = spawnSync('zsh', ['-n', file], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('completes commands, fallback subcommands, options, choices and accounts in an interactive zsh', () => {
    const got = zshTab([
      'codex-auth sw',
      'codex-auth fallback en',
      'codex-auth fallback enable --no-sw',
      'codex-auth list --ref',
      'codex-auth completion fi',
      'codex-auth switch wo',
      'codex-auth switch bo',
      `codex-auth --codex-home ${otherHome} switch else`,
      'codex-auth alias work x',
      'codex-auth import --al',
      'codex-auth import importd',
      'codex-auth help fall',
      'codex-auth switch -- bo',
      `codex-auth --codex-home ${oddHome} switch my`,
      `codex-auth --codex-home ${oddHome} switch ev`,
    ]);
    expect(got).toEqual([
      'codex-auth switch ',
      'codex-auth fallback enable ',
      'codex-auth fallback enable --no-switch-back ',
      'codex-auth list --refresh ',
      'codex-auth completion fish ',
      'codex-auth switch work ',
      'codex-auth switch bob@example.com ',
      `codex-auth --codex-home ${otherHome} switch elsewhere `,
      'codex-auth alias work x',
      'codex-auth import --alias ',
      'codex-auth import importdir/',
      'codex-auth help fallback ',
      'codex-auth switch -- bob@example.com ',
      `codex-auth --codex-home ${oddHome} switch my\\ \\$\\(touch\\ pwned\\)\\ \\'work\\' `,
      `codex-auth --codex-home ${oddHome} switch ev`, // the alias with an escape sequence is not offered
    ]);
    expect(fs.existsSync(path.join(root, 'pwned'))).toBe(false);
  });
});

describe.skipIf(!HAVE_FISH)('fish', () => {
  it('is valid fish', () => {
    const file = path.join(root, 'syntax.fish');
    fs.writeFileSync(file, scripts.fish);
    const r = spawnSync('fish', ['--no-config', '-n', file], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('completes subcommands and options with their descriptions', async () => {
    expect(fish('codex-auth sw', true)).toEqual(['switch\tmake an account the one Codex uses']);
    expect(fish('codex-auth ').sort()).toEqual((await helpOf([])).commands.sort());
    expect(fish('codex-auth fallback ').sort()).toEqual(['disable', 'enable', 'help', 'status']);
    expect(fish('codex-auth fallback enable --').sort()).toEqual((await helpOf(['fallback', 'enable'])).options.filter((o) => o.startsWith('--')).sort());
    expect(fish('codex-auth completion ').sort()).toEqual(['bash', 'fish', 'zsh']);
    expect(fish('codex-auth fallback en')).toEqual(['enable']);
    expect(fish('codex-auth import --al')).toEqual(['--alias']);
  });

  it('falls back to file names for import, and to none for a free-text argument', () => {
    expect(fish('codex-auth import importd')).toEqual(['importdir/']);
    expect(fish('codex-auth import -- importdir/')).toEqual(['importdir/one.json']);
    expect(fish('codex-auth alias work impo')).toEqual([]);
  });

  it('completes account queries from the registry', () => {
    expect(fish('codex-auth switch ').sort()).toEqual([...ACCOUNT_CANDIDATES].sort());
    expect(fish('codex-auth switch al', true)).toEqual(['alice@example.com\t2 accounts: use a number or alias to pick one']);
    expect(fish('codex-auth fallback enable --key w')).toEqual(['work']);
    expect(fish(`codex-auth --codex-home ${otherHome} remove `).sort()).toEqual(['1', 'carol@example.com', 'elsewhere']);
    expect(fish('codex-auth alias work ')).toEqual([]);
    expect(fish('codex-auth switch -- b')).toEqual(['bob@example.com']);
    expect(fish(`codex-auth --codex-home ${oddHome} switch `).sort()).toEqual(['1', '2', 'dave@example.com', 'erin@example.com', ODD_ALIAS].sort());
  });
});
