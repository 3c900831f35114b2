/**
 * `codex-auth gateway serve` (the built CLI as a subprocess) under concurrency: 64 model requests at
 * once, each answered by the fake OpenAI with a stream of its own, interleaved chunk by chunk. Every
 * stream must arrive on its own request, complete and unchanged (issue 15: "64 concurrent streams
 * without loss or mix-up"). No timing is asserted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliSuite, fakeEnv } from '../support/cli-suite.js';
import { type RecordedRequest, sseEvent, type StreamStep } from '../support/fake-openai.js';
import { type GatewayProcess, liveChatgptAccount, startGatewayProcess } from '../support/gateway.js';
import { nowSeconds } from '../support/jwt.js';

const STREAMS = 64;
const CHUNKS = 24;

let gw: GatewayProcess | null = null;
const { sb, fake, secrets } = cliSuite({
  built: true,
  env: fakeEnv.all,
  clearRequests: true,
  teardown: async () => {
    if (gw) sb.transcript.push(...Object.values(await gw.stop()));
    gw = null;
  },
});

/** The answer to stream `id`: response.created, CHUNKS deltas that name the stream, response.completed. */
function expectedEvents(id: string): string[] {
  const events = [sseEvent({ type: 'response.created', response: { id: `resp_${id}`, status: 'in_progress' } })];
  for (let k = 0; k < CHUNKS; k++) {
    // Chunks of different sizes per stream, so that a byte lost or taken from another stream shows.
    const text = `<${id}:${k}>${`${id}.${k};`.repeat(20 + ((k * 7 + id.length * 13) % 90))}`;
    events.push(sseEvent({ type: 'response.output_text.delta', item_id: `msg_${id}`, output_index: 0, content_index: 0, delta: text }));
  }
  events.push(sseEvent({ type: 'response.completed', response: { id: `resp_${id}`, status: 'completed' } }));
  return events;
}

describe('gateway serve, many streams at once', () => {
  it(`serves ${STREAMS} concurrent streams, each complete and unchanged on its own request`, async () => {
    const a = await liveChatgptAccount(sb, fake, secrets);

    // The fake holds every answer after its first event until all STREAMS requests are open at
    // once (or 15 s passed: then `open` tells), then writes the chunks of all streams interleaved.
    let open = 0;
    let maxOpen = 0;
    let release!: () => void;
    const allOpen = new Promise<void>((resolve) => (release = resolve));
    const fallback = setTimeout(release, 15_000);
    fake.setResponses(a.tokens.access_token, {
      streamFor: (r: RecordedRequest): StreamStep[] => {
        const id = String((JSON.parse(r.body.toString('utf8')) as { metadata: { id: string } }).metadata.id);
        open += 1;
        maxOpen = Math.max(maxOpen, open);
        if (open === STREAMS) release();
        const [first, ...rest] = expectedEvents(id);
        const steps: StreamStep[] = [first as string, { gate: allOpen }];
        for (const ev of rest) steps.push(ev, { delayMs: 1 });
        return steps;
      },
    });

    gw = await startGatewayProcess({ home: sb.home, codexAuthHome: path.join(sb.codexHome, 'codex-auth'), env: sb.env });
    secrets.push(gw.secret);
    const ids = Array.from({ length: STREAMS }, (_, i) => `stream-${String(i).padStart(2, '0')}`);
    const answers = await Promise.all(
      ids.map(async (id) => {
        const r = await fetch(`${gw!.model}/responses?client_version=0.169.0`, {
          method: 'POST',
          headers: { authorization: gw!.auth, 'chatgpt-account-id': 'codex-auth-gateway-placeholder', 'content-type': 'application/json', accept: 'text/event-stream', 'session-id': `thread-${id}` },
          body: JSON.stringify({ model: 'gpt-5', stream: true, store: false, input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: `hello from ${id}` }] }], metadata: { id } }),
        });
        return { id, status: r.status, text: await r.text() };
      }),
    );
    clearTimeout(fallback);

    expect(maxOpen).toBe(STREAMS);
    expect(fake.requests({ path: '/backend-api/codex/responses' })).toHaveLength(STREAMS);
    for (const { id, status, text } of answers) {
      expect(status, id).toBe(200);
      expect(text, id).toBe(expectedEvents(id).join(''));
    }
  }, 60_000);
});

/** Starts the gateway and sends it one model request as Codex does, on session `session`. */
async function oneRequest(session: string): Promise<Response> {
  gw = await startGatewayProcess({ home: sb.home, codexAuthHome: path.join(sb.codexHome, 'codex-auth'), env: sb.env });
  secrets.push(gw.secret);
  return fetch(`${gw.model}/responses?client_version=0.169.0`, {
    method: 'POST',
    headers: { authorization: gw.auth, 'chatgpt-account-id': 'codex-auth-gateway-placeholder', 'content-type': 'application/json', accept: 'text/event-stream', 'session-id': session },
    body: JSON.stringify({ model: 'gpt-5', stream: true, store: false, input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] }] }),
    // Far beyond what an answer here takes (well under a second): a stream that stopped fails.
    signal: AbortSignal.timeout(20_000),
  });
}

