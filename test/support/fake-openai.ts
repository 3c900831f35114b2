/**
 * A fake OpenAI for tests, served on 127.0.0.1 (CODEX-FACTS.md §5, §6, §8).
 *
 * It listens on two ports sharing one handler, because Codex needs `chatgpt_base_url` and
 * `openai_base_url` on different origins. It answers what codex-auth and the real Codex CLI ask:
 * `/v1/me`, `/v1/responses`, `/backend-api/codex/responses`, `/backend-api/codex/models`,
 * `/backend-api/wham/{accounts/check,settings/user,usage}`, `/oauth/token` (with rotating
 * refresh-token chains and reuse detection) and `/oauth/revoke` (what `codex logout` calls). Every request is recorded; unknown paths get 404 and
 * are kept in `unknownRequests()`.
 *
 * Each behaviour can be changed per test: per API key, per bearer token, per account, or per path
 * (`override`). A `Fault` replaces the normal answer with a status, a body, garbage, a delay or a hang.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { AccountClaims, ChatgptAuthDoc, ChatgptAuthOptions } from './jwt.js';
import { AUTH_CLAIM, chatgptAuth, decodeJwt, makeAccessToken, makeIdToken, makeRefreshToken, nowSeconds } from './jwt.js';

export const CODEX_CLIENT_ID = 'app_EMoamEEZ73f0CkXaXp7hrann';

/** Replaces the normal answer of an endpoint. Fields combine: delay, then hang / garbage / status+body. */
export interface Fault {
  /** Reply with this HTTP status (with `body`, or a JSON error body fitting the endpoint). */
  status?: number;
  /** JSON body to send (with `status`, default 200). A string is sent as-is. */
  body?: unknown;
  /** Never answer. The socket is destroyed by `close()`. */
  hang?: boolean;
  /** Answer 200 with a non-JSON body. */
  garbage?: boolean;
  /** Wait this long before answering (the normal answer, or the fault). */
  delayMs?: number;
  /** Extra response headers. */
  headers?: Record<string, string>;
  /** Apply this many times, then fall back to the normal answer (default: forever). */
  times?: number;
}

/** Which of the two listeners a request came in on. */
export type FakePort = 'chatgpt' | 'openai';

export interface RecordedRequest {
  port: FakePort;
  portNumber: number;
  method: string;
  /** Path with query string, as sent. */
  url: string;
  /** Path without query string. */
  path: string;
  query: URLSearchParams;
  /** Lower-cased header names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
  /** The bearer token of the Authorization header, if any. */
  bearer: string | null;
  /** Whether a built-in route or an override answered it (false: 404 for an unknown path). */
  known: boolean;
  at: Date;
}

export interface RequestFilter {
  method?: string;
  /** Exact path (without query) or a pattern tested against it. */
  path?: string | RegExp;
  port?: FakePort;
  bearer?: string;
}

export interface ApiUser {
  id?: string;
  email?: string;
  name?: string;
  orgs?: { id: string; title: string }[];
}

export interface RateLimitWindow {
  usedPercent: number;
  windowMinutes: number;
  /** Unix seconds. */
  resetAt: number;
}

export interface RateLimits {
  primary: RateLimitWindow | null;
  secondary: RateLimitWindow | null;
}

export interface ResponsesConfig {
  /** Rate-limit headers sent with the answer (default: the fake's `defaultRateLimits`). */
  rateLimits?: RateLimits | null;
  /** Answer 429 usage_limit_reached instead. */
  usageLimit?: { planType?: string; resetsAt?: number };
  /** Text of the assistant message (default "hi"). */
  text?: string;
  /**
   * Answer 200 text/event-stream with these steps, in order: raw SSE text is written at once (one
   * write each), `delayMs` waits, `gate` waits for the promise, `cut` destroys the connection
   * without ending the stream (a stream cut mid-way).
   */
  stream?: StreamStep[];
  /** Like `stream`, but built for each request from it (answers that differ per request). */
  streamFor?: (r: RecordedRequest) => StreamStep[];
  /** Answer 400 "encrypted content … could not be verified" when the request carries encrypted reasoning. */
  rejectEncryptedReasoning?: boolean;
  fault?: Fault;
}

export type StreamStep = string | { delayMs: number } | { gate: Promise<unknown> } | { cut: true };

/** SSE text of one event. */
export function sseEvent(ev: object): string {
  return `data: ${JSON.stringify(ev)}\n\n`;
}

export interface UsageWindowSpec {
  usedPercent: number;
  /** Default 18000 for primary, 604800 for secondary. */
  limitWindowSeconds?: number;
  /** Default derived from resetAt, else 3600. */
  resetAfterSeconds?: number;
  /** Unix seconds; default now + resetAfterSeconds. */
  resetAt?: number;
}

