/**
 * The gateway's upstream client: one small interface, two implementations. Without a proxy (the
 * usual case) requests go through node:http/node:https with keep-alive agents; undici, which costs
 * 20–30 MB of resident memory in an idle gateway, is loaded only when HTTPS_PROXY/HTTP_PROXY applies
 * to an upstream per NO_PROXY (its EnvHttpProxyAgent then handles every request, NO_PROXY included).
 * Both: extra CAs from CODEX_CA_CERTIFICATE/SSL_CERT_FILE, undici's default timeouts (10 s to
 * connect, 300 s without a byte of the head or the body), streaming bodies, and the request
 * aborted (its answer's body destroyed) when the signal fires — Codex went away.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { createDispatcher, describeNetworkError, flatHeaders, type HttpClient, type HttpRequest, type HttpResponse, httpTimeoutMs, loadCa, proxyFor, USER_AGENT, withRetries } from '../platform/http.js';

export interface UpstreamResponse {
  statusCode: number;
  /** Lower-case names; repeated headers as arrays (set-cookie) or joined. */
  headers: Record<string, string | string[] | undefined>;
  /** The answer's bytes as they arrive. */
  body: Readable;
}

export interface Upstream {
  /** Which implementation: for tests and `--verbose`. */
  readonly kind: 'node' | 'undici';
  send(url: string, method: string, headers: Record<string, string>, body: Buffer | null, signal: AbortSignal): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

/** How long a connection may take, and how long nothing may be received (head or body), in ms. */
export interface UpstreamTimeouts {
  connectMs: number;
  /** Nothing received for this long, head or body: the request fails (undici's 300 s defaults). */
  idleMs: number;
}

export const DEFAULT_UPSTREAM_TIMEOUTS: UpstreamTimeouts = { connectMs: 10_000, idleMs: 300_000 };

/** The whole answer (small error bodies only). */
export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Read and discard the answer so its connection can be reused. */
export async function dump(body: Readable): Promise<void> {
  try {
    for await (const _ of body) {
      /* discarded */
    }
  } catch {
    /* the connection is gone: nothing to reuse */
  }
}

/**
 * The client for these upstream origins: undici when a proxy applies to any of them, else
 * node:http/node:https.
 */
export async function createUpstream(env: NodeJS.ProcessEnv, origins: readonly string[]): Promise<Upstream> {
  if (origins.some((o) => proxyFor(env, o) !== null)) return undiciUpstream(env);
  return nodeUpstream(env);
}

/**
 * The CLI's HTTP client (the one token refreshes and usage calls take), carried by this upstream:
 * the same timeout and retry rules as src/platform/http.ts. The gateway uses it when its upstream is
 * node:http, so a refresh while serving does not load undici (20–30 MB resident for good).
 */
export function httpClientOver(upstream: Upstream, env: NodeJS.ProcessEnv): HttpClient {
  async function once(req: HttpRequest, timeoutMs: number): Promise<HttpResponse> {
    try {
      const body = req.body === undefined ? null : Buffer.from(req.body, 'utf8');
      const res = await upstream.send(req.url, req.method, { 'user-agent': USER_AGENT, ...req.headers }, body, AbortSignal.timeout(timeoutMs));
      const text = (await readAll(res.body)).toString('utf8');
      return { status: res.statusCode, headers: flatHeaders(res.headers), text };
    } catch (err) {
      throw describeNetworkError(err, req.url, timeoutMs);
    }
  }
  const defaultTimeout = httpTimeoutMs(env);
  return {
    request: (req) => withRetries(once, req, defaultTimeout),
    async close() {
      /* the gateway closes its upstream itself */
    },
  };
}

export async function nodeUpstream(env: NodeJS.ProcessEnv, timeouts: UpstreamTimeouts = DEFAULT_UPSTREAM_TIMEOUTS): Promise<Upstream> {
  const { connectMs, idleMs } = timeouts;
  // require(), not import(): an import() of a built-in from this CommonJS bundle starts Node's ES
  // module loader, which then stays resident (README "Performance": idle RSS on Node 24 68.9 -> 65.0 MB).
  const http = process.getBuiltinModule('node:http');
  const https = process.getBuiltinModule('node:https');
  let ca: string[] | undefined;
  if (env.CODEX_CA_CERTIFICATE || env.SSL_CERT_FILE) {
    const tls = process.getBuiltinModule('node:tls');
    ca = loadCa(env, tls.rootCertificates);
  }
  const common = { keepAlive: true, noDelay: true, timeout: idleMs };
  const agents = { http: new http.Agent(common), https: new https.Agent({ ...common, ...(ca ? { ca } : {}) }) };

  function send(url: string, method: string, headers: Record<string, string>, body: Buffer | null, signal: AbortSignal): Promise<UpstreamResponse> {
    return new Promise<UpstreamResponse>((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const u = new URL(url);
      const tlsOn = u.protocol === 'https:';
      const h: Record<string, string> = { ...headers };
      const payload = body && body.length > 0 ? body : null;
      // A fixed length, never chunked (as undici sends it): an empty POST says 0.
      if (payload) h['content-length'] = String(payload.length);
      else if (method !== 'GET' && method !== 'HEAD') h['content-length'] = '0';
      const req = (tlsOn ? https : http).request(u, { method, headers: h, agent: tlsOn ? agents.https : agents.http });
      let connectTimer: NodeJS.Timeout | undefined;
      let response: IncomingMessage | undefined;
      const onAbort = () => {
        clearTimeout(connectTimer);
        req.destroy(signal.reason as Error);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      req.on('socket', (socket) => {
        // A pooled socket keeps the shorter timeout the agent gave it from the server's
        // `Keep-Alive: timeout=` hint, even when reused: without this, a stream pausing longer than
        // that hint was cut as idle.
        socket.setTimeout(idleMs);
        if (socket.connecting) {
          connectTimer = setTimeout(() => req.destroy(Object.assign(new Error(`connect timeout (${connectMs / 1000}s)`), { code: 'UND_ERR_CONNECT_TIMEOUT' })), connectMs);
          socket.once('connect', () => clearTimeout(connectTimer));
        }
      });
      // The agent's socket timeout: nothing received for that long, head or body, ends the request.
      // After the head, the answer's reader gets the error (not a bare "aborted").
      req.on('timeout', () => {
        const what = response ? ['no body data', 'UND_ERR_BODY_TIMEOUT'] : ['no response head', 'UND_ERR_HEADERS_TIMEOUT'];
        const err = Object.assign(new Error(`${what[0]} within ${idleMs / 1000}s`), { code: what[1] });
        response?.destroy(err);
        req.destroy(err);
      });
      req.on('error', (e) => {
        clearTimeout(connectTimer);
        signal.removeEventListener('abort', onAbort);
        reject(e);
      });
      req.on('response', (res) => {
        response = res;
        clearTimeout(connectTimer);
        // From here an abort destroys the answer (so a reader waiting on it wakes up).
        signal.removeEventListener('abort', onAbort);
        const stop = () => {
          res.destroy(signal.reason as Error);
          req.destroy();
        };
        signal.addEventListener('abort', stop, { once: true });
        res.once('close', () => signal.removeEventListener('abort', stop));
        resolve({ statusCode: res.statusCode ?? 502, headers: res.headers, body: res });
      });
      req.end(payload ?? undefined);
    });
  }

  return {
    kind: 'node',
    send,
    async close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

export async function undiciUpstream(env: NodeJS.ProcessEnv): Promise<Upstream> {
  const [{ request }, dispatcher] = await Promise.all([import('undici'), createDispatcher(env)]);
  return {
    kind: 'undici',
    async send(url, method, headers, body, signal) {
      type Method = NonNullable<Parameters<typeof request>[1]>['method'];
      const up = await request(url, { method: method as Method, headers, body: body && body.length > 0 ? body : null, dispatcher, signal });
      return { statusCode: up.statusCode, headers: up.headers, body: up.body };
    },
    async close() {
      await dispatcher.close().catch(() => undefined);
    },
  };
}
