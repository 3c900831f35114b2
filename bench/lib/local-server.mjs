/** What the bench's fake servers (usage-server.mjs, gateway-upstream.mjs) share. */

/** The answer to a request the fake does not serve: 500 with an OpenAI-shaped error. */
export function notServed(res) {
  res.writeHead(500, { 'content-type': 'application/json' });
  res.end('{"error":{"message":"not served by the bench"}}');
}

/**
 * Keeps `server`'s open connections in `sockets` (so that reset/close can drop them; `noDelay` turns
 * Nagle off on each) and listens on a free port of 127.0.0.1. Returns the port and the base URL.
 */
export async function listenLocal(server, sockets, { noDelay = false } = {}) {
  server.on('connection', (s) => {
    if (noDelay) s.setNoDelay(true);
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return { port, base: `http://127.0.0.1:${port}` };
}
