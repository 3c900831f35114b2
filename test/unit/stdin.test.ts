import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readAllStdin } from '../../src/ui/stdin.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

async function send(stdin: PassThrough, ...chunks: (string | Buffer)[]): Promise<void> {
  for (const c of chunks) {
    stdin.write(c);
    await tick();
  }
}

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
