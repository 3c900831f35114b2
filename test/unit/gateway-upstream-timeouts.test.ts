/**
 * The gateway's node:http upstream gives up on a backend that stops answering, with undici's error
 * codes (which the router reports to Codex): no head, a body that stalls, a connection that never
 * completes. Real sockets on 127.0.0.1, timeouts shortened (the defaults are 10 s and 300 s).
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_UPSTREAM_TIMEOUTS, nodeUpstream, readAll } from '../../src/gateway/upstream.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A server whose connections get `onConnection`; its port. */
async function server(onConnection: (socket: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>();
  const s = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    onConnection(socket);
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const so of sockets) so.destroy();
        s.close(() => resolve());
      }),
  );
  return (s.address() as net.AddressInfo).port;
}

async function upstream(timeouts: { connectMs: number; idleMs: number }) {
  const up = await nodeUpstream({}, timeouts);
  cleanups.push(() => up.close());
  return up;
}

const post = (up: Awaited<ReturnType<typeof nodeUpstream>>, url: string) => up.send(url, 'POST', { 'content-type': 'application/json' }, Buffer.from('{}'), new AbortController().signal);

/** The error a promise rejects with, or null when it resolves. */
const failure = (p: Promise<unknown>): Promise<NodeJS.ErrnoException | null> => p.then(
  () => null,
  (e: NodeJS.ErrnoException) => e,
);

describe('node:http upstream timeouts', () => {
  it('keeps undici\'s defaults: 10 s to connect, 300 s without a byte', () => {
    expect(DEFAULT_UPSTREAM_TIMEOUTS).toEqual({ connectMs: 10_000, idleMs: 300_000 });
  });

  it('no response head within the idle timeout: UND_ERR_HEADERS_TIMEOUT', async () => {
    let requests = 0;
    const port = await server((socket) => socket.on('data', () => (requests += 1))); // reads, never answers
    const up = await upstream({ connectMs: 5_000, idleMs: 300 });
    const err = await failure(post(up, `http://127.0.0.1:${port}/v1/responses`));
    expect(err?.code).toBe('UND_ERR_HEADERS_TIMEOUT');
    expect(err?.message).toContain('no response head within 0.3s');
    expect(requests).toBeGreaterThan(0);
  });

  it('a body that stops arriving: its reader gets UND_ERR_BODY_TIMEOUT, not a wait without end', async () => {
    const port = await server((socket) =>
      socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n')),
    );
    const up = await upstream({ connectMs: 5_000, idleMs: 300 });
    const res = await post(up, `http://127.0.0.1:${port}/v1/responses`);
    expect(res.statusCode).toBe(200);
    const got: Buffer[] = [];
    res.body.on('data', (c: Buffer) => got.push(c));
    const err = await failure(readAll(res.body));
    expect(err?.code).toBe('UND_ERR_BODY_TIMEOUT');
    expect(err?.message).toContain('no body data within 0.3s');
    expect(Buffer.concat(got).toString()).toBe('hello');
  });

  it("a reused keep-alive connection keeps the idle timeout: a server's Keep-Alive hint does not cut a slow stream", async () => {
    // Node's agent shortens a pooled socket's timeout to the server's `Keep-Alive: timeout=` hint
    // minus a second, and does not restore it when the socket is reused: a stream that pauses longer
    // than that was cut as if idle (seen in the bench: "no body data" after 4 s of a 300 s budget).
    let n = 0;
    const port = await server((socket) => {
      socket.on('data', () => {
        n += 1;
        if (n === 1) {
          socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\nkeep-alive: timeout=2\r\n\r\nok');
          return;
        }
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n');
        setTimeout(() => socket.write('4\r\nlast\r\n0\r\n\r\n'), 2_500);
      });
    });
    const up = await upstream({ connectMs: 5_000, idleMs: 10_000 });
    const first = await post(up, `http://127.0.0.1:${port}/a`);
    expect((await readAll(first.body)).toString()).toBe('ok');
    await new Promise((r) => setTimeout(r, 50)); // the socket back in the pool
    const second = await post(up, `http://127.0.0.1:${port}/b`);
    expect((await readAll(second.body)).toString()).toBe('firstlast');
    expect(n).toBe(2); // the same connection, reused
  });

  it('a connection that never completes: UND_ERR_CONNECT_TIMEOUT', async () => {
    // A listener that never accepts, its queue filled: the kernel drops further SYNs, so a connect
    // waits. python3 holds it (Node accepts every connection itself).
    const py = spawn('python3', ['-c', 'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)'], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(() => {
      py.kill('SIGKILL');
    });
    const port = await new Promise<number>((resolve, reject) => {
      py.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      py.once('error', reject);
    });
    const fillers: net.Socket[] = [];
    cleanups.push(() => {
      for (const f of fillers) f.destroy();
    });
    // Fill the accept queue until a connect stays pending.
    for (let i = 0; i < 8; i += 1) {
      const f = net.connect(port, '127.0.0.1');
      f.on('error', () => {});
      fillers.push(f);
      const connected = await new Promise<boolean>((resolve) => {
        f.once('connect', () => resolve(true));
        setTimeout(() => resolve(false), 300);
      });
      if (!connected) break;
    }
    const up = await upstream({ connectMs: 400, idleMs: 60_000 });
    const err = await failure(post(up, `http://127.0.0.1:${port}/v1/responses`));
    expect(err?.code).toBe('UND_ERR_CONNECT_TIMEOUT');
    expect(err?.message).toContain('connect timeout (0.4s)');
  });
});
