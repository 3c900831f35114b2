/**
 * The prompts of src/ui/prompts.ts (@inquirer/prompts underneath), driven through a fake terminal: a
 * PassThrough stdin flagged as a TTY (raw mode recorded) and a recording stderr. Keys are typed only once
 * the prompt is on screen (inquirer drops what was typed before it started, like a real terminal).
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Cancelled } from '../../src/errors.js';
import { canPrompt, confirm, filterChoices, password, pick } from '../../src/ui/prompts.js';
import { waitFor } from '../support/wait.js';

type FakeStdin = PassThrough & { isTTY?: boolean; isRaw: boolean; setRawMode?(mode: boolean): FakeStdin };

function fakeTerminal(env: NodeJS.ProcessEnv = {}) {
  const stdin = new PassThrough() as FakeStdin;
  stdin.isRaw = false;
  stdin.isTTY = true;
  stdin.setRawMode = (mode: boolean) => {
    stdin.isRaw = mode;
    return stdin;
  };
  let data = '';
  const stderr = {
    isTTY: true,
    columns: 100,
    write(chunk: string) {
      data += chunk;
      return true;
    },
  };
  return { io: { stdin, stderr, env }, stdin, output: () => data };
}

/** Waits for `text` on screen (after the last check), then types `keys` one chunk at a time. */
async function typeWhen(t: ReturnType<typeof fakeTerminal>, text: string, ...keys: string[]): Promise<void> {
  await waitFor(() => t.output().includes(text), `"${text}" on screen:\n${t.output()}`, 10_000);
  for (const k of keys) {
    t.stdin.write(k);
    await new Promise((r) => setTimeout(r, 15));
  }
}

const UP = '\x1b[A';
const DOWN = '\x1b[B';
const ACCOUNTS = [
  { label: ' 1  alice@example.com', value: 'alice' },
  { label: ' 2  judy@example.com', value: 'judy' },
  { label: ' 3  kim@example.com (active)', value: 'kim' },
  { label: ' 4  quinn@example.com', value: 'quinn' },
];

describe('canPrompt', () => {
  const tty = { isTTY: true, write: () => true };
  const stdin = Object.assign(new PassThrough(), { isTTY: true });
  it('needs both stdin and stderr to be terminals', () => {
    expect(canPrompt({ stdin, stderr: tty, env: {} })).toBe(true);
    expect(canPrompt({ stdin: new PassThrough(), stderr: tty, env: {} })).toBe(false);
    expect(canPrompt({ stdin, stderr: { write: () => true }, env: {} })).toBe(false);
  });
  it('is off on a dumb terminal and in CI', () => {
    expect(canPrompt({ stdin, stderr: tty, env: { TERM: 'dumb' } })).toBe(false);
    expect(canPrompt({ stdin, stderr: tty, env: { CI: 'true' } })).toBe(false);
    expect(canPrompt({ stdin, stderr: tty, env: { CI: '1' } })).toBe(false);
    expect(canPrompt({ stdin, stderr: tty, env: { CI: 'false' } })).toBe(true);
    expect(canPrompt({ stdin, stderr: tty, env: { CI: '0', TERM: 'xterm-256color' } })).toBe(true);
  });
});