describe('gateway serve, a first output event that arrives in pieces', () => {
  // The gateway holds an answer back until its output starts, then sends the head and what it held
  // at once. Here the first output event (96 KB) reaches it in 12 KB pieces: together more than a
  // response's write buffer (16 KB on Node 20, 64 KB later), each piece less than the connection's.
  // Written one by one to an HTTP response while it was corked, they made it report "full" while
  // the connection took them all at once, so it never said "drained": the stream stopped there
  // until the 300 s idle timeout (seen in the gateway bench as an intermittent stall).
  it('passes the rest of the stream on after sending what it held', async () => {
    const a = await liveChatgptAccount(sb, fake, secrets);
    const big = sseEvent({ type: 'response.output_text.delta', item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'x'.repeat(96 * 1024) });
    const pieces: StreamStep[] = [];
    for (let at = 0; at < big.length; at += 12 * 1024) pieces.push(big.slice(at, at + 12 * 1024), { delayMs: 15 });
    const rest = Array.from({ length: 8 }, (_, k) => sseEvent({ type: 'response.output_text.delta', item_id: 'msg_1', output_index: 0, content_index: 0, delta: `after-${k};` }));
    const created = sseEvent({ type: 'response.created', response: { id: 'resp_1', status: 'in_progress' } });
    const completed = sseEvent({ type: 'response.completed', response: { id: 'resp_1', status: 'completed' } });
    fake.setResponses(a.tokens.access_token, { stream: [created, { delayMs: 15 }, ...pieces, ...rest.flatMap((ev) => [ev, { delayMs: 5 }]), completed] });

    const r = await oneRequest('thread-pieces');
    expect(r.status).toBe(200);
    let text = '';
    const decoder = new TextDecoder();
    try {
      for await (const chunk of r.body as AsyncIterable<Uint8Array>) text += decoder.decode(chunk, { stream: true });
    } catch (e) {
      throw new Error(`the stream stopped after ${text.length} of ${[created, big, ...rest, completed].join('').length} characters (${(e as Error).message})`);
    }
    expect(text).toBe([created, big, ...rest, completed].join(''));
  }, 60_000);
});

describe('gateway serve, an answer that ends before any output', () => {
  // The gateway holds an answer back until its output starts; one that ends first (only preamble
  // events here) is passed on whole, head and bytes together.
  it('passes it on unchanged', async () => {
    const a = await liveChatgptAccount(sb, fake, secrets);
    const events = [
      sseEvent({ type: 'response.created', response: { id: 'resp_2', status: 'in_progress' } }),
      sseEvent({ type: 'response.in_progress', response: { id: 'resp_2', status: 'in_progress' } }),
      'data: [DONE]\n\n',
    ];
    fake.setResponses(a.tokens.access_token, { stream: [events[0] as string, { delayMs: 10 }, events[1] as string, { delayMs: 10 }, events[2] as string] });

    const r = await oneRequest('thread-preamble');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/event-stream');
    expect(await r.text()).toBe(events.join(''));
  }, 60_000);
});

describe('gateway serve, its settings while it runs', () => {
  it('sees rotation turned on in gateway.json by the next request (the settings are cached only while the file is unchanged)', async () => {
    const b = fake.addChatgptAccount({ email: 'b@example.com', userId: 'user-b', accountId: 'acc-b' });
    const a = fake.addChatgptAccount({ email: 'a@example.com', userId: 'user-a', accountId: 'acc-a' });
    secrets.push(a.tokens.access_token, a.tokens.refresh_token, b.tokens.access_token, b.tokens.refresh_token);
    sb.writeAuth(b);
    expect((await sb.run(['list'])).code).toBe(0);
    sb.writeAuth(a);
    expect((await sb.run(['list'])).code).toBe(0);
    fake.setResponses(a.tokens.access_token, { usageLimit: { resetsAt: nowSeconds() + 3600 } });
    fake.setResponses(b.tokens.access_token, { text: 'served by b' });

    gw = await startGatewayProcess({ home: sb.home, codexAuthHome: path.join(sb.codexHome, 'codex-auth'), env: sb.env });
    secrets.push(gw.secret);
    const post = () =>
      fetch(`${gw!.model}/responses`, {
        method: 'POST',
        headers: { authorization: gw!.auth, 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ model: 'gpt-5', stream: true, input: [] }),
      });
    // Rotation off (the default): A's limit reaches Codex; B is not asked.
    const r1 = await post();
    expect(r1.status).toBe(429);
    await r1.text();
    expect(fake.bearerTokensSeen('/backend-api/codex/responses')).toEqual([a.tokens.access_token]);

    const file = path.join(sb.codexHome, 'codex-auth', 'gateway.json');
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), rotate: true }, null, 2));
    const r2 = await post();
    expect(r2.status).toBe(200);
    expect(await r2.text()).toContain('served by b');
  }, 30_000);
});
