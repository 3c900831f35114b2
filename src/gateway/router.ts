/**
 * The gateway's accounts: which one serves the next request (the fallback policy's servingAccount(),
 * src/domain/policy.ts), its credentials (kept in memory, refreshed through the project's token
 * service: per-account lock, rotated tokens durable before use), usage limits seen (kept in memory
 * and recorded in the registry like any other), and every failover or switch back in events.jsonl.
 */
import { statSync } from 'node:fs';
import type { Deps } from '../services/deps.js';
import { describeAccount } from '../domain/accounts.js';
import { parseAuthJson } from '../domain/authfile.js';
import { jwtExpiry } from '../domain/jwt.js';
import { type CandidateCheck, type LimitEvent, policyAccounts, type ServingDecision, servingAccount } from '../domain/policy.js';
import type { Account, Registry } from '../domain/types.js';
import { peekGatewaySettings, settingsFile } from './peek.js';

export type Credentials = { kind: 'chatgpt'; accessToken: string; accountId: string | null } | { kind: 'apikey'; key: string };

export interface Serving {
  account: Account;
  creds: Credentials;
  decision: Extract<ServingDecision, { id: string }>;
}

export interface GatewayEvent {
  kind: 'gateway-failover' | 'gateway-switch-back';
  from: string | null;
  to: string;
  /** describeAccount() of `to`. */
  label: string;
  reason: string;
}

export interface AccountStats {
  requests: number;
  failovers: number;
  lastError: string | null;
}

/** Re-ask the usage API about the chosen account at most this often while waiting to switch back. */
const SWITCH_BACK_CHECK_MS = 60_000;
const REFRESH_SKEW_S = 300;

export class Router {
  private reg: Registry | null = null;
  private stamp = '';
  private rotateOn = false;
  private rotateStamp: string | null = null;
  private readonly creds = new Map<string, Credentials>();
  /** The `exp` of each cached ChatGPT access token (decoded once, not per request). */
  private readonly expiry = new Map<string, number | null>();
  private readonly limits: LimitEvent[] = [];
  /** The account that served the last request. */
  servingId: string | null = null;
  private lastCheck = 0;
  readonly stats = new Map<string, AccountStats>();

  constructor(
    private readonly app: Deps,
    /** Told of every change of serving account (the command prints it). */
    private readonly onEvent: (e: GatewayEvent) => void = () => undefined,
  ) {}

  /** The registry, read again only when registry.json changed. */
  async registry(): Promise<Registry> {
    const stamp = fileStamp(this.app.paths.registry);
    if (this.reg === null || stamp !== this.stamp) {
      this.reg = await this.app.registry.load();
      this.stamp = stamp;
    }
    return this.reg;
  }

  stat(id: string): AccountStats {
    let s = this.stats.get(id);
    if (!s) this.stats.set(id, (s = { requests: 0, failovers: 0, lastError: null }));
    return s;
  }

  /** The gateway's rotation setting, gateway.json read again only when it changed. */
  private rotate(): boolean {
    const file = settingsFile(this.app.paths.home);
    const stamp = fileStamp(file);
    if (stamp !== this.rotateStamp) {
      this.rotateOn = peekGatewaySettings(this.app.paths.home)?.rotate === true;
      this.rotateStamp = stamp;
    }
    return this.rotateOn;
  }

  decide(reg: Registry, exclude: ReadonlySet<string>, checks: Record<string, CandidateCheck>): ServingDecision {
    return servingAccount({
      now: this.app.now(),
      // The gateway's own rotation setting (off by default); the fallback key whenever one is set.
      config: { keyId: reg.fallback.keyId, threshold: reg.fallback.threshold, rotate: this.rotate(), switchBack: reg.fallback.switchBack },
      chosenId: reg.activeId,
      servingId: this.servingId,
      accounts: policyAccounts(reg.accounts),
      limitEvents: [...reg.limitEvents, ...this.limits],
      exclude,
      checks,
    });
  }

