/**
 * The gateway's HTTP server (CODEX-FACTS.md §10): two loopback origins on 127.0.0.1 — the one
 * Codex's `chatgpt_base_url` points at (wham/accounts/check answered here for the placeholder
 * account, wham/usage and every other backend path passed through with a real account's
 * credentials) and the model base of `openai_base_url` (`/responses`, `/models`). Requests pass
 * through unchanged except their credentials; answers stream through as they arrive. Before the
 * first output byte a usage limit fails over to the next account (src/gateway/router.ts) and the
 * same request is retried; after it, the stream is only ever ended, never spliced.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Deps } from '../services/deps.js';
import { type HttpClient, proxyFor } from '../platform/http.js';
import { describeAccount } from '../domain/accounts.js';
import { decodeJwtPayload } from '../domain/jwt.js';
import { carriesSecret, GATEWAY_CLAIM, placeholderAccountId } from './placeholder.js';
import { type Credentials, type GatewayEvent, Router, type Serving } from './router.js';
import { decodeBody, isEncryptedContentError, MAX_PEEK_BYTES, SseScanner, stripEncryptedReasoning, UnsupportedEncoding, usageLimitOf } from './stream.js';
import { createUpstream, dump, httpClientOver, readAll, type UpstreamResponse } from './upstream.js';

export interface GatewayOptions {
  /** The backend origin's port; the model origin listens on port + 1. 0: two free ports. */
  port: number;
  secret: string;
  /** The chatgpt_base_url Codex's config.toml had before `gateway enable` (else ChatGPT's). */
  upstreamChatgptBaseUrl?: string | null;
  onEvent?: (e: GatewayEvent) => void;
}

export interface RunningGateway {
  /** What Codex's `chatgpt_base_url` is set to. */
  backendUrl: string;
  /** What Codex's `openai_base_url` is set to. */
  modelUrl: string;
  router: Router;
  close(): Promise<void>;
}

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'content-length']);
const DEFAULT_CHATGPT = 'https://chatgpt.com/backend-api';

type Upstream = UpstreamResponse;

/**
 * Why a request without this installation's secret is refused, in words Codex shows: most often Codex
 * holds a real login ("codex login" while the gateway is on), which "gateway enable" fixes. Never
 * echoes the credentials.
 */
export function forbiddenMessage(authorization: string | undefined): string {
  const base = 'this request does not carry the installation secret of this gateway';
  const bearer = authorization ? /^Bearer\s+(\S+)$/i.exec(authorization.trim())?.[1] : undefined;
  if (!bearer) return `${base} (is Codex set up with "codex-auth gateway enable"?)`;
  let placeholder = false;
  try {
    placeholder = typeof decodeJwtPayload(bearer)[GATEWAY_CLAIM] === 'object';
  } catch {
    /* not a JWT: an API key */
  }
  if (placeholder) return `${base}: Codex holds the placeholder login of another codex-auth installation. Run "codex-auth gateway enable" again to give Codex this one's.`;
  return `${base}: Codex holds a real login instead of the gateway's placeholder ("codex login" while the gateway is on?). Run "codex-auth gateway enable" again: it saves that login into its account in codex-auth and gives Codex the placeholder back.`;
}

function jsonError(res: ServerResponse, status: number, message: string, extra: Record<string, unknown> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: { message: `codex-auth gateway: ${message}`, type: 'codex_auth_gateway', ...extra } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function responseHeaders(h: Upstream['headers']): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) {
    // The answer's own length stays (its bytes pass unchanged); hop-by-hop headers do not.
    if (v !== undefined && (k === 'content-length' || !HOP.has(k))) out[k] = v;
  }
  return out;
}

/**
 * Wait until the client can take more, or has gone. Not at all when nothing is pending, because
 * then no 'drain' comes and the stream would stop for good:
 * - on Node 24, a write refused while corked can be flushed by uncork() with its 'drain' already
 *   emitted (a 64 KB first chunk after the corked head hung the stream);
 * - on Node 22, a response that refused a write while corked stays "full" when its connection then
 *   takes everything at once: the response's 'drain' comes only from its connection's, which never
 *   needed one (pieces each smaller than the connection's buffer, together more than the response's).
 */
