/** Reading piped standard input whole (a key given with "-"). */
import type { InStream } from '../platform/context.js';

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
