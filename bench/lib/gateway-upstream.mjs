/**
 * A fake model backend for the gateway section of the bench, on 127.0.0.1, run inside the bench
 * process: `POST /backend-api/codex/responses` (and `/v1/responses`) answers 200 text/event-stream
 * like the real backend — `response.created` at once, then the output in chunks, then
 * `response.completed`. What to stream comes from the request body's `metadata` (the Responses API
 * has such a field; the gateway passes bodies unchanged):
 *
 *   { mode: 'small' }                       one output delta a tick after response.created
 *   { mode: 'bulk', bytes, chunk }          `bytes` of output in events of about `chunk` bytes (one
 *                                           prebuilt event written again and again, backpressure kept)
 *   { mode: 'distinct', id, bytes, chunk, barrier }
 *                                           output that only this `id` produces (deterministic, so the
 *                                           client can recompute it); with `barrier` = n, the output
 *                                           waits until n such streams are open at once (or 10 s)
 *
 * Every byte written is hashed per request (`state.sent[id]`), so the bench compares what each
 * stream received with what was sent for it. Any other path gets a 500 and is counted.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { listenLocal, notServed } from './local-server.mjs';

export function sseEvent(ev) {
  return `data: ${JSON.stringify(ev)}\n\n`;
}

/** The output of distinct stream `id`, chunk `k`: an SSE delta event whose text names both. */
export function distinctChunk(id, k, chunk) {
  const seed = createHash('sha256').update(`${id}:${k}`).digest('hex');
  const head = `[stream ${id} chunk ${k}] `;
  const need = Math.max(16, chunk - 120 - head.length);
  const text = head + seed.repeat(Math.ceil(need / seed.length)).slice(0, need);
  return Buffer.from(sseEvent({ type: 'response.output_text.delta', item_id: `msg_${id}`, output_index: 0, content_index: 0, delta: text }));
}

const created = (id) => Buffer.from(sseEvent({ type: 'response.created', response: { id: `resp_${id}`, status: 'in_progress' } }));
const completed = (id) => Buffer.from(sseEvent({ type: 'response.completed', response: { id: `resp_${id}`, status: 'completed', usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 } } }));

export async function startGatewayUpstream() {
  const state = { responses: 0, other: [], open: 0, maxOpen: 0, sent: new Map(), sockets: new Set(), waiting: [], barrierTimeouts: 0 };
  const bulkCache = new Map();

  /** Write with backpressure; false when the client went away. */
  function write(res, buf, h) {
    h?.update(buf);
    if (res.write(buf)) return Promise.resolve(!res.destroyed);
    return new Promise((resolve) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve(!res.destroyed);
      };
      res.on('drain', done);
      res.on('close', done);
    });
  }

  function barrier(n) {
    if (state.open >= n) {
      for (const w of state.waiting.splice(0)) w();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        state.barrierTimeouts++;
        resolve();
      }, 10_000);
      state.waiting.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  async function answer(req, res, meta) {
    const id = String(meta.id ?? state.responses);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    if (meta.mode === 'small') {
      res.write(created(id));
      setImmediate(() => {
        res.write(sseEvent({ type: 'response.output_text.delta', item_id: `msg_${id}`, output_index: 0, content_index: 0, delta: 'hi' }));
        res.end(completed(id));
      });
      return;
    }
    if (meta.mode === 'bulk') {
      const chunk = Number(meta.chunk) || 65536;
      let ev = bulkCache.get(chunk);
      if (!ev) {
        ev = Buffer.from(sseEvent({ type: 'response.output_text.delta', item_id: 'msg_bulk', output_index: 0, content_index: 0, delta: 'x'.repeat(Math.max(16, chunk - 110)) }));
        bulkCache.set(chunk, ev);
      }
      await write(res, created(id));
      let sent = 0;
      while (sent < meta.bytes) {
        if (!(await write(res, ev))) return;
        sent += ev.length;
      }
      res.end(completed(id));
      return;
    }
    // distinct
    const h = createHash('sha256');
    const record = { bytes: 0, sha256: null, complete: false };
    state.sent.set(id, record);
    state.open++;
    state.maxOpen = Math.max(state.maxOpen, state.open);
    try {
      const chunk = Number(meta.chunk) || 16384;
      const first = created(id);
      await write(res, first, h);
      record.bytes += first.length;
      if (meta.barrier) await barrier(Number(meta.barrier));
      for (let k = 0; record.bytes < meta.bytes; k++) {
        const c = distinctChunk(id, k, chunk);
        record.bytes += c.length;
        if (!(await write(res, c, h))) return;
        // Let the other streams write in between: their chunks interleave on the gateway.
        if (k % 4 === 3) await new Promise((r) => setImmediate(r));
      }
      const last = completed(id);
      h.update(last);
      record.bytes += last.length;
      res.end(last);
      record.sha256 = h.digest('hex');
      record.complete = true;
    } finally {
      state.open--;
    }
  }

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && (path === '/backend-api/codex/responses' || path === '/v1/responses')) {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        state.responses++;
        let meta = {};
        try {
          meta = JSON.parse(Buffer.concat(chunks).toString('utf8')).metadata ?? {};
        } catch {
          /* default: small */
        }
        if (!meta.mode) meta.mode = 'small';
        answer(req, res, meta).catch(() => res.destroy());
      });
      return;
    }
    state.other.push(`${req.method} ${path}`);
    req.resume();
    notServed(res);
  });
  const { port, base } = await listenLocal(server, state.sockets, { noDelay: true });
  return {
    port,
    base,
    state,
    reset() {
      state.sent.clear();
      state.other = [];
      state.maxOpen = 0;
      state.barrierTimeouts = 0;
    },
    async close() {
      for (const w of state.waiting.splice(0)) w();
      for (const s of state.sockets) s.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