export function drained(res: Pick<ServerResponse, 'writableNeedDrain' | 'destroyed' | 'on' | 'off'> & { socket?: Pick<Socket, 'writableNeedDrain' | 'writableLength'> | null }): Promise<void> {
  if (!res.writableNeedDrain || res.destroyed) return Promise.resolve();
  const conn = res.socket;
  if (conn && !conn.writableNeedDrain && conn.writableLength === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** `app` whose HTTP client (token refreshes, usage calls) is `client`. */
function withHttp(app: Deps, client: HttpClient): Deps {
  const http = (): Promise<HttpClient> => Promise.resolve(client);
  return new Proxy(app, { get: (target, key, receiver) => (key === 'http' ? http : Reflect.get(target, key, receiver)) });
}

export async function startGateway(base: Deps, opts: GatewayOptions): Promise<RunningGateway> {
  const { openaiBaseUrl } = await import('../openai/me.js');
  const { refreshUrl } = await import('../openai/oauth.js');
  const chatgptBase = (base.env.CODEX_AUTH_CHATGPT_BASE_URL || opts.upstreamChatgptBaseUrl || DEFAULT_CHATGPT).replace(/\/+$/, '');
  const apiBase = openaiBaseUrl(base.env);
  // node:http/node:https unless a proxy applies to an upstream: undici only then. Token refreshes and
  // usage calls go the same way unless a proxy applies to the token service (then the CLI's own
  // client, undici, with the proxy): without a proxy, undici is never loaded in a serving gateway.
  const upstream = await createUpstream(base.env, [chatgptBase, apiBase]);
  const refreshDirect = proxyFor(base.env, refreshUrl(base.env)) === null;
  const app = upstream.kind === 'node' && refreshDirect ? withHttp(base, httpClientOver(upstream, base.env)) : base;
  app.report.debug(`gateway: upstream requests through ${upstream.kind === 'undici' ? 'undici (a proxy applies)' : 'node:http/node:https'}`);
  const router = new Router(app, opts.onEvent);
  const placeholderId = placeholderAccountId(opts.secret);
  const startedAt = app.now().toISOString();
  /** Which account last served each thread: a change means its encrypted reasoning must go. */
  const threads = new Map<string, string>();

  const remember = (thread: string | null, id: string) => {
    if (thread === null) return;
    threads.delete(thread);
    threads.set(thread, id);
    if (threads.size > 4096) threads.delete(threads.keys().next().value as string);
  };

  function upstreamHeaders(req: IncomingMessage, creds: Credentials, drop: readonly string[] = []): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || HOP.has(k) || k === 'authorization' || k === 'chatgpt-account-id' || drop.includes(k)) continue;
      out[k] = Array.isArray(v) ? v.join(', ') : v;
    }
    if (creds.kind === 'chatgpt') {
      out.authorization = `Bearer ${creds.accessToken}`;
      if (creds.accountId) out['chatgpt-account-id'] = creds.accountId;
    } else out.authorization = `Bearer ${creds.key}`;
    return out;
  }

  function send(url: string, method: string, headers: Record<string, string>, body: Buffer | null, signal: AbortSignal): Promise<Upstream> {
    return upstream.send(url, method, headers, body, signal);
  }

  /** Stream an upstream answer to Codex: `first` (already read) then the rest, as it comes. */
  async function pipe(res: ServerResponse, up: Upstream, first: Buffer[] = [], iter?: AsyncIterator<Buffer>): Promise<void> {
    // The head and what was held back leave in one write: one buffer, so that whether the client
    // can take more is its connection's answer (see drained()).
    res.cork();
    res.writeHead(up.statusCode, responseHeaders(up.headers));
    const full = first.length > 0 && !res.write(Buffer.concat(first));
    res.uncork();
    if (full) await drained(res);
    const it = iter ?? (up.body[Symbol.asyncIterator]() as AsyncIterator<Buffer>);
    try {
      for (;;) {
        if (res.destroyed) {
          up.body.destroy();
          return;
        }
        const n = await it.next();
        if (n.done) break;
        if (!res.write(n.value)) await drained(res);
      }
      res.end();
    } catch {
      // The upstream stream broke after output started: end ours the same way; Codex replays.
      res.destroy();
    }
  }

  /** POST …/responses: the model request, with failover before the first output byte. */
  async function model(req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const raw = await readBody(req);
    const thread = (req.headers['thread-id'] as string | undefined) ?? (req.headers['session-id'] as string | undefined) ?? null;
    const suffix = new URL(req.url ?? '/', 'http://x').search;
    const exclude = new Set<string>();
    let lastLimit: { up: Upstream; text: string } | null = null;
    let why: string | null = null;
    for (let attempt = 0; attempt < 12; attempt++) {
      const picked = await router.pick(exclude);
      if ('none' in picked) {
        if (lastLimit) return sendLimit(res, lastLimit, picked.until);
        return jsonError(res, 503, `no account can serve this request: ${picked.none}`);
      }
      const s: Serving = picked;
      const apikey = s.creds.kind === 'apikey';
      // The body as this account gets it: decoded for the API (it takes no zstd), stripped of
      // encrypted reasoning when the thread was served by another account.
      let body = raw;
      let decoded = false;
      const encoding = req.headers['content-encoding'];
      const mustStrip = thread !== null && threads.has(thread) && threads.get(thread) !== s.account.id;
      if (encoding && (apikey || mustStrip)) {
        try {
          body = decodeBody(raw, encoding);
          decoded = true;
        } catch (e) {
          if (!(e instanceof UnsupportedEncoding) || apikey) {
            router.stat(s.account.id).lastError = (e as Error).message;
            return jsonError(res, 415, `${describeAccount(s.account)} cannot serve this request: ${(e as Error).message}`);
          }
        }
      }
      if (mustStrip && (decoded || !encoding)) body = stripEncryptedReasoning(body)?.body ?? body;
      const url = apikey ? `${apiBase}/responses${suffix}` : `${chatgptBase}/codex/responses${suffix}`;
      const drop = decoded ? ['content-encoding'] : [];
      let creds = s.creds;
      let stripped = mustStrip;
      let up: Upstream | null = null;
      for (let tries = 0; tries < 3; tries++) {
        up = await send(url, 'POST', upstreamHeaders(req, creds, drop), body, signal);
        if (up.statusCode === 401 && creds.kind === 'chatgpt' && tries === 0) {
          await dump(up.body);
          const fresh = await router.credentials(s.account, { after401: creds.accessToken }).catch((e: unknown) => {
            router.stat(s.account.id).lastError = (e as Error).message;
            return null;
          });
          if (!fresh) return jsonError(res, 502, `${describeAccount(s.account)} was refused (401) and its tokens could not be refreshed; run "codex-auth refresh" or log in again`);
          creds = fresh;
          continue;
        }
        if (up.statusCode === 400 && !stripped) {
          const bytes = await readAll(up.body);
          const text = bytes.toString('utf8');
          if (isEncryptedContentError(400, text)) {
            const plain = encoding && !decoded ? null : stripEncryptedReasoning(body);
            if (plain) {
              body = plain.body;
              stripped = true;
              continue;
            }
          }
          router.stat(s.account.id).lastError = `HTTP 400`;
          return pipe(res, up, [bytes], emptyIter());
        }
        break;
      }
      up = up as Upstream;
      if (up.statusCode === 401) {
        await dump(up.body);
        router.stat(s.account.id).lastError = 'HTTP 401 after a refresh';
        return jsonError(res, 502, `${describeAccount(s.account)} was refused (401) even after a token refresh; run "codex-auth refresh" or log in again`);
      }
      if (up.statusCode === 429) {
        const bytes = await readAll(up.body);
        const text = bytes.toString('utf8');
        const limit = usageLimitOf(text, app.now());
        if (limit) {
          await router.exhausted(s.account, limit.resetsAt);
          exclude.add(s.account.id);
          lastLimit = { up, text };
          why = `${describeAccount(s.account)} reached its usage limit${limit.resetsAt ? ` (until ${limit.resetsAt})` : ''}`;
          continue;
        }
        router.stat(s.account.id).lastError = 'HTTP 429';
        return pipe(res, up, [bytes], emptyIter());
      }
      const sse = up.statusCode === 200 && String(up.headers['content-type'] ?? '').includes('text/event-stream');
      if (!sse) {
        if (up.statusCode >= 400) router.stat(s.account.id).lastError = `HTTP ${up.statusCode}`;
        await router.served(s, why);
        if (up.statusCode < 400) remember(thread, s.account.id);
        return pipe(res, up);
      }
      // Hold the answer back until its output starts (or it fails with a usage limit first).
      const scanner = new SseScanner(() => app.now());
      const it = up.body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      const held: Buffer[] = [];
      let size = 0;
      let verdict = scanner.push(Buffer.alloc(0));
      let ended = false;
      while (verdict.kind === 'undecided' && size < MAX_PEEK_BYTES) {
        let n: IteratorResult<Buffer>;
        try {
          n = await it.next();
        } catch {
          ended = true;
          break;
        }
        if (n.done) {
          ended = true;
          break;
        }
        held.push(n.value);
        size += n.value.length;
        verdict = scanner.push(n.value);
      }
      if (verdict.kind === 'limit') {
        up.body.destroy();
        await router.exhausted(s.account, verdict.resetsAt);
        exclude.add(s.account.id);
        why = `${describeAccount(s.account)} reached its usage limit${verdict.resetsAt ? ` (until ${verdict.resetsAt})` : ''}`;
        continue;
      }
      await router.served(s, why);
      remember(thread, s.account.id);
      // Ended while held (no output at all): all of it is in `held`.
      return pipe(res, up, held, ended ? emptyIter() : it);
    }
    if (lastLimit) return sendLimit(res, lastLimit, null);
    return jsonError(res, 503, 'no account could serve this request');
  }

  /** Everything is exhausted: Codex gets a usage-limit answer naming the earliest reset. */
  function sendLimit(res: ServerResponse, last: { up: Upstream; text: string }, until: string | null): void {
    let text = last.text;
    if (until) {
      try {
        const doc = JSON.parse(text) as { error?: Record<string, unknown> };
        if (doc.error) {
          const at = Math.floor(Date.parse(until) / 1000);
          doc.error.resets_at = at;
          doc.error.resets_in_seconds = Math.max(0, at - Math.floor(app.now().getTime() / 1000));
          text = JSON.stringify(doc);
        }
      } catch {
        /* sent as it came */
      }
    }
    const headers = responseHeaders(last.up.headers);
    headers['content-length'] = String(Buffer.byteLength(text));
    res.writeHead(429, headers);
    res.end(text);
  }

  /** Any other request: passed through with a ChatGPT account's credentials, 401 → refresh → once more. */
  async function passThrough(req: IncomingMessage, res: ServerResponse, url: string, signal: AbortSignal, prefer: 'serving' | 'chosen'): Promise<void> {
    const body = req.method === 'GET' || req.method === 'HEAD' ? null : await readBody(req);
    const reg = await router.registry();
    const serving = reg.accounts.find((a) => a.id === router.servingId);
    const chosen = reg.accounts.find((a) => a.id === reg.activeId);
    const account = [prefer === 'serving' ? serving : chosen, chosen, serving, ...reg.accounts].find((a) => a?.kind === 'chatgpt' && !a.loginRequired);
    if (!account) return jsonError(res, 503, 'no ChatGPT account to pass this request on with');
    let creds: Credentials;
    try {
      creds = await router.credentials(account);
    } catch (e) {
      return jsonError(res, 502, (e as Error).message);
    }
    let up = await send(url, req.method ?? 'GET', upstreamHeaders(req, creds), body, signal);
    if (up.statusCode === 401 && creds.kind === 'chatgpt') {
      await dump(up.body);
      try {
        creds = await router.credentials(account, { after401: creds.accessToken });
      } catch (e) {
        return jsonError(res, 502, `${describeAccount(account)} was refused (401) and its tokens could not be refreshed: ${(e as Error).message}`);
      }
      up = await send(url, req.method ?? 'GET', upstreamHeaders(req, creds), body, signal);
      if (up.statusCode === 401) {
        await dump(up.body);
        return jsonError(res, 502, `${describeAccount(account)} was refused (401) even after a token refresh`);
      }
    }
    return pipe(res, up);
  }

  function accountsCheck(res: ServerResponse): void {
    const body = JSON.stringify({
      accounts: [{ id: placeholderId, name: 'codex-auth gateway', plan_type: 'plus', workspace_backend_origin: 'https://chatgpt.com', account_routing_override: 'NO_CONSTRAINT' }],
      account_ordering: [placeholderId],
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  /** `gateway status`: who serves, requests and failovers per account, the last errors (no secrets). */
  async function status(res: ServerResponse): Promise<void> {
    const reg = await router.registry();
    const label = (id: string | null) => {
      const a = id ? reg.accounts.find((x) => x.id === id) : undefined;
      return a ? describeAccount(a) : null;
    };
    const body = JSON.stringify({
      pid: process.pid,
      startedAt,
      chosen: reg.activeId ? { id: reg.activeId, label: label(reg.activeId) } : null,
      serving: router.servingId ? { id: router.servingId, label: label(router.servingId) } : null,
      accounts: [...router.stats.entries()].map(([id, st]) => ({ id, label: label(id), requests: st.requests, failovers: st.failovers, lastError: st.lastError })),
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(body);
  }

  /** The last Authorization header found to carry the secret: Codex sends the same one every time. */
  let knownGood: string | null = null;
  const authorized = (h: string | undefined) => {
    if (h !== undefined && h === knownGood) return true;
    if (!carriesSecret(h, opts.secret)) return false;
    knownGood = h ?? null;
    return true;
  };

  async function handle(origin: 'backend' | 'model', req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!authorized(req.headers.authorization)) {
      req.resume();
      return jsonError(res, 403, forbiddenMessage(req.headers.authorization));
    }
    const ac = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) ac.abort();
    });
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = u.pathname.replace(/\/+$/, '');
    if (origin === 'model') {
      if (path.endsWith('/responses')) {
        if (req.method !== 'POST') return jsonError(res, 426, 'WebSockets are not supported: use HTTP streaming');
        return model(req, res, ac.signal);
      }
      if (path.endsWith('/models')) return passThrough(req, res, `${chatgptBase}/codex/models${u.search}`, ac.signal, 'chosen');
      return jsonError(res, 404, `unknown model path ${path}`);
    }
    if (path === '/codex-auth/status') return status(res);
    const rest = path.replace(/^\/backend-api(?=\/|$)/, '');
    if (rest === '/wham/accounts/check') return accountsCheck(res);
    // wham/usage: the serving ChatGPT account's real numbers (the chosen one's while the key serves).
    return passThrough(req, res, `${chatgptBase}${rest}${u.search}`, ac.signal, 'serving');
  }

  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const listen = (origin: 'backend' | 'model', port: number) =>
    new Promise<number>((resolve, reject) => {
      const server = createServer((req, res) => {
        handle(origin, req, res).catch((e: unknown) => {
          app.report.debug(`gateway: ${req.method} ${req.url}: ${(e as Error).message}`);
          if (!res.headersSent) jsonError(res, 502, `the upstream request failed (${(e as Error).message})`);
          else res.destroy();
        });
      });
      // WebSockets: Codex falls back to HTTP streaming at once on 426 (a gateway that changes accounts
      // cannot follow previous_response_id).
      server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
        const ok = carriesSecret(req.headers.authorization, opts.secret);
        const body = JSON.stringify({ error: { message: `codex-auth gateway: ${ok ? 'WebSockets are not supported; use HTTP streaming' : forbiddenMessage(req.headers.authorization)}` } });
        socket.end(`HTTP/1.1 ${ok ? '426 Upgrade Required' : '403 Forbidden'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      });
      server.on('connection', (s: Socket) => {
        s.setNoDelay(true);
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        servers.push(server);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const close = async () => {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    for (const s of sockets) s.destroy();
    await upstream.close().catch(() => undefined);
  };
  try {
    const backendPort = await listen('backend', opts.port);
    const modelPort = await listen('model', opts.port === 0 ? 0 : opts.port + 1);
    return { backendUrl: `http://127.0.0.1:${backendPort}/backend-api/`, modelUrl: `http://127.0.0.1:${modelPort}/v1`, router, close };
  } catch (e) {
    await close();
    throw e;
  }
}

function emptyIter(): AsyncIterator<Buffer> {
  return { next: async () => ({ done: true, value: undefined }) };
}
