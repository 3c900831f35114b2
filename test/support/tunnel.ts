/** The CONNECT side of a test proxy: tunnels to the host:port asked for, after `record(target)`. */
import type http from 'node:http';
import net from 'node:net';

export function tunnelConnects(proxy: http.Server, record: (target: string) => void): void {
  proxy.on('connect', (req, client, head) => {
    record(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host ?? '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
}
