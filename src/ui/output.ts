/**
 * All printing goes through here: data to stdout, messages/warnings/progress to stderr, exactly one
 * JSON document on stdout with --json, colors only on a TTY and never with NO_COLOR.
 */
import { styleText } from 'node:util';
import type { OutStream } from '../context.js';
import { CliError } from '../errors.js';

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

type Style = Parameters<typeof styleText>[0];
/**
 * util.styleText with our own decision: colorLevel() has already looked at the stream and the
 * environment, so Node must not look again (validateStream, Node 22.13+; older Nodes ignore it).
 */
const styled = (format: Style) => (s: string) => styleText(format, s, { validateStream: false });

const COLOURED: Omit<Palette, 'level'> = {
  bold: styled('bold'),
  dim: styled('dim'),
  red: styled('red'),
  green: styled('green'),
  yellow: styled('yellow'),
  cyan: styled('cyan'),
};

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
    if (!this.opts.json) this.stdout.write(`${line}\n`);
  }

  /** The one JSON document of a --json run. */
  document(doc: Record<string, unknown>): void {
    if (this.jsonWritten) return;
    this.jsonWritten = true;
    // Indented for a person at a terminal; one compact line for programs (faster to write and parse).
    this.stdout.write(`${JSON.stringify({ schemaVersion: SCHEMA_VERSION, ...doc }, null, this.stdout.isTTY ? 2 : undefined)}\n`);
  }

  /** Progress and results meant for a person: stderr. */
  info(msg: string): void {
    this.stderr.write(`${msg}\n`);
  }

  success(msg: string): void {
    this.stderr.write(`${this.err.green('✓')} ${msg}\n`);
  }

  warn(msg: string): void {
    this.stderr.write(`${this.err.yellow('warning:')} ${msg}\n`);
  }

  debug(msg: string): void {
    if (this.opts.debug) this.stderr.write(`${this.err.dim(`debug: ${msg}`)}\n`);
  }

  /** Report a failure; returns the exit code. */
  failure(err: unknown): number {
    const cli = err instanceof CliError ? err : null;
    const code = cli?.code ?? 'internal';
    const message = cli ? cli.message : `unexpected error: ${err instanceof Error ? err.message : String(err)}`;
    if (this.opts.json) this.document({ error: { code, message } });
    this.stderr.write(`${this.err.red('error:')} ${message}\n`);
    if (this.opts.debug && !cli && err instanceof Error && err.stack) this.stderr.write(`${err.stack}\n`);
    else if (!cli) this.stderr.write('Run again with --debug for details.\n');
    return cli?.exitCode ?? 1;
  }
}
