/**
 * Interactive prompts: the account picker, a yes/no confirmation and hidden input, from
 * @inquirer/prompts, drawn on stderr (stdout is for data) with the injected streams.
 *
 * `canPrompt()` is the one answer to "may we ask the user?". @inquirer/prompts is imported only inside
 * the prompt functions, so commands that do not prompt (`list`, `switch QUERY`) never load it.
 *
 * Every cancel — Esc, Ctrl-C (in raw mode a key, not a signal), Ctrl-D, a SIGINT sent to the process,
 * the end of stdin — rejects with `Cancelled` (src/errors.ts): exit 130, no "error:".
 */
import type { InStream, OutStream } from '../platform/context.js';
import { oneLine } from '../domain/display.js';
import { Cancelled } from '../errors.js';
import { colorLevel } from './output.js';

export interface PromptIO {
  stdin: InStream;
  stderr: OutStream;
  env: NodeJS.ProcessEnv;
}

function truthy(v: string | undefined): boolean {
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

/**
 * Whether codex-auth may prompt: stdin and stderr are both terminals (a prompt reads keys from one and
 * draws on the other), the terminal can move its cursor (TERM is not "dumb"), and this is not a CI job
 * (CI set, and not "0"/"false": a pseudo-terminal there has nobody at it, and a prompt would hang).
 */
export function canPrompt(io: PromptIO): boolean {
  if (io.stdin.isTTY !== true || io.stderr.isTTY !== true) return false;
  if (io.env.TERM === 'dumb') return false;
  return !truthy(io.env.CI);
}

/** The escape sequences inquirer's styles write (SGR): dropped without colours (NO_COLOR, …). */
const SGR = /\x1b\[[0-9;]*m/g;

const CANCELS = new Set(['ExitPromptError', 'AbortPromptError', 'CancelPromptError']);

interface InquirerContext {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  signal: AbortSignal;
  clearPromptOnDone?: boolean;
}

/**
 * Runs one inquirer prompt on the injected streams. Esc (a keypress that readline decodes on stdin) and a
 * SIGINT sent to the process abort it; inquirer's own cancels (Ctrl-C, Ctrl-D) reject too: all become
 * `Cancelled`. The SIGINT listener also stops Node's default (dying of the signal) while a prompt is up.
 */
async function runPrompt<T>(io: PromptIO, start: (ctx: InquirerContext) => Promise<T>, clearPromptOnDone = false): Promise<T> {
  const { Writable } = await import('node:stream');
  const { StringDecoder } = await import('node:string_decoder');
  const color = colorLevel(io.stderr, io.env) > 0;
  const decoder = new StringDecoder('utf8');
  const output = new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _enc, cb) {
      const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
      io.stderr.write(color ? text : text.replace(SGR, ''));
      cb();
    },
  });
  const size = io.stderr as OutStream & { rows?: number };
  Object.defineProperties(output, {
    isTTY: { value: true },
    columns: { get: () => size.columns ?? 80 },
    rows: { get: () => size.rows ?? 24 },
  });
  const controller = new AbortController();
  const onKey = (_s: unknown, key: { name?: string } | undefined): void => {
    if (key?.name === 'escape') controller.abort();
  };
  const onSigint = (): void => controller.abort();
  io.stdin.on('keypress', onKey);
  process.on('SIGINT', onSigint);
  try {
    return await start({ input: io.stdin, output, signal: controller.signal, clearPromptOnDone });
  } catch (e) {
    if (e instanceof Error && CANCELS.has(e.name)) throw new Cancelled();
    throw e;
  } finally {
    io.stdin.removeListener('keypress', onKey);
    process.removeListener('SIGINT', onSigint);
  }
}

export interface Choice<T> {
  label: string;
  value: T;
}

/** Choices filtered by what was typed: case-insensitive, anywhere in the label. */
export function filterChoices<T>(choices: readonly Choice<T>[], term: string | undefined): Choice<T>[] {
  const needle = (term ?? '').toLowerCase();
  return choices.filter((c) => c.label.toLowerCase().includes(needle));
}

/**
 * One choice among `choices`: typing filters (letters are never keys), ↑/↓ move, Enter picks, Esc or
 * Ctrl-C cancel (`Cancelled`). Starts on `choices[initial]` (the active account). Labels come from
 * tokens and files: shown on one line with control characters escaped; so is what is typed.
 */
export async function pick<T>(io: PromptIO, message: string, choices: readonly Choice<T>[], initial?: number): Promise<T> {
  const rows = (io.stderr as OutStream & { rows?: number }).rows;
  const pageSize = Math.max(1, Math.min(10, choices.length, typeof rows === 'number' && rows > 4 ? rows - 4 : 10));
  const safe = choices.map((c, i) => ({ name: oneLine(c.label), value: i }));
  const { search } = await import('@inquirer/prompts');
  const index = await runPrompt(
    io,
    (ctx) =>
      search<number>(
        {
          message: oneLine(message),
          source: (term) => filterChoices(safe.map((c) => ({ label: c.name, value: c })), term).map((c) => c.value),
          pageSize,
          ...(initial !== undefined && initial >= 0 && initial < choices.length ? { default: initial } : {}),
          theme: { style: { searchTerm: (t: string) => oneLine(t) } },
        },
        ctx,
      ),
    true,
  );
  return (choices[index] as Choice<T>).value;
}

/** Yes or no; No unless the user answers y/yes. */
export async function confirm(io: PromptIO, message: string): Promise<boolean> {
  const { confirm: ask } = await import('@inquirer/prompts');
  return runPrompt(io, (ctx) => ask({ message: oneLine(message), default: false }, ctx));
}

/** A secret typed with nothing echoed (no mask, no way to reveal it). */
export async function password(io: PromptIO, message: string): Promise<string> {
  const { password: ask } = await import('@inquirer/prompts');
  return runPrompt(io, (ctx) => ask({ message: oneLine(message), toggleMask: false }, ctx));
}
