/**
 * What the gateway needs to know about Codex's model traffic, without I/O: whether an SSE answer
 * has started its output yet or failed before it (a usage limit inside a 200 stream), what a 429
 * body says, how to drop encrypted reasoning items from a request body, and how to undo request
 * compression (CODEX-FACTS.md §10).
 */
import { StringDecoder } from 'node:string_decoder';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

/** Events that come before any model output: holding them back costs nothing. */
const PREAMBLE = new Set(['response.created', 'response.in_progress', 'response.queued', 'codex.rate_limits']);
const LIMIT = /usage_limit_reached|usage_limit_exceeded/;
/** A stream that has not decided after this much is passed on as it is. */
export const MAX_PEEK_BYTES = 256 * 1024;

export type StreamVerdict =
  /** Only preamble events so far. */
  | { kind: 'undecided' }
  /** Model output (or anything not known to be harmless) has begun: pass it on. */
  | { kind: 'output' }
  /** A usage-limit error before any output: fail over. */
  | { kind: 'limit'; resetsAt: string | null };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The reset time in a usage-limit error object (`resets_at` unix seconds, or `resets_in_seconds`). */
export function resetOf(err: unknown, now: Date): string | null {
  if (!isObject(err)) return null;
  if (typeof err.resets_at === 'number' && Number.isFinite(err.resets_at)) return new Date(err.resets_at * 1000).toISOString();
  if (typeof err.resets_in_seconds === 'number' && Number.isFinite(err.resets_in_seconds)) return new Date(now.getTime() + err.resets_in_seconds * 1000).toISOString();
  return null;
}

/** A 429 body that is a usage limit (CODEX-FACTS.md §5): when it lifts; null when it is not one. */
export function usageLimitOf(body: string, now: Date): { resetsAt: string | null } | null {
  if (!LIMIT.test(body)) return null;
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return { resetsAt: null };
  }
  const err = isObject(doc) ? doc.error : null;
  if (isObject(err) && typeof err.type === 'string' && !LIMIT.test(err.type) && !LIMIT.test(String(err.code ?? ''))) return null;
  return { resetsAt: resetOf(err, now) };
}

/** A 400 about encrypted content one account cannot verify for another (openai/codex#3942). */
export function isEncryptedContentError(status: number, body: string): boolean {
  return status === 400 && /encrypted[ _]content/i.test(body);
}

/** Reads SSE bytes as they arrive and says when the answer has started its output or failed. */
export class SseScanner {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  private verdict: StreamVerdict = { kind: 'undecided' };

  constructor(private readonly now: () => Date) {}

  push(chunk: Buffer): StreamVerdict {
    if (this.verdict.kind !== 'undecided') return this.verdict;
    this.pending += this.decoder.write(chunk);
    for (;;) {
      const m = /\r?\n\r?\n/.exec(this.pending);
      if (!m) break;
      const block = this.pending.slice(0, m.index);
      this.pending = this.pending.slice(m.index + m[0].length);
      this.verdict = this.event(block);
      if (this.verdict.kind !== 'undecided') return this.verdict;
    }
    return this.verdict;
  }

  private event(block: string): StreamVerdict {
    const data = block
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
      .join('\n');
    if (data === '' || data === '[DONE]') return { kind: 'undecided' };
    let ev: unknown;
    try {
      ev = JSON.parse(data);
    } catch {
      return { kind: 'output' };
    }
    const type = isObject(ev) && typeof ev.type === 'string' ? ev.type : '';
    if (PREAMBLE.has(type)) return { kind: 'undecided' };
    if ((type === 'error' || type === 'response.failed') && LIMIT.test(data)) {
      const e = ev as Record<string, unknown>;
      const resp = isObject(e.response) ? e.response : null;
      const err = isObject(e.error) ? e.error : resp && isObject(resp.error) ? resp.error : e;
      return { kind: 'limit', resetsAt: resetOf(err, this.now()) };
    }
    return { kind: 'output' };
  }
}

/**
 * A Responses request body without encrypted reasoning items (produced under another account, they
 * would be refused). Null when the body is not JSON or has nothing to strip.
 */
export function stripEncryptedReasoning(body: Buffer): { body: Buffer; removed: number } | null {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  if (!isObject(doc) || !Array.isArray(doc.input)) return null;
  const kept = doc.input.filter((item) => !(isObject(item) && item.type === 'reasoning' && typeof item.encrypted_content === 'string'));
  const removed = doc.input.length - kept.length;
  if (removed === 0) return null;
  return { body: Buffer.from(JSON.stringify({ ...doc, input: kept }), 'utf8'), removed };
}

export class UnsupportedEncoding extends Error {}

/** Whether this Node can decode zstd (22.15+ / 23.8+). */
const zstdDecompressSync = (process.getBuiltinModule('node:zlib') as { zstdDecompressSync?: (b: Buffer) => Buffer }).zstdDecompressSync;
export const HAS_ZSTD = typeof zstdDecompressSync === 'function';

/** Undo `content-encoding` (gzip, deflate, br, zstd where Node has it). Throws UnsupportedEncoding. */
export function decodeBody(body: Buffer, encoding: string | undefined): Buffer {
  const enc = (encoding ?? '').trim().toLowerCase();
  if (enc === '' || enc === 'identity') return body;
  if (enc === 'gzip' || enc === 'x-gzip') return gunzipSync(body);
  if (enc === 'deflate') return inflateSync(body);
  if (enc === 'br') return brotliDecompressSync(body);
  if (enc === 'zstd' && zstdDecompressSync) return zstdDecompressSync(body);
  throw new UnsupportedEncoding(
    enc === 'zstd'
      ? `this Node (${process.version}) cannot decode zstd request bodies (Node 22.15+ can); set features.enable_request_compression = false in Codex's config.toml`
      : `unsupported content-encoding "${enc}"`,
  );
}
