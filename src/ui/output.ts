/**
 * All printing goes through here: data to stdout, messages/warnings/progress to stderr, exactly one
 * JSON document on stdout with --json, colors only on a TTY and never with NO_COLOR.
 *
 * Output safety — the one rule, applied here: every string from a file, a token, the environment or
 * the network may hold control characters (an email whose escape sequences clear the screen and
 * retitle the terminal) or a password in a URL (a proxy). So everything written to a stream by this
 * class passes through `terminalText()`: URL passwords are masked and every control and bidi character
 * is shown escaped (src/domain/display.ts), in messages, errors, --debug lines and data. Line breaks
 * of a message stay; a string that must stay on one line (a table cell, a picker row, an account
 * description) is escaped whole where it is built, with `oneLine()`.
 *
 * The only escape sequences codex-auth writes are its own colours: the palette below does not write
 * ESC but a marker holding a random nonce (`STYLE`), which no file, token or server can know; the
 * marker becomes ESC [ here, after the text around it was escaped. --json documents are exact JSON
 * (JSON.stringify escapes C0; C1 and bidi controls are written as \uXXXX too: same values), with URL
 * passwords masked and no colours.
 */
import type { OutStream } from '../platform/context.js';
import { escapeJsonText, maskUrlCredentials, safeText } from '../domain/display.js';
import { Cancelled, CliError } from '../errors.js';

export const SCHEMA_VERSION = 1;

export function colorLevel(stream: OutStream, env: NodeJS.ProcessEnv): 0 | 1 | 2 | 3 {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 0;
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '') {
    if (force === '0' || force === 'false') return 0;
    const n = Number(force);
    return n >= 1 && n <= 3 ? (n as 1 | 2 | 3) : 1;
  }
  if (!stream.isTTY || env.TERM === 'dumb') return 0;
  return 2;
}

/** The styles codex-auth uses: ANSI styles when colors are on, plain text otherwise. */
export interface Palette {
  readonly level: 0 | 1 | 2 | 3;
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

const same = (s: string) => s;
export const PLAIN: Palette = { level: 0, bold: same, dim: same, red: same, green: same, yellow: same, cyan: same };

/**
 * Stands for ESC [ in the palette's output until terminalText() writes it: a private-use character and
 * a nonce drawn at start-up, so text from outside can never pass for a colour of ours.
 */
const STYLE = `\u{F8FF}${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}[`;
const STYLE_SGR = new RegExp(`${STYLE.replace('[', '\\[')}([0-9;]*m)`, 'g');

/** `s` cut into the palette's colour codes (odd indexes) and the text between them (even indexes). */
export function splitStyles(s: string): string[] {
  if (!s.includes(STYLE)) return [s];
  const parts: string[] = [];
  let last = 0;
  for (const m of s.matchAll(STYLE_SGR)) {
    parts.push(s.slice(last, m.index), m[0]);
    last = m.index + m[0].length;
  }
  parts.push(s.slice(last));
  return parts;
}

/** `s` without the palette's colours: its width on screen, a JSON value. */
export function withoutStyles(s: string): string {
  return s.includes(STYLE) ? s.replace(STYLE_SGR, '') : s;
}

/**
 * What reaches a stream: URL passwords masked, control and bidi characters escaped except line breaks
 * (safeText), then the palette's colours — and only those — written as real SGR sequences.
 */
export function terminalText(s: string): string {
  const t = safeText(maskUrlCredentials(s));
  return t.includes(STYLE) ? t.replace(STYLE_SGR, '\x1b[$1') : t;
}

/** An SGR style, as util.styleText writes it (an inner close code re-opens the outer style), with the marker for ESC [. */
function sgr(open: number, close: number): (s: string) => string {
  const on = `${STYLE}${open}m`;
  const off = `${STYLE}${close}m`;
  return (s) => `${on}${s.includes(off) ? s.replaceAll(off, off + on) : s}${off}`;
}

const COLOURED: Omit<Palette, 'level'> = {
  bold: sgr(1, 22),
  dim: sgr(2, 22),
  red: sgr(31, 39),
  green: sgr(32, 39),
  yellow: sgr(33, 39),
  cyan: sgr(36, 39),
};

/**
 * A --json value as text: URL passwords masked, no colours; C1 and bidi controls as \uXXXX.
 * Stringified once without a replacer first (V8's fast path: a replacer function makes
 * JSON.stringify several times slower, 1,000 accounts' `list --json` spent most of its own time
 * there): JSON.stringify writes `://` and the style marker as they are, so when neither is in the
 * text no string of the document holds one, and the replacer would change nothing.
 */
export function jsonText(doc: unknown, indent?: number): string {
  const plain = JSON.stringify(doc, null, indent);
  if (plain !== undefined && !plain.includes('://') && !plain.includes(STYLE)) return escapeJsonText(plain);
  const replacer = (_k: string, v: unknown) => (typeof v === 'string' ? maskUrlCredentials(withoutStyles(v)) : v);
  return escapeJsonText(JSON.stringify(doc, replacer, indent));
}

export function paletteFor(level: 0 | 1 | 2 | 3): Palette {
  return level === 0 ? PLAIN : { level, ...COLOURED };
}

export class Output {
  private jsonWritten = false;

