/** drained(): the gateway's wait for Codex's connection to take more bytes. */
import { EventEmitter } from 'node:events';
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
});
