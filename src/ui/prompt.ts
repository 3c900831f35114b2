/**
 * Small terminal prompts drawn on stderr: yes/no confirmation, hidden input for secrets, and reading piped
 * stdin whole. No dependencies; shares the key decoder and raw-mode session with the picker.
 */
import type { InStream } from '../platform/context.js';
import { safeText } from '../domain/display.js';
import { listenKeys, type KeySession, type PickerIO } from './picker.js';

export type { PickerIO } from './picker.js';

function dropLastChar(s: string): string {
  const cps = [...s];
  cps.pop();
  return cps.join('');
}

/**
 * Asks a yes/no question. Accepts y/yes/n/no (any case) followed by Enter; a bare Enter takes the default
 * (No unless `defaultYes`); anything else asks again. Ctrl-C or EOF answer false. Uses raw mode (echoing
 * the answer itself) when stdin is a TTY, plain lines otherwise.
 */
export function confirm(io: PickerIO, question: string, opts: { defaultYes?: boolean } = {}): Promise<boolean> {
  const defaultYes = opts.defaultYes === true;
  const ask = (): void => {
    // The question names accounts (emails from tokens): control characters shown escaped.
    io.stderr.write(`${safeText(question)} ${defaultYes ? '[Y/n]' : '[y/N]'} `);
  };
  return new Promise<boolean>((resolve, reject) => {
    let answer = '';
    let done = false;
    let session: KeySession | undefined;

    const finish = (result: boolean | Error): void => {
      if (done) return;
      done = true;
      session?.stop();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };

    ask();
    session = listenKeys(
      io.stdin,
      {
        onKey(key) {
          if (done) return;
          const echo = session?.raw === true;
          switch (key.name) {
            case 'char':
              answer += key.ch;
              if (echo) io.stderr.write(key.ch);
              return;
            case 'backspace':
              if (answer === '') return;
              answer = dropLastChar(answer);
              if (echo) io.stderr.write('\b \b');
              return;
            case 'ctrl-c':
            case 'ctrl-d':
              io.stderr.write('\n');
              return finish(false);
            case 'enter': {
              io.stderr.write('\n');
              const a = answer.trim().toLowerCase();
              answer = '';
              if (a === '') return finish(defaultYes);
              if (a === 'y' || a === 'yes') return finish(true);
              if (a === 'n' || a === 'no') return finish(false);
              io.stderr.write('Please answer y or n.\n');
              ask();
              return;
            }
            default:
              return;
          }
        },
        onEnd() {
          if (done) return;
          io.stderr.write('\n');
          finish(false);
        },
        onError: (err) => finish(err),
      },
      { raw: true },
    );
  });
}

/**
 * Reads a secret without echoing anything (not even asterisks). Raw mode when stdin is a TTY. Backspace
 * edits, Ctrl-U clears, Enter (\r, \n or \r\n) finishes, EOF finishes with what was typed, Ctrl-C rejects
 * with Error("cancelled"). Input after the terminating newline is discarded.
 */
export function readHidden(io: PickerIO, prompt: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let value = '';
    let done = false;
    let session: KeySession | undefined;

    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      session?.stop();
      io.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };

    io.stderr.write(safeText(prompt));
    session = listenKeys(
      io.stdin,
      {
        onKey(key) {
          if (done) return;
          switch (key.name) {
            case 'char':
              value += key.ch;
              return;
            case 'backspace':
              value = dropLastChar(value);
              return;
            case 'ctrl-u':
              value = '';
              return;
            case 'enter':
            case 'ctrl-d':
              return finish();
            case 'ctrl-c':
              return finish(new Error('cancelled'));
            default:
              return;
          }
        },
        onEnd: () => finish(),
        onError: (err) => finish(err),
      },
      { raw: true },
    );
  });
}

const DEFAULT_MAX_STDIN = 1024 * 1024;

function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** Reads piped stdin to its end as UTF-8. Rejects with "stdin is larger than …" past `maxBytes` (1 MiB). */
export function readAllStdin(stdin: InStream, opts: { maxBytes?: number } = {}): Promise<string> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_STDIN;
  return new Promise<string>((resolve, reject) => {
    const extra = stdin as InStream & { readableEnded?: boolean; unref?(): unknown };
    if (extra.readableEnded === true) {
      resolve('');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;

    const cleanup = (): void => {
      settled = true;
      stdin.removeListener('data', onData);
      stdin.removeListener('end', onEnd);
      stdin.removeListener('error', onError);
      stdin.pause();
      extra.unref?.();
    };
    function onData(chunk: string | Uint8Array): void {
      if (settled) return;
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      size += buf.length;
      if (size > maxBytes) {
        cleanup();
        reject(new Error(`stdin is larger than ${formatBytes(maxBytes)}`));
        return;
      }
      chunks.push(buf);
    }
    function onEnd(): void {
      if (settled) return;
      cleanup();
      resolve(Buffer.concat(chunks).toString('utf8'));
    }
    function onError(err: unknown): void {
      if (settled) return;
      cleanup();
      reject(err instanceof Error ? err : new Error(String(err)));
    }

    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.on('error', onError);
    stdin.resume();
  });
}