  constructor(
    private readonly stdout: OutStream,
    private readonly stderr: OutStream,
    readonly opts: { json: boolean; debug: boolean },
    readonly out: Palette = PLAIN,
    readonly err: Palette = PLAIN,
  ) {}

  /** Colours per stream: on a terminal without NO_COLOR, or when FORCE_COLOR asks for them. */
  static create(stdout: OutStream, stderr: OutStream, env: NodeJS.ProcessEnv, opts: { json: boolean; debug: boolean }): Output {
    return new Output(stdout, stderr, opts, paletteFor(colorLevel(stdout, env)), paletteFor(colorLevel(stderr, env)));
  }

  get json(): boolean {
    return this.opts.json;
  }

  get stdoutIsTTY(): boolean {
    return Boolean(this.stdout.isTTY);
  }

  get stderrIsTTY(): boolean {
    return Boolean(this.stderr.isTTY);
  }

  get columns(): number | undefined {
    return this.stdout.columns;
  }

  /** A line of data on stdout (suppressed in --json mode, where the document is the data). */
  data(line = ''): void {
    if (!this.opts.json) this.stdout.write(terminalText(`${line}\n`));
  }

  /** The one JSON document of a --json run. */
  document(doc: Record<string, unknown>): void {
    if (this.jsonWritten) return;
    this.jsonWritten = true;
    // Indented for a person at a terminal; one compact line for programs (faster to write and parse).
    this.stdout.write(`${jsonText({ schemaVersion: SCHEMA_VERSION, ...doc }, this.stdout.isTTY ? 2 : undefined)}\n`);
  }

  /** One record of a JSON-lines stream (`watch --json`): a compact line, written at once. */
  record(doc: Record<string, unknown>): void {
    this.stdout.write(`${jsonText({ schemaVersion: SCHEMA_VERSION, ...doc })}\n`);
  }

  /** Progress and results meant for a person: stderr. */
  info(msg: string): void {
    this.stderr.write(terminalText(`${msg}\n`));
  }

  success(msg: string): void {
    this.stderr.write(terminalText(`${this.err.green('✓')} ${msg}\n`));
  }

  warn(msg: string): void {
    this.stderr.write(terminalText(`${this.err.yellow('warning:')} ${msg}\n`));
  }

  debug(msg: string): void {
    if (this.opts.debug) this.stderr.write(terminalText(`${this.err.dim(`debug: ${msg}`)}\n`));
  }

  /** Report a failure; returns the exit code. */
  failure(err: unknown): number {
    const cli = err instanceof CliError ? err : null;
    const code = cli?.code ?? 'internal';
    const message = cli ? cli.message : `unexpected error: ${err instanceof Error ? err.message : String(err)}`;
    if (this.opts.json) this.document({ error: { code, message } });
    // A cancel is the user's choice, not a failure: said plainly, without "error:".
    if (err instanceof Cancelled) {
      this.stderr.write(terminalText(`${message}\n`));
      return err.exitCode;
    }
    this.stderr.write(terminalText(`${this.err.red('error:')} ${message}\n`));
    if (this.opts.debug && !cli && err instanceof Error && err.stack) this.stderr.write(terminalText(`${err.stack}\n`));
    else if (!cli) this.stderr.write('Run again with --debug for details.\n');
    return cli?.exitCode ?? 1;
  }
}