export interface UsageConfig {
  planType?: string;
  /** `null` sends a null window; omitted means 0% used. */
  primary?: UsageWindowSpec | null;
  secondary?: UsageWindowSpec | null;
  limitReached?: boolean;
  credits?: unknown;
  /** Send exactly this body instead of building one. */
  body?: unknown;
  fault?: Fault;
}

export interface IssuedTokens {
  id_token: string;
  access_token: string;
  refresh_token: string;
}

export type RefreshTokenState = 'current' | 'used' | 'invalidated' | 'expired';

export interface RefreshOutcome {
  refreshToken: string;
  ok: boolean;
  /** The error code answered, if not ok. */
  error?: string;
  body: Record<string, unknown>;
}

interface Account {
  key: string;
  claims: AccountClaims;
  latest: IssuedTokens;
  refreshCount: number;
  /** Lifetime of access tokens issued by a refresh. */
  accessTtlSeconds: number;
}

interface FaultSlot {
  fault: Fault;
  remaining: number;
}

interface Override {
  method: string | undefined;
  path: string | RegExp;
  slot: FaultSlot;
}

export interface FakeOpenAIOptions {
  /** Rate-limit headers for model responses unless configured per token. */
  defaultRateLimits?: RateLimits | null;
  /** Accept any `sk-` key on `/v1/responses` even if not registered (default false: 401 like OpenAI). */
  acceptUnknownApiKeys?: boolean;
  /** Print unknown requests to stderr (also enabled by env FAKE_OPENAI_DEBUG=1). */
  logUnknown?: boolean;
  /** Lifetime of access tokens issued by a refresh (default 3600 s). */
  accessTtlSeconds?: number;
}

const INVALID_KEY_BODY = {
  error: {
    message: 'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
    type: 'invalid_request_error',
    param: null,
    code: 'invalid_api_key',
  },
};

const REFRESH_ERROR_MESSAGES: Record<Exclude<RefreshTokenState, 'current'>, string> = {
  used: 'Your refresh token has already been used to generate a new access token. Please try signing in again.',
  invalidated: 'Your refresh token has been invalidated. Please try signing in again.',
  expired: 'Your refresh token has expired. Please try signing in again.',
};

const REFRESH_ERROR_CODES: Record<Exclude<RefreshTokenState, 'current'>, string> = {
  used: 'refresh_token_reused',
  invalidated: 'refresh_token_invalidated',
  expired: 'refresh_token_expired',
};

function accountKey(userId: string, accountId: string): string {
  return `${userId}::${accountId}`;
}

