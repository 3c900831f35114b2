/**
 * A fake ChatGPT usage API on 127.0.0.1, run inside the bench process (so the CLI must be spawned
 * asynchronously). `GET /backend-api/wham/usage` answers after `delayMs` with the body of
 * CODEX-FACTS.md §5; requests whose `ChatGPT-Account-Id` is in `hang` are never answered. Any other
 * path (an OAuth refresh, /v1/me) gets a 500 and is counted, so a bench run never reaches the network.
 */
import { createServer } from 'node:http';
import { listenLocal, notServed } from './local-server.mjs';

export async function startUsageServer({ delayMs = 300 } = {}) {
  const state = { delayMs, hang: new Set(), usage: 0, hung: 0, other: [], sockets: new Set(), timers: new Set() };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname === '/backend-api/wham/usage') {
      state.usage++;
      const account = String(req.headers['chatgpt-account-id'] ?? '');
      if (state.hang.has(account)) {
        state.hung++;
        return; // never answer; the socket is destroyed by reset()/close()
      }
      const t = setTimeout(() => {
        state.timers.delete(t);
        const now = Math.floor(Date.now() / 1000);
        const body = {
          plan_type: 'plus',
          rate_limit: {
            allowed: true,
            limit_reached: false,
            primary_window: { used_percent: 42, limit_window_seconds: 18000, reset_after_seconds: 3600, reset_at: now + 3600 },
            secondary_window: { used_percent: 10, limit_window_seconds: 604800, reset_after_seconds: 90000, reset_at: now + 90000 },
          },
          credits: { has_credits: false, unlimited: false, balance: null },
        };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      }, state.delayMs);
      state.timers.add(t);
      return;
    }
    state.other.push(`${req.method} ${url.pathname}`);
    notServed(res);
  });
  const { port, base } = await listenLocal(server, state.sockets);
  return {
    port,
    base,
    state,
    /** Forget counters and drop every open connection (hanging requests included). */
    reset() {
      for (const t of state.timers) clearTimeout(t);
      state.timers.clear();
      for (const s of state.sockets) s.destroy();
      state.usage = 0;
      state.hung = 0;
      state.other = [];
    },
    async close() {
      this.reset();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
