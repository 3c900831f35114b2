/**
 * A raw TCP server that speaks just enough HTTP/1.1 to misbehave in ways an HTTP framework will not:
 * reset the connection halfway through a body, send headers and then stall the body, or answer
 * normally. Every request is recorded with its arrival time. One request per connection.
 */
import net from 'node:net';

export type FaultAction =
  /** Headers and half a body, then a TCP reset. */
  | { kind: 'reset-mid-body' }
  /** Headers and the start of a body, then nothing (until close()). */
  | { kind: 'stall-body' }
  /** A TCP reset before any byte of the answer. */
  | { kind: 'reset' }
  | { kind: 'answer'; status: number; headers?: Record<string, string>; body?: string };

export interface RawRequest {
  at: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export class FaultServer {
  readonly requests: RawRequest[] = [];
  private readonly sockets = new Set<net.Socket>();
  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(script: (index: number, req: RawRequest) => FaultAction): Promise<FaultServer> {
    let self: FaultServer | undefined;
    const server = net.createServer((socket) => {
      self?.sockets.add(socket);
      socket.on('close', () => self?.sockets.delete(socket));
      socket.on('error', () => {});
      let buf = Buffer.alloc(0);
      let done = false;
      socket.on('data', (d: Buffer) => {
        if (done) return;
        buf = Buffer.concat([buf, d]);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1').split('\r\n');
        const [method = '', target = ''] = (head[0] ?? '').split(' ');
        const headers: Record<string, string> = {};
        for (const line of head.slice(1)) {
          const i = line.indexOf(':');
          if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
        }
        const length = Number(headers['content-length'] ?? 0);
        if (buf.length < end + 4 + length) return;
        done = true;
        const req: RawRequest = { at: Date.now(), method, path: target, headers, body: buf.subarray(end + 4, end + 4 + length).toString('utf8') };
        const s = self as FaultServer;
        s.requests.push(req);
        const action = script(s.requests.length - 1, req);
        const head200 = 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 400\r\nconnection: close\r\n\r\n';
        if (action.kind === 'reset') socket.resetAndDestroy();
        else if (action.kind === 'reset-mid-body') {
          socket.write(`${head200}{"id":"user-half","email":"ha`);
          setTimeout(() => socket.resetAndDestroy(), 30);
        } else if (action.kind === 'stall-body') socket.write(`${head200}{"id":"user-slow",`);
        else {
          const body = action.body ?? '';
          const extra = Object.entries(action.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('');
          socket.end(`HTTP/1.1 ${action.status} X\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}connection: close\r\n\r\n${body}`);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new FaultServer(server, (server.address() as net.AddressInfo).port);
    return self;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
