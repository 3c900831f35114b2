/**
 * HTTP for every network call: undici, a per-request timeout (CODEX_AUTH_HTTP_TIMEOUT_MS, default
 * 10 s), bounded retries for 429/5xx (Retry-After honoured, capped), HTTPS_PROXY/NO_PROXY through
 * undici's EnvHttpProxyAgent, and extra CA certificates from CODEX_CA_CERTIFICATE or SSL_CERT_FILE.
 * Errors never include headers or bodies, so secrets cannot leak through them.
 */
import { readFileSync } from 'node:fs';
import type { Dispatcher } from 'undici';

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
  /** Extra attempts after a 429/5xx or a network error; default 2. */
  retries?: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
}

export type HttpErrorKind = 'timeout' | 'network';

export class HttpError extends Error {
  constructor(
    readonly kind: HttpErrorKind,
    /** Short form for table cells: `timeout`, `refused`, `network`. */
    readonly short: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function isHttpError(e: unknown): e is HttpError {
  return e instanceof HttpError;
}

export interface HttpClient {
  request(req: HttpRequest): Promise<HttpResponse>;
  close(): Promise<void>;
}

export const USER_AGENT = 'codex-auth';
const MAX_RETRY_AFTER_MS = 5_000;

export function httpTimeoutMs(env: NodeJS.ProcessEnv): number {
  const v = Number(env.CODEX_AUTH_HTTP_TIMEOUT_MS);
  return Number.isFinite(v) && v > 0 ? v : 10_000;
}

/** Extra trusted CAs, added to (not replacing) Node's built-in roots, as Codex does. */
export function loadCa(env: NodeJS.ProcessEnv, roots: readonly string[]): string[] | undefined {
  const file = env.CODEX_CA_CERTIFICATE || env.SSL_CERT_FILE;
  if (!file) return undefined;
  try {
    return [...roots, readFileSync(file, 'utf8')];
  } catch {
    return undefined;
  }
}

const TLS_CODES = new Set(['SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID']);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function describeNetworkError(err: unknown, url: string, timeoutMs: number): HttpError {
  const code = (err as { code?: string; cause?: { code?: string } })?.code ?? (err as { cause?: { code?: string } })?.cause?.code;
  const name = (err as Error)?.name;
  const target = new URL(url);
  const where = `${target.origin}${target.pathname}`;
  if (name === 'TimeoutError' || name === 'AbortError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new HttpError('timeout', 'timeout', `no answer from ${where} within ${Math.round(timeoutMs / 100) / 10}s`);
  }
  if (code === 'ECONNREFUSED') return new HttpError('network', 'refused', `connection refused by ${target.origin}`);
  if (code && TLS_CODES.has(code)) {
    return new HttpError('network', 'tls', `the TLS certificate of ${target.origin} is not trusted (${code}); if a proxy or company CA signs it, point CODEX_CA_CERTIFICATE at that CA's PEM file`);
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new HttpError('network', 'dns', `cannot resolve ${target.hostname}`);
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return new HttpError('network', 'reset', `connection to ${target.origin} was reset`);
  // The connection closed before the announced body was complete (a reset mid-answer).
  if (code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return new HttpError('network', 'reset', `connection to ${target.origin} was reset mid-answer`);
  return new HttpError('network', 'network', `network error talking to ${where}${code ? ` (${code})` : ''}`);
}

/**
 * The proxy a request to `url` goes through, from the injected environment, by undici's
 * EnvHttpProxyAgent rules (so the gateway knows when it needs undici at all): HTTPS_PROXY (else
 * HTTP_PROXY) for https:, HTTP_PROXY for http:, upper or lower case; none when NO_PROXY is `*` or
 * names the host (or a parent domain, optionally with a port). null: straight.
 */
export function proxyFor(env: NodeJS.ProcessEnv, url: string): string | null {
  const pick = (name: string) => env[name] ?? env[name.toLowerCase()];
  const u = new URL(url);
  const proxy = u.protocol === 'https:' ? pick('HTTPS_PROXY') || pick('HTTP_PROXY') : pick('HTTP_PROXY');
  if (!proxy) return null;
  const noProxy = pick('NO_PROXY') ?? '';
  if (noProxy === '*') return null;
  const host = u.host.replace(/:\d*$/, '').toLowerCase();
  const port = Number.parseInt(u.port, 10) || (u.protocol === 'https:' ? 443 : 80);
  for (const entry of noProxy.split(/[,\s]/)) {
    if (!entry) continue;
    const m = /^(.+):(\d+)$/.exec(entry);
    const name = (m ? m[1]! : entry).replace(/^\*?\./, '').toLowerCase();
    if (m && Number.parseInt(m[2]!, 10) !== port) continue;
    if (host === name || host.endsWith(`.${name}`)) return null;
  }
  return proxy;
}

/**
 * The undici dispatcher every request goes through: HTTPS_PROXY/NO_PROXY from the injected
 * environment, extra CAs. Also the gateway's, for its upstream requests.
 */
export async function createDispatcher(env: NodeJS.ProcessEnv): Promise<Dispatcher> {
  const [{ EnvHttpProxyAgent }, tls] = await Promise.all([import('undici'), import('node:tls')]);
  const ca = loadCa(env, tls.rootCertificates);
  // Proxy settings come from the injected environment (not process.env), upper or lower case.
  const pick = (name: string) => env[name] ?? env[name.toLowerCase()];
  const httpProxy = pick('HTTP_PROXY');
  const httpsProxy = pick('HTTPS_PROXY') ?? httpProxy;
  const noProxy = pick('NO_PROXY');
  return new EnvHttpProxyAgent({
    ...(httpProxy ? { httpProxy } : {}),
    ...(httpsProxy ? { httpsProxy } : {}),
    noProxy: noProxy ?? '',
    ...(ca ? { connect: { ca }, requestTls: { ca } } : {}),
  });
}

/**
 * undici and node:tls are imported here, when a command first needs the network: everything is one
 * bundle, and a static import would load them for every command.
 */
export async function createHttpClient(env: NodeJS.ProcessEnv): Promise<HttpClient> {
  const [{ request }, dispatcher] = await Promise.all([import('undici'), createDispatcher(env)]);
  const defaultTimeout = httpTimeoutMs(env);

  async function once(req: HttpRequest, timeoutMs: number): Promise<HttpResponse> {
    try {
      const res = await request(req.url, {
        method: req.method,
        headers: { 'user-agent': USER_AGENT, ...req.headers },
        body: req.body ?? null,
        dispatcher,
        signal: AbortSignal.timeout(timeoutMs),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const text = await res.body.text();
      return { status: res.statusCode, headers: flatHeaders(res.headers), text };
    } catch (err) {
      throw describeNetworkError(err, req.url, timeoutMs);
    }
  }

  return {
    request: (req) => withRetries(once, req, defaultTimeout),
    async close() {
      await dispatcher.close();
    },
  };
}

/** Response headers as one string each, lower-case names (repeated ones joined). */
export function flatHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return headers;
}

/**
 * One request with the rules every client here follows: the request's timeout (else the default),
 * and bounded retries of 429/5xx (Retry-After honoured, capped) and of quick network failures.
 */
export async function withRetries(once: (req: HttpRequest, timeoutMs: number) => Promise<HttpResponse>, req: HttpRequest, defaultTimeout: number): Promise<HttpResponse> {
  const timeoutMs = req.timeoutMs ?? defaultTimeout;
  const retries = req.retries ?? 2;
  for (let attempt = 0; ; attempt += 1) {
    let res: HttpResponse;
    try {
      res = await once(req, timeoutMs);
    } catch (err) {
      // A timeout already cost the whole budget: do not multiply it. Retry only quick failures.
      if (attempt >= retries || (err as HttpError).kind === 'timeout') throw err;
      await sleep(200 * 2 ** attempt);
      continue;
    }
    if ((res.status === 429 || res.status >= 500) && attempt < retries) {
      const ra = Number(res.headers['retry-after']);
      await sleep(Number.isFinite(ra) && ra >= 0 ? Math.min(ra * 1000, MAX_RETRY_AFTER_MS) : 250 * 2 ** attempt);
      continue;
    }
    return res;
  }
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
