import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KeyDecoder, pick, type Key, type PickerItem } from '../../src/ui/picker.js';

type FakeStdin = PassThrough & { isTTY: boolean; isRaw: boolean; rawCalls: boolean[]; setRawMode(mode: boolean): FakeStdin };

function fakeTerminal(opts: { raw?: boolean; columns?: number; isTTY?: boolean } = {}) {
  const stdin = new PassThrough() as FakeStdin;
  stdin.isTTY = true;
  stdin.isRaw = opts.raw ?? false;
  stdin.rawCalls = [];
  stdin.setRawMode = (mode: boolean) => {
    stdin.rawCalls.push(mode);
    stdin.isRaw = mode;
    return stdin;
  };
  const writes: string[] = [];
  const stderr = {
    isTTY: opts.isTTY ?? true,
    columns: opts.columns ?? 100,
    write(chunk: string) {
      writes.push(chunk);
      return true;
    },
  };
  return { stdin, stderr, writes, output: () => writes.join('') };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function send(stdin: PassThrough, ...chunks: (string | Buffer)[]): Promise<void> {
  for (const c of chunks) {
    stdin.write(c);
    await tick();
  }
}

// eslint-disable-next-line no-control-regex
const stripAnsi = (s: string): string => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

/** The lines currently on screen: everything written after the last clear-to-end-of-screen. */
function screen(output: string): string[] {
  const i = output.lastIndexOf('\x1b[J');
  const frame = stripAnsi(i >= 0 ? output.slice(i + 3) : output);
  return frame.split('\n').filter((l) => l !== '');
}
const itemRows = (output: string): string[] => screen(output).slice(1, -1);
const highlighted = (output: string): string | undefined => screen(output).find((l) => l.startsWith('>'));

/** Tracks whether a promise has settled without awaiting it. */
function track<T>(p: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  return { settled: () => settled, promise: p };
}

const accounts: PickerItem<string>[] = [
  { label: 'alice@example.com', hint: 'plus', value: 'alice' },
  { label: 'bob@example.com', hint: 'pro', value: 'bob' },
  { label: 'jake@work.io', hint: 'team', value: 'jake' },
  { label: 'kj-api-key', hint: 'api key', value: 'kj' },
];

const many: PickerItem<number>[] = Array.from({ length: 25 }, (_, i) => ({ label: `item-${String(i).padStart(2, '0')}`, value: i }));

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('pick: movement', () => {
  it('moves with arrow keys (CSI and SS3 forms) and picks with Enter', async () => {
    const t = fakeTerminal();
    const p = pick(t, 'Choose', accounts);
    await tick();
    expect(highlighted(t.output())).toContain('alice@example.com');
    await send(t.stdin, '\x1b[B');
    expect(highlighted(t.output())).toContain('bob@example.com');
    await send(t.stdin, '\x1bOB', '\x1b[B', '\x1b[A');
    expect(highlighted(t.output())).toContain('jake@work.io');
    await send(t.stdin, '\r');
    await expect(p).resolves.toBe('jake');
  });

  it('moves with Ctrl-N / Ctrl-P and does not go past either end', async () => {
    const t = fakeTerminal();
    const p = pick(t, 'Choose', accounts);
    await send(t.stdin, '\x10', '\x10'); // up at the top stays on the first item
    expect(highlighted(t.output())).toContain('alice');
    await send(t.stdin, '\x0e', '\x0e', '\x0e', '\x0e', '\x0e', '\x10');
    await send(t.stdin, '\r');
    await expect(p).resolves.toBe('jake');
  });

  it('moves with j/k while the filter is empty', async () => {
    const t = fakeTerminal();
    const p = pick(t, 'Choose', accounts);
    await send(t.stdin, 'j', 'j', 'k');
    expect(highlighted(t.output())).toContain('bob');
    expect(screen(t.output())[0]).toBe('Choose'); // no filter shown
    await send(t.stdin, '\r');
    await expect(p).resolves.toBe('bob');
  });

  it('handles several keys in one chunk and escape sequences split across chunks', async () => {
    const t = fakeTerminal();
    const p = pick(t, 'Choose', accounts);
    await send(t.stdin, '\x1b', '[B'); // ESC then "[B" shortly after: still Down
    expect(highlighted(t.output())).toContain('bob');
    await send(t.stdin, '\x1b[', 'B');
    expect(highlighted(t.output())).toContain('jake');
    await send(t.stdin, '\x1bO', 'A');
    expect(highlighted(t.output())).toContain('bob');
    await send(t.stdin, '\x1b[B\x1b[Bk\x1b[B\r');
    await expect(p).resolves.toBe('kj');
  });

  it('supports Home/End and PageUp/PageDown', async () => {
    const t = fakeTerminal();
    const p = pick(t, 'Choose', many, { pageSize: 5 });
    await send(t.stdin, '\x1b[F');
    expect(highlighted(t.output())).toContain('item-24');
    await send(t.stdin, '\x1b[H');
    expect(highlighted(t.output())).toContain('item-00');
    await send(t.stdin, '\x1b[6~');
    expect(highlighted(t.output())).toContain('item-05');
    await send(t.stdin, '\x1b[6~', '\x1b[5~', '\x1b[B');
    await send(t.stdin, '\r');
    await expect(p).resolves.toBe(6);
  });

  it('honours initialIndex', async () => {
    const t = fakeTerminal();
    const p = pick(t, 'Choose', accounts, { initialIndex: 2 });
    await tick();
    expect(highlighted(t.output())).toContain('jake');
    await send(t.stdin, '\r');
    await expect(p).resolves.toBe('jake');
  });
});

describe('pick: scrolling', () => {
  it('shows pageSize rows and scrolls to keep the highlight visible', async () => {
    const t = fakeTerminal();
    const p = pick(t, 'Choose', many, { pageSize: 5 });
    await tick();
    expect(itemRows(t.output()).map((r) => r.trim().replace(/^> /, ''))).toEqual(['item-00', 'item-01', 'item-02', 'item-03', 'item-04']);
    expect(screen(t.output()).at(-1)).toContain('(1/25)');
    for (let i = 0; i < 7; i++) await send(t.stdin, '\x1b[B');
    const rows = itemRows(t.output());
    expect(rows).toHaveLength(5);
    expect(rows[0]).toContain('item-03');
    expect(rows[4]).toBe('> item-07');
    expect(screen(t.output()).at(-1)).toContain('(8/25)');
    // moving back up within the page does not scroll
    await send(t.stdin, 'k', 'k');
    expect(itemRows(t.output())[0]).toContain('item-03');
    expect(highlighted(t.output())).toBe('> item-05');
    await send(t.stdin, '\r');
    await expect(p).resolves.toBe(5);
  });

  it('defaults pageSize to min(10, items)', async () => {
    const t = fakeTerminal();
    const p = pick(t, 'Choose', many);
    await tick();
    expect(itemRows(t.output())).toHaveLength(10);
    await send(t.stdin, '\x03');
    await p;

    const t2 = fakeTerminal();
    const p2 = pick(t2, 'Choose', accounts);
    await tick();
    expect(itemRows(t2.output())).toHaveLength(4);
    expect(screen(t2.output()).at(-1)).not.toMatch(/\(\d+\/\d+\)/);
    await send(t2.stdin, '\x03');
    await p2;
  });
});

describe('pick: filtering', () => {
  it('filters case-insensitively on label and hint', async () => {
    const t = fakeTerminal();
    const p = pick(t, 'Choose', accounts);
    await send(t.stdin, 'B', 'O');
    expect(screen(t.output())[0]).toBe('Choose  /BO');
    // labels are padded to the longest one (alice@example.com, 17) before the hint
    expect(itemRows(t.output())).toEqual([`> ${'bob@example.com'.padEnd(17)}  pro`]);
    await send(t.stdin, '\x7f', '\x7f', 'T', 'E', 'A', 'M'); // matches jake's hint
    expect(itemRows(t.output())).toHaveLength(1);
    expect(highlighted(t.output())).toContain('jake@work.io');
    await send(t.stdin, '\r');
    await expect(p).resolves.toBe('jake');
  });

  it('sends j and k to a non-empty filter', async () => {
    const t = fakeTerminal();
    const p = pick(t, 'Choose', accounts);
    await send(t.stdin, 'w', 'o', 'r', 'k'); // "k" extends the filter instead of moving
    expect(screen(t.output())[0]).toBe('Choose  /work');
    expect(itemRows(t.output())).toHaveLength(1);
    expect(highlighted(t.output())).toContain('jake@work.io');
    await send(t.stdin, '\r');
    await expect(p).resolves.toBe('jake');
  });

  it('"/" enters filter mode so a filter can start with j or k', async () => {
    const t = fakeTerminal();
    const p = pick(t, 'Choose', accounts);
    await send(t.stdin, '/', 'k', 'j');
    expect(screen(t.output())[0]).toBe('Choose  /kj');
    expect(itemRows(t.output())).toEqual([`> ${'kj-api-key'.padEnd(17)}  api key`]);
    await send(t.stdin, '\r');
    await expect(p).resolves.toBe('kj');
  });

  it('Backspace edits the filter and restores matches', async () => {
    const t = fakeTerminal();
    const p = pick(t, 'Choose', accounts);
    await send(t.stdin, 'b', 'o', 'x');
    expect(screen(t.output())).toContain('  no matches');
    await send(t.stdin, '\x7f');
    expect(screen(t.output())[0]).toBe('Choose  /bo');
    expect(itemRows(t.output())).toHaveLength(1);
    await send(t.stdin, '\b', '\x7f');
    expect(itemRows(t.output())).toHaveLength(4);
    // the highlighted item survives the filter changes
    expect(highlighted(t.output())).toContain('bob');
    // filter is empty again and filter mode was left with one more Backspace: j moves again
    await send(t.stdin, '\x7f', 'j');
    expect(highlighted(t.output())).toContain('jake');
    await send(t.stdin, '\r');
    await expect(p).resolves.toBe('jake');
  });

  it('Enter with no matches does nothing', async () => {
    const t = fakeTerminal();
    const p = track(pick(t, 'Choose', accounts));
    await send(t.stdin, 'z', 'z', 'z', '\r');
    await sleep(5);
    expect(p.settled()).toBe(false);
    expect(screen(t.output())).toContain('  no matches');
    await send(t.stdin, '\x7f', '\x7f', '\x7f', '\r');
    await expect(p.promise).resolves.toBe('alice');
  });

  it('honours initialFilter', async () => {
    const t = fakeTerminal();
    const p = pick(t, 'Choose', accounts, { initialFilter: 'EXAMPLE' });
    await tick();
    expect(itemRows(t.output())).toHaveLength(2);
    await send(t.stdin, 'j', '\r'); // "j" goes to the filter: "examplej" matches nothing, Enter is a no-op
    expect(screen(t.output())).toContain('  no matches');
    await send(t.stdin, '\x7f', '\x1b[B', '\r');
    await expect(p).resolves.toBe('bob');
  });
});

describe('pick: cancelling', () => {
  it('Esc clears a non-empty filter, then Esc cancels', async () => {
    const t = fakeTerminal();
    const p = track(pick(t, 'Choose', accounts));
    await send(t.stdin, 'b', 'o', 'b');
    expect(itemRows(t.output())).toHaveLength(1);
    await send(t.stdin, '\x1b');
    await sleep(60); // a lone ESC is Esc once the sequence timeout passes
    expect(p.settled()).toBe(false);
    expect(screen(t.output())[0]).toBe('Choose');
    expect(itemRows(t.output())).toHaveLength(4);
    await send(t.stdin, '\x1b');
    await sleep(60);
    expect(p.settled()).toBe(true);
    await expect(p.promise).resolves.toBeNull();
  });

  it('Ctrl-C cancels even with a filter', async () => {
    const t = fakeTerminal();
    const p = pick(t, 'Choose', accounts);
    await send(t.stdin, 'b', '\x03');
    await expect(p).resolves.toBeNull();
  });

  it('q cancels with an empty filter but is filter text otherwise', async () => {
    const t = fakeTerminal();
    const p = track(pick(t, 'Choose', [...accounts, { label: 'quinn', value: 'quinn' }]));
    await send(t.stdin, '/', 'q');
    expect(p.settled()).toBe(false);
    expect(itemRows(t.output())).toEqual(['> quinn']);
    await send(t.stdin, '\x7f', '\x7f', 'q');
    await expect(p.promise).resolves.toBeNull();
  });

  it('resolves null when stdin ends', async () => {
    const t = fakeTerminal();
    const p = pick(t, 'Choose', accounts);
    await send(t.stdin, 'j');
    t.stdin.end();
    await expect(p).resolves.toBeNull();
  });

  it('resolves null at once for an empty list without touching the terminal', async () => {
    const t = fakeTerminal();
    await expect(pick(t, 'Choose', [])).resolves.toBeNull();
    expect(t.stdin.rawCalls).toEqual([]);
    expect(t.writes).toEqual([]);
  });
});

describe('pick: terminal hygiene', () => {
  it('restores raw mode, removes listeners, pauses stdin and erases itself', async () => {
    const t = fakeTerminal();
    const p = pick(t, 'Choose', accounts);
    await tick();
    expect(t.stdin.rawCalls).toEqual([true]);
    expect(t.stdin.listenerCount('data')).toBe(1);
    await send(t.stdin, 'j', '\r');
    await expect(p).resolves.toBe('bob');
    expect(t.stdin.rawCalls).toEqual([true, false]);
    expect(t.stdin.isRaw).toBe(false);
    for (const ev of ['data', 'end', 'error', 'readable']) expect(t.stdin.listenerCount(ev)).toBe(0);
    expect(t.stdin.isPaused()).toBe(true);
    const out = t.output();
    // the last frame had title + 4 items + help = 6 lines; the exit moves up 6 and clears to the end
    expect(out.endsWith('\x1b[6A\r\x1b[J\x1b[?25h')).toBe(true);
    expect(screen(out)).toEqual([]);
    expect(out.startsWith('\x1b[?25l')).toBe(true);
  });

  it('leaves raw mode on when it was on before', async () => {
    const t = fakeTerminal({ raw: true });
    const p = pick(t, 'Choose', accounts);
    await send(t.stdin, '\x03');
    await p;
    expect(t.stdin.rawCalls).toEqual([true, true]);
    expect(t.stdin.isRaw).toBe(true);
  });

  it('redraws in place by moving up over the previous frame', async () => {
    const t = fakeTerminal();
    const p = pick(t, 'Choose', accounts);
    await tick();
    const before = t.writes.length;
    await send(t.stdin, 'j');
    const redraw = t.writes.slice(before).join('');
    expect(redraw.startsWith('\x1b[6A\r\x1b[J')).toBe(true);
    await send(t.stdin, 'b'); // filter to one row: frame shrinks to 3 lines
    await send(t.stdin, '\x1b[B'); // no change, no redraw
    const beforeShrunk = t.writes.length;
    await send(t.stdin, '\x7f');
    expect(t.writes.slice(beforeShrunk).join('').startsWith('\x1b[3A\r\x1b[J')).toBe(true);
    await send(t.stdin, '\x03');
    await p;
  });

  it('uses inverse video only when colour is on', async () => {
    const on = fakeTerminal();
    const p1 = pick(on, 'Choose', accounts, { color: true });
    await send(on.stdin, '\x03');
    await p1;
    expect(on.output()).toContain('\x1b[7m> alice@example.com');

    const off = fakeTerminal();
    const p2 = pick(off, 'Choose', accounts, { color: false });
    await send(off.stdin, '\x03');
    await p2;
    expect(off.output()).not.toContain('\x1b[7m');
    expect(off.output()).toContain('> alice@example.com');
  });

  it('defaults colour from the TTY flag and NO_COLOR', async () => {
    vi.stubEnv('NO_COLOR', '');
    const tty = fakeTerminal({ isTTY: true });
    const p1 = pick(tty, 'Choose', accounts);
    await send(tty.stdin, '\x03');
    await p1;
    expect(tty.output()).toContain('\x1b[7m');

    const notTty = fakeTerminal({ isTTY: false });
    const p2 = pick(notTty, 'Choose', accounts);
    await send(notTty.stdin, '\x03');
    await p2;
    expect(notTty.output()).not.toContain('\x1b[7m');

    vi.stubEnv('NO_COLOR', '1');
    const noColor = fakeTerminal({ isTTY: true });
    const p3 = pick(noColor, 'Choose', accounts);
    await send(noColor.stdin, '\x03');
    await p3;
    expect(noColor.output()).not.toContain('\x1b[7m');
  });

  it('shows key help, truncates to the terminal width and neutralises control characters in labels', async () => {
    const t = fakeTerminal({ columns: 20 });
    const p = pick(t, 'Choose', [
      { label: 'evil\x1b]0;pwned\x07name', value: 1 },
      { label: 'a-very-long-label-that-overflows', hint: 'hint', value: 2 },
    ]);
    await tick();
    const out = t.output();
    expect(out).not.toContain('\x1b]0;');
    expect(out).not.toContain('\x07');
    const lines = screen(out);
    for (const l of lines) expect([...l].length).toBeLessThanOrEqual(19);
    expect(lines[2]).toBe('  a-very-long-labe…');
    expect(lines.at(-1)).toMatch(/^↑\/↓ j\/k move/);
    await send(t.stdin, '\x03');
    await p;
  });
});

describe('pick: text from tokens', () => {
  it('shows control and bidi characters in the title, labels and hints escaped; writes only its own CSI sequences', async () => {
    const t = fakeTerminal({ columns: 200 });
    const p = pick(t, 'Pick \u202eevil', [
      { label: 'eve\x1b]0;pwned\x07@\x1b[2Jevil.example\u202e', hint: 'Team\u009b2J\u2066x', value: 1 },
      { label: 'bob@example.com', value: 2 },
    ], { color: true });
    await tick();
    const out = t.output();
    for (const m of out.matchAll(/\x1b/g)) expect(out.slice(m.index, m.index + 8)).toMatch(/^\x1b\[[0-9;?]*[A-Za-z]/);
    expect(out).not.toMatch(/[\x07\u009b\u202e\u2066]/);
    const lines = screen(out);
    expect(lines[0]).toBe('Pick \\u202eevil');
    expect(lines[1]).toBe('> eve\\x1b]0;pwned\\x07@\\x1b[2Jevil.example\\u202e  Team\\x9b2J\\u2066x');
    await send(t.stdin, '\x03');
    await p;
  });
});

describe('KeyDecoder', () => {
  function decode(chunks: (string | Buffer)[]): Key[] {
    const keys: Key[] = [];
    const d = new KeyDecoder((k) => keys.push(k));
    for (const c of chunks) d.feed(c);
    d.end();
    return keys;
  }
  const names = (keys: Key[]): string[] => keys.map((k) => (k.name === 'char' ? `char:${k.ch}` : k.name));

  it('decodes navigation sequences', () => {
    expect(names(decode(['\x1b[A\x1bOB\x1b[1~\x1b[4~\x1b[H\x1b[F\x1b[5~\x1b[6~\x1b[3~\x1b[1;5C']))).toEqual([
      'up', 'down', 'home', 'end', 'home', 'end', 'pageup', 'pagedown', 'delete', 'right',
    ]);
  });

  it('collapses \\r\\n into one Enter, even across chunks', () => {
    expect(names(decode(['a\r', '\nb\n\n']))).toEqual(['char:a', 'enter', 'char:b', 'enter', 'enter']);
  });

  it('decodes UTF-8 split across buffers', () => {
    const bytes = Buffer.from('é€', 'utf8');
    expect(names(decode([bytes.subarray(0, 1), bytes.subarray(1, 3), bytes.subarray(3)]))).toEqual(['char:é', 'char:€']);
  });

  it('reports a trailing lone ESC at end of input, and ESC ESC as Esc then the rest', () => {
    expect(names(decode(['x\x1b']))).toEqual(['char:x', 'escape']);
    expect(names(decode(['\x1b\x1b[A']))).toEqual(['escape', 'up']);
  });

  it('waits for the rest of a split sequence, and times out a lone ESC', async () => {
    const keys: Key[] = [];
    const d = new KeyDecoder((k) => keys.push(k), 20);
    d.feed('\x1b');
    expect(keys).toEqual([]);
    d.feed('[');
    expect(keys).toEqual([]);
    d.feed('B');
    expect(names(keys)).toEqual(['down']);
    d.feed('\x1b');
    await sleep(50);
    expect(names(keys)).toEqual(['down', 'escape']);
    d.dispose();
  });

  it('ignores bracketed-paste markers and Alt+key', () => {
    expect(names(decode(['\x1b[200~ab\x1b[201~\x1bx']))).toEqual(['char:a', 'char:b']);
  });
});