describe('pick', () => {
  it('starts on the given (active) entry: Enter at once picks it', async () => {
    const t = fakeTerminal();
    const p = pick(t.io, 'Account to switch to:', ACCOUNTS, 2);
    await typeWhen(t, 'Account to switch to:', '\r');
    await expect(p).resolves.toBe('kim');
  });

  it('arrows move from there', async () => {
    const t = fakeTerminal();
    const p = pick(t.io, 'Account:', ACCOUNTS, 2);
    await typeWhen(t, 'Account:', UP, UP, '\r');
    await expect(p).resolves.toBe('alice');
    const t2 = fakeTerminal();
    const p2 = pick(t2.io, 'Account:', ACCOUNTS, 2);
    await typeWhen(t2, 'Account:', DOWN, '\r');
    await expect(p2).resolves.toBe('quinn');
  });

  it('letters filter, j, k and q included (they are not keys)', async () => {
    for (const [typed, want] of [
      ['judy', 'judy'],
      ['quinn', 'quinn'],
      ['k', 'kim'], // "k" matches only kim: a filter, not "up"
    ] as const) {
      const t = fakeTerminal();
      const p = pick(t.io, 'Account:', ACCOUNTS, 0);
      await typeWhen(t, 'Account:', ...typed.split(''), '\r');
      await expect(p).resolves.toBe(want);
    }
  });

  it('Esc cancels with Cancelled, even with a filter typed', async () => {
    const t = fakeTerminal();
    const p = pick(t.io, 'Account:', ACCOUNTS, 0);
    const settled = p.catch((e: unknown) => e);
    await typeWhen(t, 'Account:', 'al', '\x1b');
    const err = await settled;
    expect(err).toBeInstanceOf(Cancelled);
    expect((err as Cancelled).exitCode).toBe(130);
  });

  it('Ctrl-C and the end of input cancel with Cancelled, and the terminal leaves raw mode', async () => {
    const t = fakeTerminal();
    const p = pick(t.io, 'Account:', ACCOUNTS, 0);
    const settled = p.catch((e: unknown) => e);
    await typeWhen(t, 'Account:', '\x03');
    expect(await settled).toBeInstanceOf(Cancelled);
    expect(t.stdin.isRaw).toBe(false);
    const t2 = fakeTerminal();
    const p2 = pick(t2.io, 'Account:', ACCOUNTS, 0).catch((e: unknown) => e);
    await waitFor(() => t2.output().includes('Account:'), 'the prompt');
    t2.stdin.end();
    expect(await p2).toBeInstanceOf(Cancelled);
  });

  it('a SIGINT sent to the process while it is up cancels it (the process does not die of it)', async () => {
    const t = fakeTerminal();
    const p = pick(t.io, 'Account:', ACCOUNTS, 0).catch((e: unknown) => e);
    await waitFor(() => t.output().includes('Account:'), 'the prompt');
    process.emit('SIGINT', 'SIGINT');
    expect(await p).toBeInstanceOf(Cancelled);
    expect(process.listenerCount('SIGINT')).toBe(0);
  });

  it('shows labels, the title and what is typed with control characters escaped; no colours with NO_COLOR', async () => {
    const evil = [
      { label: ' 1  eve\x1b]0;pwned\x07@\x1b[2Jevil.example\u202e', value: 'eve' },
      { label: ' 2  bob@example.com', value: 'bob' },
    ];
    const t = fakeTerminal({ NO_COLOR: '1' });
    const p = pick(t.io, 'Pick \x1b[31mone\x9b:', evil, 1).catch((e: unknown) => e);
    await typeWhen(t, 'Pick', '\x03');
    await p;
    const out = t.output();
    expect(out).toContain('eve\\x1b]0;pwned\\x07@\\x1b[2Jevil.example\\u202e');
    expect(out).toContain('Pick \\x1b[31mone\\x9b:');
    expect(out).not.toContain('\x07');
    expect(out).not.toContain('\x1b]');
    expect(out).not.toContain('\u202e');
    expect(out).not.toContain('\x9b');
    expect(out).not.toMatch(/\x1b\[[0-9;]*m/); // NO_COLOR: no SGR at all
  });

  it('filters case-insensitively anywhere in the label', () => {
    expect(filterChoices(ACCOUNTS, 'EXAMPLE').map((c) => c.value)).toEqual(['alice', 'judy', 'kim', 'quinn']);
    expect(filterChoices(ACCOUNTS, 'active').map((c) => c.value)).toEqual(['kim']);
    expect(filterChoices(ACCOUNTS, undefined)).toHaveLength(4);
  });
});

describe('confirm', () => {
  it('is No on a bare Enter, Yes on y', async () => {
    const t = fakeTerminal();
    const no = confirm(t.io, 'Remove it?');
    await typeWhen(t, 'Remove it?', '\r');
    await expect(no).resolves.toBe(false);
    const t2 = fakeTerminal();
    const yes = confirm(t2.io, 'Remove it?');
    await typeWhen(t2, 'Remove it?', 'y', '\r');
    await expect(yes).resolves.toBe(true);
  });

  it('Ctrl-C cancels with Cancelled', async () => {
    const t = fakeTerminal();
    const p = confirm(t.io, 'Remove it?').catch((e: unknown) => e);
    await typeWhen(t, 'Remove it?', '\x03');
    expect(await p).toBeInstanceOf(Cancelled);
  });
});

describe('password', () => {
  it('reads what is typed without echoing any of it', async () => {
    const t = fakeTerminal();
    const p = password(t.io, 'OpenAI API key (input hidden):');
    await typeWhen(t, 'OpenAI API key', 'sk-secret', '-value', '\r');
    await expect(p).resolves.toBe('sk-secret-value');
    expect(t.output()).not.toContain('secret');
    expect(t.output()).not.toContain('*');
  });

  it('Ctrl-T does not reveal it; Ctrl-C cancels with Cancelled (not an error)', async () => {
    const t = fakeTerminal();
    const p = password(t.io, 'Key:').catch((e: unknown) => e);
    await typeWhen(t, 'Key:', 'sk-hidden', '\x14', '\x03');
    expect(await p).toBeInstanceOf(Cancelled);
    expect(t.output()).not.toContain('hidden');
  });
});
