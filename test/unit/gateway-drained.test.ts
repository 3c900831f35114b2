/** drained(): the gateway's wait for Codex's connection to take more bytes. */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { drained } from '../../src/gateway/server.js';

function fakeRes(needDrain: boolean, destroyed = false) {
  return Object.assign(new EventEmitter(), { writableNeedDrain: needDrain, destroyed });
}

describe('drained', () => {
  it('does not wait when nothing is pending (Node 24 may have emitted drain during uncork already)', async () => {
    const res = fakeRes(false);
    await expect(Promise.race([drained(res as never).then(() => 'resolved'), new Promise((r) => setTimeout(() => r('waiting'), 200))])).resolves.toBe('resolved');
  });

  it('waits for drain when a write is pending, and for close when the client goes', async () => {
    for (const event of ['drain', 'close']) {
      const res = fakeRes(true);
      let done = false;
      const p = drained(res as never).then(() => (done = true));
      await new Promise((r) => setTimeout(r, 20));
      expect(done).toBe(false);
      res.emit(event);
      await p;
      expect(done).toBe(true);
      expect(res.listenerCount('drain') + res.listenerCount('close')).toBe(0);
    }
  });

  it("does not wait when the response says full but its connection has nothing pending (no 'drain' would come)", async () => {
    const waits = (socket: { writableNeedDrain: boolean; writableLength: number } | null) => {
      const res = Object.assign(fakeRes(true), { socket });
      return Promise.race([drained(res as never).then(() => false), new Promise((r) => setTimeout(() => r(true), 100))]);
    };
    await expect(waits({ writableNeedDrain: false, writableLength: 0 })).resolves.toBe(false);
    await expect(waits({ writableNeedDrain: true, writableLength: 0 })).resolves.toBe(true); // its drain is coming
    await expect(waits({ writableNeedDrain: false, writableLength: 4096 })).resolves.toBe(true); // still writing
    await expect(waits(null)).resolves.toBe(true); // no connection yet: Node emits drain when it gets one
  });

  it('returns after writes refused while corked, whatever this Node does with them (Node 22 hung here)', async () => {
    // Pieces smaller than the connection's write buffer, together more than the response's: on Node
    // 22 the response stays "full" after uncork() while its connection took everything at once.
    const outcome = new Promise<string>((resolve, reject) => {
      const srv = http.createServer((_req, res) => {
        res.cork();
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const size of [100, 12_288, 12_288, 12_288, 12_288, 12_288, 12_288, 12_288, 12_288]) res.write(Buffer.alloc(size, 120));
        res.uncork();
        const timer = setTimeout(() => resolve('still waiting after 5 s'), 5000);
        drained(res).then(() => {
          clearTimeout(timer);
          resolve('returned');
        }, reject);
      });
      srv.listen(0, '127.0.0.1', () => {
        const req = http.get({ host: '127.0.0.1', port: (srv.address() as AddressInfo).port }, (r) => r.resume());
        req.on('error', () => undefined);
        void outcome.finally(() => {
          req.destroy();
          srv.closeAllConnections();
          srv.close();
        });
      });
    });
    await expect(outcome).resolves.toBe('returned');
  });
});
