import { describe, expect, it } from 'vitest';
import { carriesSecret, placeholderAuth } from '../../src/gateway/placeholder.js';
import { SseScanner, stripEncryptedReasoning, usageLimitOf } from '../../src/gateway/stream.js';

const NOW = new Date('2026-11-23T12:00:00Z');
const ev = (o: object) => `data: ${JSON.stringify(o)}\n\n`;

describe('SseScanner', () => {
  it('stays undecided through the preamble, even split mid-event, and decides on the first output', () => {
    const s = new SseScanner(() => NOW);
    const text = ev({ type: 'response.created' }) + ev({ type: 'response.in_progress' }) + ev({ type: 'response.output_text.delta', delta: 'h' });
    const cut = text.indexOf('delta') - 3;
    expect(s.push(Buffer.from(text.slice(0, 10)))).toEqual({ kind: 'undecided' });
    expect(s.push(Buffer.from(text.slice(10, cut)))).toEqual({ kind: 'undecided' });
    expect(s.push(Buffer.from(text.slice(cut)))).toEqual({ kind: 'output' });
  });

  it('a usage-limit failure before output is a limit, with its reset; any other error is passed on', () => {
    const limit = new SseScanner(() => NOW).push(Buffer.from(ev({ type: 'response.failed', response: { error: { code: 'usage_limit_reached', resets_in_seconds: 60 } } })));
    expect(limit).toEqual({ kind: 'limit', resetsAt: '2026-11-23T12:01:00.000Z' });
    expect(new SseScanner(() => NOW).push(Buffer.from(ev({ type: 'error', error: { code: 'context_length_exceeded' } })))).toEqual({ kind: 'output' });
  });
});

describe('usageLimitOf', () => {
  it('reads resets_at of a usage-limit 429 and ignores other 429s', () => {
    expect(usageLimitOf(JSON.stringify({ error: { type: 'usage_limit_reached', resets_at: 1_795_000_000 } }), NOW)).toEqual({ resetsAt: new Date(1_795_000_000_000).toISOString() });
    expect(usageLimitOf(JSON.stringify({ error: { type: 'requests', code: 'rate_limit_exceeded' } }), NOW)).toBeNull();
  });
});

describe('stripEncryptedReasoning', () => {
  it('drops reasoning items with encrypted content and keeps everything else byte-equivalent', () => {
    const body = { model: 'm', input: [{ type: 'message', role: 'user' }, { type: 'reasoning', encrypted_content: 'x' }, { type: 'reasoning', summary: [] }], extra: 1 };
    const r = stripEncryptedReasoning(Buffer.from(JSON.stringify(body)));
    expect(r?.removed).toBe(1);
    expect(JSON.parse(r!.body.toString())).toEqual({ ...body, input: [body.input[0], body.input[2]] });
    expect(stripEncryptedReasoning(Buffer.from(JSON.stringify({ input: [] })))).toBeNull();
    expect(stripEncryptedReasoning(Buffer.from('not json'))).toBeNull();
  });
});

describe('placeholder login', () => {
  const secret = 'a'.repeat(43);
  it('carries the secret in its access token, and only the exact secret passes', () => {
    const auth = placeholderAuth(secret, NOW) as { tokens: { access_token: string } };
    expect(carriesSecret(`Bearer ${auth.tokens.access_token}`, secret)).toBe(true);
    expect(carriesSecret(`Bearer ${auth.tokens.access_token}`, 'b'.repeat(43))).toBe(false);
    expect(carriesSecret(undefined, secret)).toBe(false);
    expect(carriesSecret(`Bearer ${secret}`, secret)).toBe(false);
  });
});
