import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { confirm, readAllStdin, readHidden } from '../../src/ui/prompt.js';

type FakeStdin = PassThrough & { isTTY?: boolean; isRaw: boolean; rawCalls: boolean[]; setRawMode?(mode: boolean): FakeStdin };

/** A TTY stdin (raw mode recorded) by default; `tty: false` gives a plain pipe without setRawMode. */
function fakeTerminal(opts: { tty?: boolean } = {}) {
  const stdin = new PassThrough() as FakeStdin;
  stdin.isRaw = false;
  stdin.rawCalls = [];
  if (opts.tty !== false) {
    stdin.isTTY = true;
    stdin.setRawMode = (mode: boolean) => {
      stdin.rawCalls.push(mode);
      stdin.isRaw = mode;
      return stdin;
    };
  }
  const writes: string[] = [];
  const stderr = {
    isTTY: true,
    write(chunk: string) {
      writes.push(chunk);
      return true;
    },
  };
  return { stdin, stderr, writes, output: () => writes.join('') };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

async function send(stdin: PassThrough, ...chunks: (string | Buffer)[]): Promise<void> {
  for (const c of chunks) {
    stdin.write(c);
    await tick();
  }
}

function expectReleased(stdin: FakeStdin): void {
  for (const ev of ['data', 'end', 'error', 'readable']) expect(stdin.listenerCount(ev)).toBe(0);
  expect(stdin.isPaused()).toBe(true);
  expect(stdin.isRaw).toBe(false);
}

describe('confirm', () => {
  it('defaults to No on a bare Enter', async () => {
    const t = fakeTerminal();
    const p = confirm(t, 'Remove it?');
    await send(t.stdin, '\r');
    await expect(p).resolves.toBe(false);
    expect(t.output()).toBe('Remove it? [y/N] \n');
  });

  it('defaults to Yes with defaultYes', async () => {
    const t = fakeTerminal();
    const p = confirm(t, 'Continue?', { defaultYes: true });
    await send(t.stdin, '\r');
    await expect(p).resolves.toBe(true);
    expect(t.output()).toContain('Continue? [Y/n] ');
  });

  it.each([
    ['y\r', true],
    ['Y\r', true],
    ['yes\r', true],
    [' YES \r', true],
    ['n\r', false],
    ['No\r', false],
  ])('accepts %j', async (input, expected) => {
    const t = fakeTerminal();
    const p = confirm(t, 'Sure?', { defaultYes: !expected });
    await send(t.stdin, input);
    await expect(p).resolves.toBe(expected);
  });

  it('echoes the answer in raw mode, handles Backspace, and restores the terminal', async () => {
    const t = fakeTerminal();
    const p = confirm(t, 'Sure?');
    await send(t.stdin, 'n', '\x7f', 'y', '\r');
    await expect(p).resolves.toBe(true);
    expect(t.stdin.rawCalls).toEqual([true, false]);
    expect(t.output()).toBe('Sure? [y/N] n\b \by\n');
    expectReleased(t.stdin);
  });

  it('asks again after an invalid answer', async () => {
    const t = fakeTerminal();
    const p = confirm(t, 'Sure?');
    await send(t.stdin, 'maybe\r');
    expect(t.output()).toContain('Please answer y or n.\nSure? [y/N] ');
    await send(t.stdin, 'y\r');
    await expect(p).resolves.toBe(true);
  });

  it('answers false on Ctrl-C, even when the default is Yes', async () => {
    const t = fakeTerminal();
    const p = confirm(t, 'Sure?', { defaultYes: true });
    await send(t.stdin, 'y', '\x03');
    await expect(p).resolves.toBe(false);
    expectReleased(t.stdin);
  });

  it('answers false on EOF, even when the default is Yes', async () => {
    const t = fakeTerminal({ tty: false });
    const p = confirm(t, 'Sure?', { defaultYes: true });
    t.stdin.end();
    await expect(p).resolves.toBe(false);
  });

  it('works in line mode (not a TTY): no raw mode, no echo, \\n ends the line', async () => {
    const t = fakeTerminal({ tty: false });
    const p = confirm(t, 'Sure?');
    await send(t.stdin, 'ye', 's\n');
    await expect(p).resolves.toBe(true);
    expect(t.stdin.rawCalls).toEqual([]);
    expect(t.output()).toBe('Sure? [y/N] \n');
    expectReleased(t.stdin);
  });
});

describe('readHidden', () => {
  const secret = 'sk-proj-S3cr3tValue';

  it('reads typed input without echoing anything', async () => {
    const t = fakeTerminal();
    const p = readHidden(t, 'API key: ');
    await tick();
    expect(t.stdin.rawCalls).toEqual([true]);
    for (const ch of secret) await send(t.stdin, ch);
    await send(t.stdin, '\r');
    await expect(p).resolves.toBe(secret);
    const out = t.output();
    expect(out).toBe('API key: \n');
    expect(out).not.toContain(secret);
    expect(out).not.toContain('*');
    expect(t.stdin.rawCalls).toEqual([true, false]);
    expectReleased(t.stdin);
  });

  it('accepts a paste in one chunk and strips the trailing \\r\\n', async () => {
    const t = fakeTerminal();
    const p = readHidden(t, 'API key: ');
    await send(t.stdin, `${secret}\r\n`);
    await expect(p).resolves.toBe(secret);
    expect(t.writes.join('')).not.toContain(secret);
  });

  it('edits with Backspace and Ctrl-U', async () => {
    const t = fakeTerminal();
    const p = readHidden(t, 'Token: ');
    await send(t.stdin, 'wrong\x15', 'sk-abX', '\x7f', 'c\b', 'c\r');
    await expect(p).resolves.toBe('sk-abc');
    expect(t.output()).toBe('Token: \n');
  });

  it('ignores escape sequences and keeps multi-byte characters split across chunks', async () => {
    const t = fakeTerminal();
    const p = readHidden(t, 'Passphrase: ');
    const bytes = Buffer.from('pä€', 'utf8');
    // "p" + first byte of "ä" | rest of "ä" | Up | "€" split 2+1 | Left | Enter
    await send(t.stdin, bytes.subarray(0, 2), bytes.subarray(2, 3), '\x1b[A', bytes.subarray(3, 5), bytes.subarray(5), '\x1b[D', '\r');
    await expect(p).resolves.toBe('pä€');
  });

  it('rejects with "cancelled" on Ctrl-C and restores the terminal', async () => {
    const t = fakeTerminal();
    const p = readHidden(t, 'API key: ');
    const outcome = p.then(
      () => undefined,
      (err: unknown) => err,
    );
    await send(t.stdin, 'sk-part', '\x03');
    const err = await outcome;
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe('cancelled');
    expect(t.output()).not.toContain('sk-part');
    expectReleased(t.stdin);
  });

  it('finishes with what was typed on EOF', async () => {
    const t = fakeTerminal({ tty: false });
    const p = readHidden(t, 'API key: ');
    await send(t.stdin, 'sk-piped');
    t.stdin.end();
    await expect(p).resolves.toBe('sk-piped');
    expect(t.output()).not.toContain('sk-piped');
  });

  it('stops at the first line and leaves later input alone', async () => {
    const t = fakeTerminal();
    const p = readHidden(t, 'API key: ');
    await send(t.stdin, 'first\nsecond\n');
    await expect(p).resolves.toBe('first');
    expect(t.output()).toBe('API key: \n');
  });
});

describe('readAllStdin', () => {
  it('reads every chunk to the end', async () => {
    const stdin = new PassThrough();
    const p = readAllStdin(stdin);
    await send(stdin, '{"a":', Buffer.from('"é"}'));
    stdin.end('\n');
    await expect(p).resolves.toBe('{"a":"é"}\n');
    expect(stdin.listenerCount('data')).toBe(0);
  });

  it('accepts input exactly at the cap', async () => {
    const stdin = new PassThrough();
    const p = readAllStdin(stdin, { maxBytes: 8 });
    stdin.end('12345678');
    await expect(p).resolves.toBe('12345678');
  });

  it('rejects input over a custom cap', async () => {
    const stdin = new PassThrough();
    const p = readAllStdin(stdin, { maxBytes: 8 });
    stdin.end('123456789');
    await expect(p).rejects.toThrow('stdin is larger than 8 bytes');
    expect(stdin.listenerCount('data')).toBe(0);
  });

  it('caps at 1 MiB by default', async () => {
    const ok = new PassThrough();
    const p1 = readAllStdin(ok);
    ok.end(Buffer.alloc(1024 * 1024, 0x61));
    await expect(p1).resolves.toHaveLength(1024 * 1024);

    const big = new PassThrough();
    const p2 = readAllStdin(big);
    big.write(Buffer.alloc(1024 * 1024, 0x61));
    big.end('b');
    await expect(p2).rejects.toThrow('stdin is larger than 1 MiB');
  });

  it('returns an empty string for an already-ended stream', async () => {
    const stdin = new PassThrough();
    stdin.end();
    stdin.resume();
    await new Promise((r) => stdin.once('end', r));
    await expect(readAllStdin(stdin)).resolves.toBe('');
  });
});