  /**
   * The account for the next attempt of a request, with its credentials. Accounts whose credentials
   * cannot be had are skipped (added to `exclude`). Null: nothing can serve (`why`).
   */
  async pick(exclude: Set<string>): Promise<Serving | { none: string; until: string | null }> {
    const checks: Record<string, CandidateCheck> = {};
    for (let round = 0; round < 16; round++) {
      let reg = await this.registry();
      let d = this.decide(reg, exclude, checks);
      if (d.id !== null && d.check) {
        const id = d.id;
        if (Date.now() - this.lastCheck < SWITCH_BACK_CHECK_MS) checks[id] = 'unchecked';
        else {
          this.lastCheck = Date.now();
          const account = reg.accounts.find((a) => a.id === id);
          const { refreshUsage } = await import('../services/usage.js');
          const [outcome] = account ? await refreshUsage(this.app, [account]).catch(() => []) : [];
          checks[id] = outcome?.ok ? 'ok' : 'failed';
          reg = await this.registry();
        }
        d = this.decide(reg, exclude, checks);
        if (d.id !== null && d.check) continue;
      }
      if (d.id === null) return { none: d.reason, until: d.until };
      const account = reg.accounts.find((a) => a.id === d.id);
      if (!account) {
        exclude.add(d.id);
        continue;
      }
      const creds = await this.credentials(account).catch((e: unknown) => {
        this.stat(account.id).lastError = (e as Error).message;
        return null;
      });
      if (!creds) {
        exclude.add(account.id);
        continue;
      }
      return { account, creds, decision: d };
    }
    return { none: 'no account could be used', until: null };
  }

  /** The account's credentials: from memory while valid, else from its store (refreshed when due). */
  async credentials(account: Account, opts: { after401?: string } = {}): Promise<Credentials> {
    const cached = this.creds.get(account.id);
    if (cached && opts.after401 === undefined) {
      if (cached.kind === 'apikey') return cached;
      const exp = this.expiry.get(account.id) ?? null;
      if (exp === null || exp * 1000 - this.app.now().getTime() > REFRESH_SKEW_S * 1000) return cached;
    }
    let creds: Credentials;
    if (account.kind === 'apikey') {
      const text = await this.app.secrets.get(account.secret);
      const key = text ? parseAuthJson(text).apiKey : null;
      if (!key) throw new Error(`the API key of ${describeAccount(account)} is missing from its store`);
      creds = { kind: 'apikey', key };
    } else {
      const { ensureFreshTokens } = await import('../services/tokens.js');
      // After a 401: tokens someone else refreshed meanwhile are tried first, then a forced refresh.
      let fresh = await ensureFreshTokens(this.app, account.id);
      if (fresh.ok && opts.after401 !== undefined && fresh.auth.tokens?.access_token === opts.after401) fresh = await ensureFreshTokens(this.app, account.id, { force: true });
      if (!fresh.ok) throw new Error(`${describeAccount(account)}: ${fresh.message}`);
      const t = fresh.auth.tokens;
      if (!t?.access_token) throw new Error(`${describeAccount(account)} has no access token`);
      creds = { kind: 'chatgpt', accessToken: t.access_token, accountId: account.chatgptAccountId ?? t.account_id ?? null };
    }
    this.creds.set(account.id, creds);
    this.expiry.set(account.id, creds.kind === 'chatgpt' ? jwtExpiry(creds.accessToken) : null);
    return creds;
  }

  /** A usage limit on `account`: exhausted until `resetsAt`; recorded in the registry too. */
  async exhausted(account: Account, resetsAt: string | null): Promise<void> {
    const ev: LimitEvent = { accountId: account.id, at: this.app.now().toISOString(), resetsAt };
    this.limits.push(ev);
    if (this.limits.length > 100) this.limits.splice(0, this.limits.length - 100);
    this.stat(account.id).failovers += 1;
    if (account.kind !== 'chatgpt') return;
    await this.app.registry
      .update((r) => {
        r.limitEvents.push(ev);
        r.limitEvents = r.limitEvents.slice(-50);
      })
      .catch((e: unknown) => this.app.report.debug(`could not record the usage limit of ${describeAccount(account)}: ${(e as Error).message}`));
  }

  /** The request was served by `serving`: a change of account is logged (failover or switch back). */
  async served(serving: Serving, why: string | null): Promise<void> {
    this.stat(serving.account.id).requests += 1;
    const prev = this.servingId;
    if (prev === serving.account.id) return;
    this.servingId = serving.account.id;
    if (prev === null && serving.decision.kind === 'chosen') return;
    const { appendEvent } = await import('../services/fallback.js');
    const kind = serving.decision.kind === 'switch-back' ? 'gateway-switch-back' : 'gateway-failover';
    appendEvent(this.app, { at: this.app.now().toISOString(), event: 'switch', kind, from: prev, to: serving.account.id, reason: why ?? serving.decision.reason });
    this.onEvent({ kind, from: prev, to: serving.account.id, label: describeAccount(serving.account), reason: why ?? serving.decision.reason });
  }
}

/** A file's identity and version (inode, size, mtime in ns); 'missing' when it cannot be stat'ed. */
function fileStamp(file: string): string {
  try {
    const st = statSync(file, { bigint: true });
    return `${st.ino}:${st.size}:${st.mtimeNs}`;
  } catch {
    return 'missing';
  }
}
