/**
 * A dependency-free interactive list picker for the terminal: raw-mode stdin, ANSI escapes, drawn on
 * stderr (stdout is reserved for data). Also home to the key decoder and raw-mode session shared with
 * the prompts in ./prompt.ts.
 */
import { StringDecoder } from 'node:string_decoder';
import type { InStream, OutStream } from '../platform/context.js';
import { oneLine } from '../domain/display.js';

export interface PickerItem<T> {
  label: string;
  hint?: string;
  value: T;
}

export interface PickerIO {
  stdin: InStream;
  stderr: OutStream;
}

export interface PickOptions {
  /** Start with this filter (and in filter mode when it is non-empty). */
  initialFilter?: string;
  /** Index into `items` to highlight first (e.g. the active entry); ignored when the filter hides it. */
  initialIndex?: number;
  /** Rows of items shown at once; default min(10, items.length). */
  pageSize?: number;
  /** Inverse/dim/bold styling; default: stderr is a TTY and NO_COLOR is unset. */
  color?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Key decoding
// ---------------------------------------------------------------------------------------------

export type Key =
  | { name: 'char'; ch: string }
  | {
      name:
        | 'up'
        | 'down'
        | 'left'
        | 'right'
        | 'home'
        | 'end'
        | 'pageup'
        | 'pagedown'
        | 'delete'
        | 'enter'
        | 'backspace'
        | 'escape'
        | 'tab'
        | 'ctrl-c'
        | 'ctrl-d'
        | 'ctrl-u';
    };

/** How long a lone ESC waits for the rest of an escape sequence before it counts as the Esc key. */
export const ESC_TIMEOUT_MS = 30;

type EscMatch = { len: number; key?: Key } | 'incomplete';

function isPrintable(cp: number): boolean {
  return cp >= 0x20 && cp !== 0x7f && !(cp >= 0x80 && cp < 0xa0);
}

function controlKey(cp: number): Key | undefined {
  switch (cp) {
    case 0x0d:
    case 0x0a:
      return { name: 'enter' };
    case 0x7f:
    case 0x08:
      return { name: 'backspace' };
    case 0x03:
      return { name: 'ctrl-c' };
    case 0x04:
      return { name: 'ctrl-d' };
    case 0x09:
      return { name: 'tab' };
    case 0x15:
      return { name: 'ctrl-u' };
    case 0x10: // Ctrl-P
      return { name: 'up' };
    case 0x0e: // Ctrl-N
      return { name: 'down' };
    case 0x01: // Ctrl-A
      return { name: 'home' };
    case 0x05: // Ctrl-E
      return { name: 'end' };
    default:
      return undefined;
  }
}

/** Final letters that mean the same key after CSI (`ESC [`) and SS3 (`ESC O`). */
const ARROWS: Record<string, Key> = {
  A: { name: 'up' },
  B: { name: 'down' },
  C: { name: 'right' },
  D: { name: 'left' },
  H: { name: 'home' },
  F: { name: 'end' },
};

/** `ESC [ params ~` keys, by their first parameter. */
const TILDE: Record<string, Key> = {
  '1': { name: 'home' },
  '7': { name: 'home' },
  '4': { name: 'end' },
  '8': { name: 'end' },
  '3': { name: 'delete' },
  '5': { name: 'pageup' },
  '6': { name: 'pagedown' },
};

function csiKey(params: string, final: string): Key | undefined {
  // Other `~` keys — insert, function keys, bracketed-paste markers (200~/201~) — mean nothing here.
  if (final === '~') return TILDE[params.split(';')[0] ?? ''];
  return ARROWS[final];
}

function ss3Key(final: string): Key | undefined {
  if (final === 'M') return { name: 'enter' }; // keypad Enter in application mode
  return ARROWS[final];
}

/** Matches the escape sequence starting at s[i] (which is ESC). */
function matchEscape(s: string, i: number): EscMatch {
  if (i + 1 >= s.length) return 'incomplete';
  const next = s[i + 1];
  if (next === '[') {
    let j = i + 2;
    while (j < s.length && s.charCodeAt(j) >= 0x20 && s.charCodeAt(j) <= 0x3f) j++;
    if (j >= s.length) return 'incomplete';
    const fc = s.charCodeAt(j);
    if (fc >= 0x40 && fc <= 0x7e) {
      const key = csiKey(s.slice(i + 2, j), s.charAt(j));
      return key ? { len: j + 1 - i, key } : { len: j + 1 - i };
    }
    return { len: j - i }; // malformed: drop the prefix, decode what follows normally
  }
  if (next === 'O') {
    if (i + 2 >= s.length) return 'incomplete';
    const key = ss3Key(s.charAt(i + 2));
    return key ? { len: 3, key } : { len: 3 };
  }
  if (next === '\x1b') return { len: 1, key: { name: 'escape' } };
  // Alt+key: ignored rather than read as Esc followed by the key.
  const cp = s.codePointAt(i + 1) ?? 0;
  return { len: 1 + String.fromCodePoint(cp).length };
}

/**
 * Turns raw terminal input (possibly split across chunks, or several keys per chunk) into keys.
 * A trailing ESC waits `escTimeoutMs` for the rest of a sequence before it is reported as Esc.
 */
export class KeyDecoder {
  private buf = '';
  private skipLf = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private disposed = false;
  private readonly text = new StringDecoder('utf8');
  private readonly onKey: (key: Key) => void;
  private readonly escTimeoutMs: number;