function headerRecord(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function bearerOf(headers: Record<string, string>): string | null {
  const auth = headers.authorization;
  if (auth === undefined) return null;
  const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
  return m?.[1] ?? null;
}

function matchesPath(path: string, pattern: string | RegExp): boolean {
  return typeof pattern === 'string' ? path === pattern : pattern.test(path);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Claims of a JWT access token, or null when it is not one. */
function tokenClaims(token: string | null): { exp: number | null; accountId: string | null; userId: string | null; plan: string | null } | null {
  if (token === null) return null;
  try {
    const p = decodeJwt(token);
    const auth = p[AUTH_CLAIM];
    const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
    return {
      exp: typeof p.exp === 'number' ? p.exp : null,
      accountId: isObject(auth) ? str(auth.chatgpt_account_id) : null,
      userId: isObject(auth) ? (str(auth.chatgpt_user_id) ?? str(auth.user_id)) : null,
      plan: isObject(auth) ? str(auth.chatgpt_plan_type) : null,
    };
  } catch {
    return null;
  }
}

/** The rate-limit headers Codex reads from model responses. */
export function rateLimitHeaders(limits: RateLimits | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!limits) return out;
  for (const [name, w] of [['primary', limits.primary], ['secondary', limits.secondary]] as const) {
    if (w === null) continue;
    out[`x-codex-${name}-used-percent`] = String(w.usedPercent);
    out[`x-codex-${name}-window-minutes`] = String(w.windowMinutes);
    out[`x-codex-${name}-reset-at`] = String(w.resetAt);
  }
  return out;
}

/** The minimal SSE stream Codex accepts as a successful turn. */
export function sseSuccessBody(text: string, responseId = `resp_${randomUUID().replaceAll('-', '')}`): string {
  const item = { type: 'message', role: 'assistant', content: [{ type: 'output_text', text }] };
  return (
    `data: ${JSON.stringify({ type: 'response.output_item.done', item })}\n\n` +
    `data: ${JSON.stringify({ type: 'response.completed', response: { id: responseId } })}\n\n`
  );
}

/** A `/wham/usage` body (CODEX-FACTS.md §5). */
export function usageBody(cfg: UsageConfig = {}, now: number = nowSeconds()): Record<string, unknown> {
  const window = (spec: UsageWindowSpec | null | undefined, defaultSeconds: number): unknown => {
    if (spec === null) return null;
    const s = spec ?? { usedPercent: 0 };
    const resetAfter = s.resetAfterSeconds ?? (s.resetAt !== undefined ? Math.max(0, s.resetAt - now) : 3600);
    return {
      used_percent: s.usedPercent,
      limit_window_seconds: s.limitWindowSeconds ?? defaultSeconds,
      reset_after_seconds: resetAfter,
      reset_at: s.resetAt ?? now + resetAfter,
    };
  };
  const primary = window(cfg.primary, 18000);
  const secondary = window(cfg.secondary, 604800);
  const used = [cfg.primary, cfg.secondary].some((w) => w != null && w.usedPercent >= 100);
  const limitReached = cfg.limitReached ?? used;
  return {
    plan_type: cfg.planType ?? 'plus',
    rate_limit: { allowed: !limitReached, limit_reached: limitReached, primary_window: primary, secondary_window: secondary },
    credits: cfg.credits ?? { has_credits: false, unlimited: false, balance: null },
  };
}

export class FakeOpenAI {
  /** Rate-limit headers sent with model responses unless configured per token. */
  defaultRateLimits: RateLimits | null;
  acceptUnknownApiKeys: boolean;

  private readonly servers: { port: FakePort; server: Server; number: number }[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly log: RecordedRequest[] = [];
  /** Called with every request as it arrives, before it is answered (tests: what holds a lock then). */
  onRequest: ((r: RecordedRequest) => void) | null = null;
  private readonly waiters: { filter: RequestFilter; resolve: (r: RecordedRequest) => void }[] = [];
  private readonly apiKeys = new Map<string, Required<ApiUser>>();
  private readonly meFaults = new Map<string, FaultSlot>();
  private readonly responses = new Map<string, ResponsesConfig & { slot?: FaultSlot }>();
  private readonly usage = new Map<string, UsageConfig & { slot?: FaultSlot }>();
  private readonly accounts = new Map<string, Account>();
  private readonly refreshTokens = new Map<string, { account: string; state: RefreshTokenState }>();
  private readonly refreshFaults = new Map<string, FaultSlot>();
  private readonly refreshLog: RefreshOutcome[] = [];
  private readonly revoked: string[] = [];
  private readonly overrides: Override[] = [];
  private readonly logUnknown: boolean;
  private readonly accessTtlSeconds: number;
  private closed = false;

  private constructor(opts: FakeOpenAIOptions) {
    const now = nowSeconds();
    this.defaultRateLimits =
      opts.defaultRateLimits === undefined
        ? {
            primary: { usedPercent: 42, windowMinutes: 300, resetAt: now + 3600 },
            secondary: { usedPercent: 10, windowMinutes: 10080, resetAt: now + 90000 },
          }
        : opts.defaultRateLimits;
    this.acceptUnknownApiKeys = opts.acceptUnknownApiKeys ?? false;
    this.logUnknown = opts.logUnknown ?? process.env.FAKE_OPENAI_DEBUG === '1';
    this.accessTtlSeconds = opts.accessTtlSeconds ?? 3600;
  }

  /** Start both listeners on random ports of 127.0.0.1. */
  static async start(opts: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
    const fake = new FakeOpenAI(opts);
    try {
      for (const port of ['chatgpt', 'openai'] as const) await fake.listen(port);
    } catch (err) {
      await fake.close();
      throw err;
    }
    return fake;
  }

  private async listen(port: FakePort): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(port, req, res).catch((err: unknown) => {
        if (!res.headersSent && !res.destroyed) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: `fake-openai: ${String(err)}` } }));
        }
      });
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.servers.push({ port, server, number: (server.address() as AddressInfo).port });
  }

  private portNumber(port: FakePort): number {
    const s = this.servers.find((x) => x.port === port);
    if (!s) throw new Error(`fake-openai: ${port} listener not started`);
    return s.number;
  }

  /** Origin of the ChatGPT-backend listener (P1). */
  get chatgptOrigin(): string {
    return `http://127.0.0.1:${this.portNumber('chatgpt')}`;
  }
  /** Origin of the OpenAI-API / model listener (P2). */
  get openaiOrigin(): string {
    return `http://127.0.0.1:${this.portNumber('openai')}`;
  }
  /** `http://127.0.0.1:P2/v1` — Codex `openai_base_url` in API-key mode, CODEX_AUTH_OPENAI_BASE_URL. */
  get openaiBaseUrl(): string {
    return `${this.openaiOrigin}/v1`;
  }
  /** `http://127.0.0.1:P1/backend-api` — Codex `chatgpt_base_url`, CODEX_AUTH_CHATGPT_BASE_URL. */
  get chatgptBaseUrl(): string {
    return `${this.chatgptOrigin}/backend-api`;
  }
  /** `http://127.0.0.1:P2/backend-api/codex` — Codex `openai_base_url` in ChatGPT mode. */
  get codexModelBaseUrl(): string {
    return `${this.openaiOrigin}/backend-api/codex`;
  }
  /** `http://127.0.0.1:P1/oauth/token` — CODEX_REFRESH_TOKEN_URL_OVERRIDE. */
  get refreshUrl(): string {
    return `${this.chatgptOrigin}/oauth/token`;
  }

  // ---------------------------------------------------------------- configuration: API keys

  /** Register an API key for `/v1/me` and `/v1/responses`. Returns the user `/v1/me` answers. */
  addApiKey(key: string, user: ApiUser = {}, fault?: Fault): Required<ApiUser> {
    const suffix = key.slice(-6).replace(/[^A-Za-z0-9]/g, 'x');
    const full: Required<ApiUser> = {
      id: user.id ?? `user-${suffix}`,
      email: user.email ?? `dev-${suffix.toLowerCase()}@example.com`,
      name: user.name ?? `Dev ${suffix}`,
      orgs: user.orgs ?? [{ id: `org-${suffix}`, title: 'Personal' }],
    };
    this.apiKeys.set(key, full);
    if (fault) this.meFaults.set(key, slotOf(fault));
    return full;
  }

  /** Change how `/v1/me` answers for a key (registered or not). `null` restores the normal answer. */
  setMeFault(key: string, fault: Fault | null): void {
    if (fault) this.meFaults.set(key, slotOf(fault));
    else this.meFaults.delete(key);
  }

  removeApiKey(key: string): void {
    this.apiKeys.delete(key);
  }

  // ---------------------------------------------------------------- configuration: model responses

  /** Configure model responses (`/v1/responses`, `/backend-api/codex/responses`) for a bearer token. */
  setResponses(token: string, cfg: ResponsesConfig): void {
    this.responses.set(token, cfg.fault ? { ...cfg, slot: slotOf(cfg.fault) } : { ...cfg });
  }

  // ---------------------------------------------------------------- configuration: usage

  /** Configure `/wham/usage` for an access token or a ChatGPT account id. Token entries win. */
  setUsage(tokenOrAccountId: string, cfg: UsageConfig): void {
    this.usage.set(tokenOrAccountId, cfg.fault ? { ...cfg, slot: slotOf(cfg.fault) } : { ...cfg });
  }

  // ---------------------------------------------------------------- configuration: accounts and refresh

  /**
   * Build a ChatGPT auth.json for a new account and register its refresh token, so that the fake can
   * refresh it. The access token is not otherwise remembered: any unexpired JWT is accepted.
   */
  addChatgptAccount(opts: ChatgptAuthOptions): ChatgptAuthDoc {
    const doc = chatgptAuth(opts);
    this.registerRefreshToken(opts, doc.tokens.refresh_token, doc.tokens);
    return doc;
  }

  /**
   * Make `refreshToken` the current head of the account's refresh-token chain (the previous head, if
   * any, stays valid until it is used or invalidated; use `invalidateRefreshTokens` for a logout).
   */
  registerRefreshToken(claims: AccountClaims, refreshToken: string, tokens?: Partial<IssuedTokens>): void {
    const key = accountKey(claims.userId, claims.accountId);
    const base: AccountClaims = { email: claims.email, userId: claims.userId, accountId: claims.accountId };
    if (claims.plan !== undefined) base.plan = claims.plan;
    const existing = this.accounts.get(key);
    const latest: IssuedTokens = {
      id_token: tokens?.id_token ?? existing?.latest.id_token ?? makeIdToken(base),
      access_token: tokens?.access_token ?? existing?.latest.access_token ?? makeAccessToken(base),
      refresh_token: refreshToken,
    };
    if (existing) {
      existing.claims = base;
      existing.latest = latest;
    } else {
      this.accounts.set(key, { key, claims: base, latest, refreshCount: 0, accessTtlSeconds: this.accessTtlSeconds });
    }
    this.refreshTokens.set(refreshToken, { account: key, state: 'current' });
  }

  /** Simulate a logout or a re-login elsewhere: every refresh token of the account stops working. */
  invalidateRefreshTokens(accountId: string, userId?: string, state: 'invalidated' | 'expired' = 'invalidated'): void {
    const acct = this.account(accountId, userId);
    for (const entry of this.refreshTokens.values()) if (entry.account === acct.key) entry.state = state;
  }

  /** State of a refresh token known to the fake, or null when unknown. */
  refreshTokenState(refreshToken: string): RefreshTokenState | null {
    return this.refreshTokens.get(refreshToken)?.state ?? null;
  }

  /** Make `/oauth/token` fail for this account (all its refresh tokens) or for one refresh token. */
  setRefreshFault(accountIdOrRefreshToken: string, fault: Fault | null): void {
    if (fault) this.refreshFaults.set(accountIdOrRefreshToken, slotOf(fault));
    else this.refreshFaults.delete(accountIdOrRefreshToken);
  }

  /** The latest tokens of an account: issued by the last refresh, else the registered ones. */
  latestTokens(accountId: string, userId?: string): IssuedTokens {
    return { ...this.account(accountId, userId).latest };
  }

  /** How many successful refreshes the account had. */
  refreshCount(accountId: string, userId?: string): number {
    return this.account(accountId, userId).refreshCount;
  }

  /** Every `/oauth/token` refresh attempt, in order. */
  refreshAttempts(): RefreshOutcome[] {
    return this.refreshLog.map((r) => ({ ...r }));
  }

  /** Tokens revoked through `/oauth/revoke` (what `codex logout` sends), in order. */
  revokedTokens(): string[] {
    return [...this.revoked];
  }

  private account(accountId: string, userId?: string): Account {
    const matches = [...this.accounts.values()].filter(
      (a) => a.claims.accountId === accountId && (userId === undefined || a.claims.userId === userId),
    );
    const first = matches[0];
    if (first === undefined) throw new Error(`fake-openai: no account ${accountId}${userId ? ` / ${userId}` : ''}`);
    if (matches.length > 1) throw new Error(`fake-openai: several users in account ${accountId}; pass userId`);
    return first;
  }

  // ---------------------------------------------------------------- configuration: any path

  /** Replace the answer of any path (exact or pattern), optionally for one method only. Latest wins. */
  override(path: string | RegExp, fault: Fault, method?: string): void {
    this.overrides.unshift({ method: method?.toUpperCase(), path, slot: slotOf(fault) });
  }

  clearOverrides(): void {
    this.overrides.length = 0;
  }

  // ---------------------------------------------------------------- inspection

  /** Recorded requests, oldest first, optionally filtered. */
  requests(filter: RequestFilter = {}): RecordedRequest[] {
    return this.log.filter((r) => matchesFilter(r, filter));
  }

  /** Requests to paths the fake does not know (answered 404). */
  unknownRequests(): RecordedRequest[] {
    return this.log.filter((r) => !r.known);
  }

  /** Distinct bearer tokens seen on requests whose path matches, in order of first appearance. */
  bearerTokensSeen(path?: string | RegExp): string[] {
    const out: string[] = [];
    for (const r of this.log) {
      if (r.bearer === null || (path !== undefined && !matchesPath(r.path, path))) continue;
      if (!out.includes(r.bearer)) out.push(r.bearer);
    }
    return out;
  }

  /** Resolve with the first request (already recorded or future) matching the filter. */
  waitForRequest(filter: RequestFilter, timeoutMs = 10_000): Promise<RecordedRequest> {
    const seen = this.log.find((r) => matchesFilter(r, filter));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        const i = this.waiters.findIndex((w) => w.resolve === done);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`fake-openai: no request matching ${JSON.stringify(filterText(filter))} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.timers.add(timer);
      const done = (r: RecordedRequest): void => {
        clearTimeout(timer);
        this.timers.delete(timer);
        resolve(r);
      };
      this.waiters.push({ filter, resolve: done });
    });
  }

  clearRequests(): void {
    this.log.length = 0;
  }

  /** Stop listening and destroy every open socket, hanging requests included. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const closing = this.servers.map(
      ({ server }) => new Promise<void>((resolve) => server.close(() => resolve())),
    );
    for (const { server } of this.servers) server.closeAllConnections();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await Promise.all(closing);
  }

  // ---------------------------------------------------------------- request handling

  private async handle(port: FakePort, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const headers = headerRecord(req);
    const rec: RecordedRequest = {
      port,
      portNumber: this.portNumber(port),
      method: (req.method ?? 'GET').toUpperCase(),
      url: req.url ?? '/',
      path: url.pathname,
      query: url.searchParams,
      headers,
      body: Buffer.concat(chunks),
      bearer: bearerOf(headers),
      known: true,
      at: new Date(),
    };
    this.onRequest?.(rec);
    const reply = this.route(rec);
    if (reply === null) {
      rec.known = false;
      if (this.logUnknown) process.stderr.write(`fake-openai: unknown ${rec.method} ${rec.url} on ${port}\n`);
    }
    this.record(rec);
    await this.send(res, reply ?? { status: 404, body: { detail: 'Not Found' } });
  }

  private record(rec: RecordedRequest): void {
    this.log.push(rec);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i];
      if (w && matchesFilter(rec, w.filter)) {
        this.waiters.splice(i, 1);
        w.resolve(rec);
      }
    }
  }

  private async send(res: ServerResponse, reply: Reply): Promise<void> {
    if (reply.delayMs !== undefined && reply.delayMs > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.timers.delete(t);
          resolve();
        }, reply.delayMs);
        this.timers.add(t);
      });
    }
    if (this.closed || res.destroyed) return;
    if (reply.hang) return; // never answered; close() destroys the socket
    const headers: Record<string, string> = { ...reply.headers };
    if (reply.stream) {
      res.writeHead(reply.status ?? 200, headers);
      for (const step of reply.stream) {
        if (this.closed || res.destroyed) return;
        if (typeof step === 'string') res.write(step);
        else if ('delayMs' in step) await new Promise((resolve) => setTimeout(resolve, step.delayMs));
        else if ('gate' in step) await step.gate;
        else {
          res.destroy();
          return;
        }
      }
      res.end();
      return;
    }
    let payload: string;
    if (reply.garbage) {
      headers['content-type'] ??= 'application/json';
      payload = '<html><body>502 Bad Gateway</body></html>\u0000{not json';
    } else if (typeof reply.body === 'string') {
      headers['content-type'] ??= 'text/plain';
      payload = reply.body;
    } else if (reply.body === undefined) {
      payload = '';
    } else {
      headers['content-type'] ??= 'application/json';
      payload = JSON.stringify(reply.body);
    }
    res.writeHead(reply.status ?? 200, headers);
    res.end(payload);
  }

  /** Decide the answer; null for an unknown path. */
  private route(r: RecordedRequest): Reply | null {
    for (const o of this.overrides) {
      if (o.method !== undefined && o.method !== r.method) continue;
      if (!matchesPath(r.path, o.path)) continue;
      const f = takeFault(o.slot);
      if (f) return withFault(f, () => this.builtin(r) ?? { status: 404, body: { detail: 'Not Found' } });
    }
    return this.builtin(r);
  }

  private builtin(r: RecordedRequest): Reply | null {
    const { method, path } = r;
    if (path === '/v1/me' && method === 'GET') return this.me(r);
    if (path === '/v1/responses' || path === '/backend-api/codex/responses') {
      if (method === 'POST') return this.modelResponse(r);
      // Codex first tries a WebSocket upgrade; 426 makes it fall back to HTTP at once.
      return { status: 426, body: { error: { message: 'Upgrade Required (fake-openai has no websockets)' } } };
    }
    // Codex asks `{openai_base_url}/models` with ChatGPT auth and decodes `models`; OpenAI's own
    // `/v1/models` answers `data`. Both shapes at once keep either client happy.
    if (path === '/v1/models' && method === 'GET') return { body: { object: 'list', data: [], models: [] } };
    if (path === '/backend-api/codex/models' && method === 'GET') return { body: { models: [] } };
    if (path === '/backend-api/wham/accounts/check' && method === 'GET') return this.accountsCheck(r);
    if (path === '/backend-api/wham/settings/user' && method === 'GET') return { body: {} };
    if (path === '/backend-api/wham/usage' && method === 'GET') return this.wham(r);
    if (path === '/oauth/token' && method === 'POST') return this.refresh(r);
    if (path === '/oauth/revoke' && method === 'POST') return this.revoke(r);
    return null;
  }

  private me(r: RecordedRequest): Reply {
    const slot = r.bearer === null ? undefined : this.meFaults.get(r.bearer);
    const f = slot ? takeFault(slot) : null;
    return f ? withFault(f, () => this.meNormal(r)) : this.meNormal(r);
  }

  private meNormal(r: RecordedRequest): Reply {
    const u = r.bearer === null ? undefined : this.apiKeys.get(r.bearer);
    if (!u) return { status: 401, body: INVALID_KEY_BODY };
    return {
      headers: { 'openai-organization': u.orgs[0]?.id ?? 'user-none' },
      body: {
        object: 'user',
        id: u.id,
        email: u.email,
        name: u.name,
        orgs: { object: 'list', data: u.orgs.map((o) => ({ object: 'organization', id: o.id, title: o.title, personal: o.title === 'Personal' })) },
      },
    };
  }

  private modelResponse(r: RecordedRequest): Reply {
    const cfg = r.bearer === null ? undefined : this.responses.get(r.bearer);
    const f = cfg?.slot ? takeFault(cfg.slot) : null;
    return f ? withFault(f, () => this.modelResponseNormal(r, cfg)) : this.modelResponseNormal(r, cfg);
  }

  private modelResponseNormal(r: RecordedRequest, cfg: ResponsesConfig | undefined): Reply {
    const token = r.bearer;
    if (token === null) return { status: 401, body: { error: { message: 'Missing bearer token', type: 'invalid_request_error', code: null } } };
    const chatgptPath = r.path.startsWith('/backend-api/');
    if (!cfg) {
      if (token.startsWith('sk-') && !chatgptPath) {
        if (!this.apiKeys.has(token) && !this.acceptUnknownApiKeys) return { status: 401, body: INVALID_KEY_BODY };
      } else {
        const claims = tokenClaims(token);
        if (claims === null) return { status: 401, body: { detail: 'Could not parse your authentication token.' } };
        if (claims.exp !== null && claims.exp <= nowSeconds()) return { status: 401, body: tokenExpiredBody() };
      }
    }
    const rateLimits = cfg?.rateLimits === undefined ? this.defaultRateLimits : cfg.rateLimits;
    const headers = rateLimitHeaders(rateLimits);
    if (cfg?.rejectEncryptedReasoning && carriesEncryptedReasoning(r.body)) {
      return {
        status: 400,
        body: { error: { message: 'The encrypted content for item rs_1 could not be verified.', type: 'invalid_request_error', param: null, code: 'invalid_encrypted_content' } },
      };
    }
    if (cfg?.usageLimit) {
      const resetsAt = cfg.usageLimit.resetsAt ?? nowSeconds() + 3600;
      return {
        status: 429,
        headers,
        body: {
          error: {
            type: 'usage_limit_reached',
            message: 'The usage limit has been reached',
            plan_type: cfg.usageLimit.planType ?? 'plus',
            resets_at: resetsAt,
            resets_in_seconds: Math.max(0, resetsAt - nowSeconds()),
          },
        },
      };
    }
    const stream = cfg?.streamFor ? cfg.streamFor(r) : cfg?.stream;
    if (stream) return { headers: { ...headers, 'content-type': 'text/event-stream', 'cache-control': 'no-cache' }, stream };
    return {
      headers: { ...headers, 'content-type': 'text/event-stream', 'cache-control': 'no-cache' },
      body: sseSuccessBody(cfg?.text ?? 'hi'),
    };
  }

  private accountsCheck(r: RecordedRequest): Reply {
    const id = r.headers['chatgpt-account-id'] ?? tokenClaims(r.bearer)?.accountId ?? null;
    if (id === null) return { status: 401, body: { detail: 'Unauthorized' } };
    return {
      body: {
        accounts: [{ id, workspace_backend_origin: 'https://fake-backend.invalid', account_routing_override: 'NO_CONSTRAINT' }],
        account_ordering: [id],
      },
    };
  }

  private wham(r: RecordedRequest): Reply {
    const claims = tokenClaims(r.bearer);
    const accountId = r.headers['chatgpt-account-id'] ?? claims?.accountId ?? null;
    const cfg = (r.bearer !== null ? this.usage.get(r.bearer) : undefined) ?? (accountId !== null ? this.usage.get(accountId) : undefined);
    const f = cfg?.slot ? takeFault(cfg.slot) : null;
    return f ? withFault(f, () => this.whamNormal(r, cfg)) : this.whamNormal(r, cfg);
  }

  private whamNormal(r: RecordedRequest, cfg: UsageConfig | undefined): Reply {
    const claims = tokenClaims(r.bearer);
    if (r.bearer === null) return { status: 401, body: { detail: 'Unauthorized' } };
    if (!cfg) {
      if (claims === null) return { status: 401, body: { detail: 'Could not parse your authentication token.' } };
      if (claims.exp !== null && claims.exp <= nowSeconds()) return { status: 401, body: tokenExpiredBody() };
    }
    if (cfg?.body !== undefined) return { body: cfg.body };
    const usageCfg: UsageConfig = { ...cfg };
    usageCfg.planType ??= claims?.plan ?? 'plus';
    return { body: usageBody(usageCfg) };
  }

  /** `codex logout` revokes the refresh token: POST `<origin of the refresh URL>/oauth/revoke`. */
  private revoke(r: RecordedRequest): Reply {
    const params = formOrJson(r);
    if (params === null) return { status: 400, body: { error: { code: 'invalid_request', message: 'Request body is not valid JSON' } } };
    const token = typeof params.token === 'string' ? params.token : '';
    this.revoked.push(token);
    const entry = this.refreshTokens.get(token);
    if (entry) entry.state = 'invalidated';
    return { body: {} };
  }

  private refresh(r: RecordedRequest): Reply {
    const params = formOrJson(r);
    if (params === null) return { status: 400, body: { error: { code: 'invalid_request', message: 'Request body is not valid JSON' } } };
    const refreshToken = typeof params.refresh_token === 'string' ? params.refresh_token : '';
    const fail = (status: number, code: string, message: string): Reply => {
      const body = { error: { message, type: 'invalid_request_error', param: null, code } };
      this.refreshLog.push({ refreshToken, ok: false, error: code, body });
      return { status, body };
    };
    if (params.grant_type !== 'refresh_token') return fail(400, 'unsupported_grant_type', `Unsupported grant type: ${String(params.grant_type)}`);
    if (params.client_id !== CODEX_CLIENT_ID) return fail(400, 'invalid_client', `Unknown client_id: ${String(params.client_id)}`);
    const entry = this.refreshTokens.get(refreshToken);
    const acct = entry ? this.accounts.get(entry.account) : undefined;
    const faultSlot = this.refreshFaults.get(refreshToken) ?? (acct ? this.refreshFaults.get(acct.claims.accountId) : undefined);
    const f = faultSlot ? takeFault(faultSlot) : null;
    if (f && isReplacing(f)) {
      const reply = withFault(f, () => ({}));
      const body = isObject(reply.body) ? reply.body : {};
      this.refreshLog.push({ refreshToken, ok: false, error: `fault:${f.hang ? 'hang' : f.garbage ? 'garbage' : String(f.status ?? 200)}`, body });
      return reply;
    }
    const reply = this.refreshNormal(refreshToken, entry, acct, fail);
    return f ? withFault(f, () => reply) : reply;
  }

  private refreshNormal(
    refreshToken: string,
    entry: { account: string; state: RefreshTokenState } | undefined,
    acct: Account | undefined,
    fail: (status: number, code: string, message: string) => Reply,
  ): Reply {
    if (!entry || !acct) return fail(401, 'refresh_token_invalidated', REFRESH_ERROR_MESSAGES.invalidated);
    if (entry.state !== 'current') return fail(401, REFRESH_ERROR_CODES[entry.state], REFRESH_ERROR_MESSAGES[entry.state]);

    entry.state = 'used';
    const issued: IssuedTokens = {
      id_token: makeIdToken(acct.claims),
      access_token: makeAccessToken(acct.claims, { exp: nowSeconds() + acct.accessTtlSeconds }),
      refresh_token: makeRefreshToken(),
    };
    this.refreshTokens.set(issued.refresh_token, { account: acct.key, state: 'current' });
    acct.latest = issued;
    acct.refreshCount += 1;
    const body = { ...issued, token_type: 'Bearer', expires_in: acct.accessTtlSeconds, scope: 'openid profile email offline_access' };
    this.refreshLog.push({ refreshToken, ok: true, body });
    return { body };
  }
}

/** The body of a POST as form fields or a JSON object; null when unreadable. */
function formOrJson(r: RecordedRequest): Record<string, unknown> | null {
  const text = r.body.toString('utf8');
  if ((r.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return isObject(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

/** Whether a Responses request body holds a reasoning item with encrypted content. */
function carriesEncryptedReasoning(body: Buffer): boolean {
  try {
    const doc = JSON.parse(body.toString('utf8')) as { input?: unknown };
    return Array.isArray(doc.input) && doc.input.some((i) => isObject(i) && i.type === 'reasoning' && typeof i.encrypted_content === 'string');
  } catch {
    return false;
  }
}

interface Reply {
  stream?: StreamStep[];
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  hang?: boolean;
  garbage?: boolean;
  delayMs?: number;
}

function slotOf(fault: Fault): FaultSlot {
  return { fault, remaining: fault.times ?? Number.POSITIVE_INFINITY };
}

function takeFault(slot: FaultSlot): Fault | null {
  if (slot.remaining <= 0) return null;
  slot.remaining -= 1;
  return slot.fault;
}

/** Whether the fault replaces the answer (status, body, hang, garbage) rather than only delaying it. */
function isReplacing(f: Fault): boolean {
  return f.status !== undefined || f.body !== undefined || f.hang === true || f.garbage === true;
}

/**
 * Apply a fault: a replacing fault yields its own answer (with a fitting error body for an error
 * status); a delay/headers-only fault wraps the normal answer.
 */
function withFault(f: Fault, normal: () => Reply): Reply {
  const reply: Reply = isReplacing(f) ? {} : { ...normal() };
  if (isReplacing(f)) {
    if (f.status !== undefined) reply.status = f.status;
    const body = f.body !== undefined ? f.body : f.status !== undefined && f.status >= 400 ? errorBodyFor(f.status) : undefined;
    if (body !== undefined) reply.body = body;
    if (f.hang) reply.hang = true;
    if (f.garbage) reply.garbage = true;
  }
  if (f.headers) reply.headers = { ...reply.headers, ...f.headers };
  if (f.delayMs !== undefined) reply.delayMs = f.delayMs;
  return reply;
}

function errorBodyFor(status: number | undefined): unknown {
  if (status === 401) return INVALID_KEY_BODY;
  if (status === 429) return { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } };
  return { error: { message: `fake-openai: injected HTTP ${status ?? 200}`, type: 'server_error', code: null } };
}

function tokenExpiredBody(): unknown {
  return { error: { message: 'Provided authentication token is expired. Please try signing in again.', type: 'invalid_request_error', code: 'token_expired' } };
}

function matchesFilter(r: RecordedRequest, f: RequestFilter): boolean {
  if (f.method !== undefined && r.method !== f.method.toUpperCase()) return false;
  if (f.port !== undefined && r.port !== f.port) return false;
  if (f.bearer !== undefined && r.bearer !== f.bearer) return false;
  if (f.path !== undefined && !matchesPath(r.path, f.path)) return false;
  return true;
}

function filterText(f: RequestFilter): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(f)) out[k] = String(v);
  return out;
}