  constructor(onKey: (key: Key) => void, escTimeoutMs: number = ESC_TIMEOUT_MS) {
    this.onKey = onKey;
    this.escTimeoutMs = escTimeoutMs;
  }

  feed(chunk: string | Uint8Array): void {
    if (this.disposed) return;
    this.clearTimer();
    this.buf += typeof chunk === 'string' ? chunk : this.text.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.drain(false);
  }

  /** End of input: whatever is pending is decoded now (a trailing ESC is Esc). */
  end(): void {
    if (this.disposed) return;
    this.clearTimer();
    this.buf += this.text.end();
    this.drain(true);
  }

  dispose(): void {
    this.disposed = true;
    this.clearTimer();
    this.buf = '';
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private emit(key: Key): void {
    if (!this.disposed) this.onKey(key);
  }

  private drain(final: boolean): void {
    const s = this.buf;
    let i = 0;
    while (i < s.length && !this.disposed) {
      if (s.charCodeAt(i) === 0x1b) {
        this.skipLf = false;
        const m = matchEscape(s, i);
        if (m === 'incomplete') {
          if (!final) break;
          this.emit({ name: 'escape' });
          i += 1;
          continue;
        }
        if (m.key) this.emit(m.key);
        i += m.len;
        continue;
      }
      const cp = s.codePointAt(i) ?? 0;
      const ch = String.fromCodePoint(cp);
      i += ch.length;
      if (cp === 0x0a && this.skipLf) {
        this.skipLf = false; // the \n of a \r\n pair
        continue;
      }
      this.skipLf = cp === 0x0d;
      const key = controlKey(cp) ?? (isPrintable(cp) ? ({ name: 'char', ch } as const) : undefined);
      if (key) this.emit(key);
    }
    if (this.disposed) return;
    this.buf = s.slice(i);
    if (this.buf !== '') {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.drain(true);
      }, this.escTimeoutMs);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Raw-mode key session on stdin
// ---------------------------------------------------------------------------------------------

interface StdinExtras {
  isRaw?: boolean;
  readableEnded?: boolean;
  ref?(): unknown;
  unref?(): unknown;
}

export interface KeyHandlers {
  onKey(key: Key): void;
  /** stdin ended (EOF). */
  onEnd(): void;
  onError(err: Error): void;
}

export interface KeySession {
  /** Whether this session switched the terminal to raw mode (so the terminal does not echo). */
  readonly raw: boolean;
  /** Restores raw mode, removes every listener added, pauses and unrefs stdin. Idempotent. */
  stop(): void;
}

/** Listens for keys on stdin, in raw mode when `raw` is asked for and stdin is a TTY that supports it. */
export function listenKeys(stdin: InStream, handlers: KeyHandlers, opts: { raw: boolean }): KeySession {
  const extra = stdin as InStream & StdinExtras;
  const wasRaw = extra.isRaw === true;
  let raw = false;
  if (opts.raw && stdin.isTTY === true && typeof stdin.setRawMode === 'function') {
    stdin.setRawMode(true);
    raw = true;
  }
  let stopped = false;
  const decoder = new KeyDecoder((key) => {
    if (!stopped) handlers.onKey(key);
  });
  const onData = (chunk: string | Uint8Array): void => decoder.feed(chunk);
  const onEnd = (): void => {
    decoder.end();
    if (!stopped) handlers.onEnd();
  };
  const onError = (err: unknown): void => {
    if (!stopped) handlers.onError(err instanceof Error ? err : new Error(String(err)));
  };
  stdin.on('data', onData);
  stdin.on('end', onEnd);
  stdin.on('error', onError);
  extra.ref?.();
  stdin.resume(); // an earlier pause() leaves the stream non-flowing even with a 'data' listener
  if (extra.readableEnded === true) queueMicrotask(onEnd);
  return {
    raw,
    stop() {
      if (stopped) return;
      stopped = true;
      decoder.dispose();
      stdin.removeListener('data', onData);
      stdin.removeListener('end', onEnd);
      stdin.removeListener('error', onError);
      if (raw && typeof stdin.setRawMode === 'function') stdin.setRawMode(wasRaw);
      stdin.pause();
      extra.unref?.();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Picker
// ---------------------------------------------------------------------------------------------

const CSI = '\x1b[';
const HIDE_CURSOR = `${CSI}?25l`;
const SHOW_CURSOR = `${CSI}?25h`;
const CLEAR_DOWN = `${CSI}J`;

/**
 * Labels, hints, the title and the filter come from tokens, files and the keyboard: every control and
 * bidi character is shown escaped (`\x1b`, `\u202e`), so the only escape sequences the picker writes
 * are its own (src/ui/output.ts, "Output safety").
 */
const sanitize = oneLine;

function width(s: string): number {
  return [...s].length;
}

function truncate(s: string, max: number | undefined): string {
  if (max === undefined) return s;
  const cps = [...s];
  if (cps.length <= max) return s;
  return max <= 1 ? cps.slice(0, Math.max(0, max)).join('') : `${cps.slice(0, max - 1).join('')}…`;
}

function dropLastChar(s: string): string {
  const cps = [...s];
  cps.pop();
  return cps.join('');
}

type Outcome = 'pick' | 'cancel' | undefined;

class PickerModel<T> {
  filter = '';
  filtering = false;
  /** Position within `matches`. */
  cursor = 0;
  /** First position of `matches` shown. */
  offset = 0;
  /** Indices into `items` that pass the filter. */
  matches: number[] = [];
  private readonly haystacks: string[];

  constructor(
    readonly items: readonly PickerItem<T>[],
    readonly pageSize: number,
    initialFilter: string,
    initialIndex: number | undefined,
  ) {
    this.haystacks = items.map((it) => `${it.label}\u0000${it.hint ?? ''}`.toLowerCase());
    this.filtering = initialFilter !== '';
    this.setFilter(initialFilter, initialIndex);
  }

  /** Index into `items` of the highlighted entry, if any. */
  get current(): number | undefined {
    return this.matches[this.cursor];
  }

  setFilter(filter: string, keep: number | undefined = this.current): void {
    this.filter = filter;
    const needle = filter.toLowerCase();
    this.matches = [];
    this.haystacks.forEach((h, idx) => {
      if (h.includes(needle)) this.matches.push(idx);
    });
    const pos = keep === undefined ? -1 : this.matches.indexOf(keep);
    this.cursor = pos >= 0 ? pos : 0;
    this.scroll();
  }

  moveTo(pos: number): void {
    if (this.matches.length === 0) return;
    this.cursor = Math.min(Math.max(pos, 0), this.matches.length - 1);
    this.scroll();
  }

  private scroll(): void {
    if (this.cursor < this.offset) this.offset = this.cursor;
    if (this.cursor >= this.offset + this.pageSize) this.offset = this.cursor - this.pageSize + 1;
    this.offset = Math.min(Math.max(this.offset, 0), Math.max(0, this.matches.length - this.pageSize));
  }

  handle(key: Key): Outcome {
    switch (key.name) {
      case 'ctrl-c':
        return 'cancel';
      case 'ctrl-d':
        return this.filter === '' ? 'cancel' : undefined;
      case 'escape':
        if (this.filter === '') return 'cancel';
        this.filtering = false;
        this.setFilter('');
        return undefined;
      case 'enter':
        return this.matches.length > 0 ? 'pick' : undefined;
      case 'up':
        this.moveTo(this.cursor - 1);
        return undefined;
      case 'down':
        this.moveTo(this.cursor + 1);
        return undefined;
      case 'home':
        this.moveTo(0);
        return undefined;
      case 'end':
        this.moveTo(this.matches.length - 1);
        return undefined;
      case 'pageup':
        this.moveTo(this.cursor - this.pageSize);
        return undefined;
      case 'pagedown':
        this.moveTo(this.cursor + this.pageSize);
        return undefined;
      case 'backspace':
        if (this.filter !== '') this.setFilter(dropLastChar(this.filter));
        else this.filtering = false;
        return undefined;
      case 'ctrl-u':
        this.setFilter('');
        return undefined;
      case 'char':
        if (!this.filtering && this.filter === '') {
          if (key.ch === 'j') this.moveTo(this.cursor + 1);
          else if (key.ch === 'k') this.moveTo(this.cursor - 1);
          else if (key.ch === 'q') return 'cancel';
          else if (key.ch === '/') this.filtering = true;
          else {
            this.filtering = true;
            this.setFilter(key.ch);
          }
          return undefined;
        }
        this.setFilter(this.filter + key.ch);
        return undefined;
      default:
        return undefined;
    }
  }
}

function renderPicker<T>(model: PickerModel<T>, title: string, color: boolean, columns: number | undefined): string[] {
  const max = columns !== undefined && columns > 1 ? columns - 1 : undefined;
  const bold = (s: string): string => (color ? `${CSI}1m${s}${CSI}22m` : s);
  const dim = (s: string): string => (color && s !== '' ? `${CSI}2m${s}${CSI}22m` : s);
  const inverse = (s: string): string => (color ? `${CSI}7m${s}${CSI}27m` : s);

  const lines: string[] = [];
  const titleText = sanitize(title);
  const filterText = model.filtering || model.filter !== '' ? `  /${sanitize(model.filter)}` : '';
  const head = truncate(titleText + filterText, max);
  const headTitle = [...head].slice(0, width(titleText)).join('');
  lines.push(bold(headTitle) + head.slice(headTitle.length));

  const labelWidth = Math.min(40, Math.max(0, ...model.items.map((it) => width(sanitize(it.label)))));
  if (model.matches.length === 0) {
    lines.push(dim(truncate('  no matches', max)));
  } else {
    const end = Math.min(model.matches.length, model.offset + model.pageSize);
    for (let pos = model.offset; pos < end; pos++) {
      const item = model.items[model.matches[pos] ?? 0];
      if (!item) continue;
      const selected = pos === model.cursor;
      const label = sanitize(item.label);
      const hint = item.hint ? sanitize(item.hint) : '';
      const prefix = `${selected ? '>' : ' '} ${hint ? label.padEnd(labelWidth) : label}`;
      const row = truncate(hint ? `${prefix}  ${hint}` : prefix, max);
      if (selected) {
        lines.push(inverse(row));
      } else {
        const cps = [...row];
        const n = width(prefix);
        lines.push(cps.slice(0, n).join('') + dim(cps.slice(n).join('')));
      }
    }
  }

  const position = model.matches.length > model.pageSize ? `(${model.cursor + 1}/${model.matches.length}) ` : '';
  const help =
    model.filtering || model.filter !== ''
      ? `↑/↓ move · enter select · backspace edit · esc ${model.filter !== '' ? 'clear filter' : 'cancel'}`
      : '↑/↓ j/k move · type or / to filter · enter select · esc/q cancel';
  lines.push(dim(truncate(position + help, max)));
  return lines;
}

/**
 * Interactive single choice. Resolves with the chosen value, or null when the user cancels (Esc with an
 * empty filter, Ctrl-C, q with an empty filter, or stdin ends). Resolves null at once for an empty list.
 * Draws on `io.stderr` and erases itself completely before resolving.
 */
export function pick<T>(io: PickerIO, title: string, items: PickerItem<T>[], opts: PickOptions = {}): Promise<T | null> {
  if (items.length === 0) return Promise.resolve(null);
  const color = opts.color ?? (io.stderr.isTTY === true && !process.env.NO_COLOR);
  const rows = (io.stderr as OutStream & { rows?: number }).rows;
  let pageSize = Math.max(1, Math.floor(opts.pageSize ?? Math.min(10, items.length)));
  if (typeof rows === 'number' && rows > 0) pageSize = Math.min(pageSize, Math.max(1, rows - 3));
  const initialIndex =
    opts.initialIndex !== undefined && opts.initialIndex >= 0 && opts.initialIndex < items.length ? opts.initialIndex : undefined;
  const model = new PickerModel(items, pageSize, opts.initialFilter ?? '', initialIndex);

  return new Promise<T | null>((resolve, reject) => {
    let drawn = 0;
    let lastFrame = '';
    let done = false;

    const draw = (): void => {
      const frame = renderPicker(model, title, color, io.stderr.columns).join('\n') + '\n';
      if (frame === lastFrame) return;
      const up = drawn > 0 ? `${CSI}${drawn}A\r` : HIDE_CURSOR;
      io.stderr.write(up + CLEAR_DOWN + frame);
      lastFrame = frame;
      drawn = frame.split('\n').length - 1;
    };

    const finish = (value: T | null, err?: Error): void => {
      if (done) return;
      done = true;
      session.stop();
      io.stderr.write((drawn > 0 ? `${CSI}${drawn}A\r` : '\r') + CLEAR_DOWN + SHOW_CURSOR);
      drawn = 0;
      if (err) reject(err);
      else resolve(value);
    };

    const session = listenKeys(
      io.stdin,
      {
        onKey(key) {
          if (done) return;
          try {
            const outcome = model.handle(key);
            if (outcome === 'cancel') return finish(null);
            if (outcome === 'pick') {
              const item = items[model.current ?? -1];
              if (item) return finish(item.value);
            }
            draw();
          } catch (err) {
            finish(null, err instanceof Error ? err : new Error(String(err)));
          }
        },
        onEnd: () => finish(null),
        onError: (err) => finish(null, err),
      },
      { raw: true },
    );
    draw();
  });
}
