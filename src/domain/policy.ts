/**
 * The automatic fallback policy: one pure function of (registry, usage snapshots, events, now).
 * No I/O: watch, run and `fallback status` gather the inputs, call decide(), and carry out the result.
 * A rotation to another ChatGPT account comes with `check` until that account's usage was asked for
 * in this evaluation: the caller asks the usage API (PolicyInput.checks) and calls decide() again.
 */
import { describeAccount } from './accounts.js';
import type { Account, UsageWindow } from './types.js';

export interface PolicyConfig {
  enabled: boolean;
  keyId: string | null;
  /** A window counts as exhausted at this used percent (1–100). */
  threshold: number;
  rotate: boolean;
  switchBack: boolean;
}

export interface PolicyAccount {
  id: string;
  kind: 'chatgpt' | 'apikey';
  label: string;
  /** The freshest known windows (usage API or session log), or null when unknown. */
  fiveHour: UsageWindow | null;
  weekly: UsageWindow | null;
  /** When those windows were observed (ISO), or null. */
  observedAt: string | null;
  /** A permanent token failure: the account cannot be used. */
  loginRequired: boolean;
}

export interface LimitEvent {
  accountId: string;
  /** When the usage-limit error was seen. */
  at: string;
  /** When the limit lifts, if the error said so. */
  resetsAt: string | null;
}

export interface FallbackState {
  /** The account the user had chosen, to go back to. */
  fromId: string;
  /** The account the policy switched to. */
  toId: string;
  reason: string;
  since: string;
  /** When `fromId` should have headroom again (its latest exhausted window's reset), if known. */
  until: string | null;
}

export interface PolicyInput {
  now: Date;
  config: PolicyConfig;
  activeId: string | null;
  /** When the active account became active: limit events before it are someone else's. */
  activeSince: string | null;
  accounts: PolicyAccount[];
  limitEvents: LimitEvent[];
  state: FallbackState | null;
  /**
   * What this evaluation learnt by asking the usage API about rotation candidates just before moving:
   * 'ok' — the account's windows above are that answer; 'failed' — the request failed; 'unchecked'
   * — not asked (one evaluation asks about a few candidates only). Only 'ok' accounts are rotated to
   * without a `check` first; the others are not rotated to in this evaluation.
   */
  checks?: Readonly<Record<string, CandidateCheck>>;
}

export type CandidateCheck = 'ok' | 'failed' | 'unchecked';

export type Decision =
  | { action: 'none'; reason: string; state: FallbackState | null; poll: string[] }
  | { action: 'warn'; reason: string; state: FallbackState | null; poll: string[] }
  | {
      action: 'switch';
      to: string;
      kind: 'rotate' | 'fallback-key' | 'switch-back';
      reason: string;
      state: FallbackState | null;
      poll: string[];
      /**
       * Rotation to a ChatGPT account not yet checked in this evaluation: ask the usage API about
       * `to` first (recording the answer in `checks`), then decide again. Never switch on it unchecked.
       */
      check?: true;
    };

const t = (iso: string | null | undefined): number | null => {
  if (!iso) return null;
  const n = Date.parse(iso);
  return Number.isNaN(n) ? null : n;
};

function windows(a: PolicyAccount): Array<{ name: '5h' | 'weekly'; w: UsageWindow }> {
  const out: Array<{ name: '5h' | 'weekly'; w: UsageWindow }> = [];
  if (a.fiveHour) out.push({ name: '5h', w: a.fiveHour });
  if (a.weekly) out.push({ name: 'weekly', w: a.weekly });
  return out;
}

/** What is left of a window now: a window whose reset has passed is full again. */
export function remaining(w: UsageWindow, now: Date): number {
  const reset = t(w.resetsAt);
  if (reset !== null && reset <= now.getTime()) return 100;
  return Math.max(0, Math.min(100, 100 - w.usedPercent));
}

export interface Exhaustion {
  exhausted: boolean;
  /** Why, for messages: "5h window 100% used (resets 2026-…)" or "usage limit reached at …". */
  why: string | null;
  /** When it lifts, if known: the latest reset among the exhausted windows / the limit error. */
  until: string | null;
}

/** Is a ChatGPT account exhausted (SPEC "The fallback policy")? */
export function exhaustion(a: PolicyAccount, input: Pick<PolicyInput, 'now' | 'config' | 'limitEvents' | 'activeId' | 'activeSince'>): Exhaustion {
  const now = input.now.getTime();
  let until: number | null = null;
  const whys: string[] = [];
  for (const { name, w } of windows(a)) {
    const reset = t(w.resetsAt);
    if (w.usedPercent >= input.config.threshold && reset !== null && reset > now) {
      whys.push(`${name} window ${Math.round(w.usedPercent)}% used`);
      until = Math.max(until ?? 0, reset);
    }
  }
  // A usage-limit error counts when it was seen after the account became active, and has not lifted.
  const since = a.id === input.activeId ? t(input.activeSince) : null;
  for (const e of input.limitEvents) {
    if (e.accountId !== a.id) continue;
    const at = t(e.at) ?? 0;
    if (since !== null && at < since) continue;
    const lifts = t(e.resetsAt);
    if (lifts !== null && lifts <= now) continue;
    // An error that says when it lifts holds until then. One that does not is cleared by newer data
    // showing headroom.
    const observed = lifts === null ? t(a.observedAt) : null;
    const clear = (w: UsageWindow) => w.usedPercent < input.config.threshold || (t(w.resetsAt) ?? Infinity) <= now;
    if (observed !== null && observed > at && windows(a).length > 0 && windows(a).every(({ w }) => clear(w))) continue;
    whys.push('usage limit reached');
    if (lifts !== null) until = Math.max(until ?? 0, lifts);
  }
  return { exhausted: whys.length > 0, why: whys.length ? whys.join(', ') : null, until: until !== null ? new Date(until).toISOString() : null };
}

/**
 * Rotation score: the smaller of the windows' remaining percent; null when there is no data (ranks
 * below any known headroom). Exhausted or unusable accounts never qualify (-1).
 */
export function score(a: PolicyAccount, input: Pick<PolicyInput, 'now' | 'config' | 'limitEvents' | 'activeId' | 'activeSince'>): number | null {
  if (a.kind !== 'chatgpt' || a.loginRequired) return -1;
  if (exhaustion(a, input).exhausted) return -1;
  const ws = windows(a);
  if (ws.length === 0) return null;
  return Math.min(...ws.map(({ w }) => remaining(w, input.now)));
}

/**
 * The best other ChatGPT account: known headroom first (highest score), then unknown; never exhausted,
 * never one whose check failed or was not made in this evaluation.
 */
export function bestCandidate(input: PolicyInput, exclude: ReadonlySet<string>): PolicyAccount | null {
  let best: { a: PolicyAccount; s: number } | null = null;
  for (const a of input.accounts) {
    if (exclude.has(a.id) || a.kind !== 'chatgpt') continue;
    const check = input.checks?.[a.id];
    if (check !== undefined && check !== 'ok') continue;
    const s = score(a, input);
    if (s === -1) continue;
    const rank = s === null ? -0.5 : s; // unknown ranks below any known headroom
    if (!best || rank > best.s) best = { a, s: rank };
  }
  return best?.a ?? null;
}

/** A rotation to `to`: to be checked with the usage API first unless this evaluation already did. */
function rotation(input: PolicyInput, to: string, reason: string, state: FallbackState, poll: string[]): Decision {
  const d: Decision = { action: 'switch', to, kind: 'rotate', reason, state, poll };
  if (input.checks?.[to] !== 'ok') d.check = true;
  return d;
}

/** " (could not check the usage of X, Y)" for candidates left out because their check failed or was not made. */
function uncheckedNote(input: PolicyInput): string {
  const left = input.accounts.filter((a) => {
    const c = input.checks?.[a.id];
    return c !== undefined && c !== 'ok';
  });
  return left.length > 0 ? ` (could not check the usage of ${left.map((a) => a.label).join(', ')})` : '';
}

function fmt(iso: string | null): string {
  return iso ? new Date(iso).toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : 'an unknown time';
}

export function decide(input: PolicyInput): Decision {
  const { config, now } = input;
  const byId = new Map(input.accounts.map((a) => [a.id, a]));
  const active = input.activeId ? byId.get(input.activeId) : undefined;
  const poll: string[] = [];
  if (active?.kind === 'chatgpt') poll.push(active.id);
  if (!config.enabled) return { action: 'none', reason: 'automatic fallback is disabled', state: null, poll };
  if (!active) return { action: 'none', reason: 'no account is active', state: null, poll };

  let state = input.state;
  // A state that no longer describes reality (a manual switch, a removed account) is dropped.
  if (state && (state.toId !== active.id || !byId.has(state.fromId))) state = null;

  const key = config.keyId ? byId.get(config.keyId) : undefined;
  const keyUsable = key?.kind === 'apikey' ? key : undefined;

  if (state) {
    const home = byId.get(state.fromId) as PolicyAccount;
    if (!poll.includes(home.id)) poll.push(home.id);
    if (config.switchBack) {
      const ex = exhaustion(home, input);
      const observed = t(home.observedAt);
      const resetPassed = state.until === null || (t(state.until) ?? 0) <= now.getTime();
      // Back only when the reset passed AND fresh data (observed after the reset) confirms headroom.
      const confirmed = resetPassed && !ex.exhausted && !home.loginRequired && observed !== null && observed >= (t(state.until) ?? t(state.since) ?? 0);
      if (confirmed) {
        return { action: 'switch', to: home.id, kind: 'switch-back', reason: `${home.label} has headroom again`, state: null, poll };
      }
    }
    // On a rotated ChatGPT account that ran out too: move on.
    if (active.kind === 'chatgpt') {
      const ex = exhaustion(active, input);
      if (ex.exhausted) return moveOn(input, active, ex, state.fromId, keyUsable, poll, state);
      return { action: 'none', reason: `in fallback on ${active.label} (from ${home.label}, until ${fmt(state.until)})`, state, poll };
    }
    // On the API key (billed per token): go to a ChatGPT account with known headroom if rotation allows.
    if (config.rotate) {
      const cand = bestCandidate(input, new Set([home.id, active.id]));
      if (cand && score(cand, input) !== null) {
        return rotation(input, cand.id, `${cand.label} has headroom (the API key is billed per token)`, { ...state, toId: cand.id }, poll);
      }
    }
    return { action: 'none', reason: `in fallback on ${active.label} (from ${home.label}, until ${fmt(state.until)})`, state, poll };
  }

  if (active.kind !== 'chatgpt') return { action: 'none', reason: `${active.label} is an API key the user chose`, state: null, poll };
  const ex = exhaustion(active, input);
  if (!ex.exhausted) return { action: 'none', reason: `${active.label} has headroom`, state: null, poll };
  return moveOn(input, active, ex, active.id, keyUsable, poll, null);
}

function moveOn(
  input: PolicyInput,
  active: PolicyAccount,
  ex: Exhaustion,
  homeId: string,
  key: PolicyAccount | undefined,
  poll: string[],
  prior: FallbackState | null,
): Decision {
  const nowIso = input.now.toISOString();
  const home = input.accounts.find((a) => a.id === homeId) ?? active;
  const homeEx = home.id === active.id ? ex : exhaustion(home, input);
  const base = {
    fromId: homeId,
    reason: `${active.label}: ${ex.why}`,
    since: prior?.since ?? nowIso,
    until: prior?.until ?? homeEx.until,
  };
  if (input.config.rotate) {
    const cand = bestCandidate(input, new Set([active.id, homeId]));
    if (cand) {
      return rotation(input, cand.id, `${active.label} is exhausted (${ex.why}); ${cand.label} has ${score(cand, input) === null ? 'unknown usage' : 'the most headroom'}`, { ...base, toId: cand.id }, poll);
    }
  }
  const note = input.config.rotate ? uncheckedNote(input) : '';
  if (key) {
    return { action: 'switch', to: key.id, kind: 'fallback-key', reason: `${active.label} is exhausted (${ex.why})${input.config.rotate ? `; no ChatGPT account has headroom${note}` : ''}`, state: { ...base, toId: key.id }, poll };
  }
  return { action: 'warn', reason: `${active.label} is exhausted (${ex.why}) and there is no ${input.config.rotate ? 'ChatGPT account with headroom or ' : ''}fallback API key${note}`, state: prior, poll };
}

/**
 * The gateway's question, asked at every request boundary: which account serves the next request?
 * The same rules as decide() (exhaustion, rotation score, the fallback key, switch-back only once
 * the usage API confirms), for a server that changes accounts per request instead of switching
 * Codex's login. Order: the account the user chose; then, with rotation on, the other ChatGPT
 * account with the most headroom (the one already serving first: no flapping); then the fallback
 * key. Accounts in `exclude` failed this very request (a 429, a refresh that did not help).
 */
/**
 * The gateway's own policy settings: `rotate` is the gateway's (gateway.json, off by default), not
 * watch's; the fallback key (`keyId`) serves whenever one is set — enabling the gateway is the
 * opt-in, whether or not watch's automatic fallback is on.
 */
export interface ServingConfig {
  keyId: string | null;
  threshold: number;
  rotate: boolean;
  switchBack: boolean;
}

export interface ServingInput {
  now: Date;
  config: ServingConfig;
  /** The account the user chose (the registry's active account). */
  chosenId: string | null;
  /** The account that served the previous request, or null before the first. */
  servingId: string | null;
  accounts: PolicyAccount[];
  limitEvents: LimitEvent[];
  exclude?: ReadonlySet<string>;
  /**
   * What the usage API said about the chosen account since the last decision ('ok': its windows
   * above are that answer). A switch back needs 'ok'; without an answer it comes with `check`.
   */
  checks?: Readonly<Record<string, CandidateCheck>>;
}

export type ServingDecision =
  | {
      id: string;
      kind: 'chosen' | 'rotate' | 'fallback-key' | 'switch-back';
      reason: string;
      /** Switch back only after asking the usage API about `id` (record it in `checks`, decide again). */
      check?: true;
    }
  /** Nothing can serve: `until` is the earliest time an exhausted account lifts, if known. */
  | { id: null; reason: string; until: string | null };

export function servingAccount(input: ServingInput): ServingDecision {
  const { config } = input;
  const exclude = input.exclude ?? new Set<string>();
  const byId = new Map(input.accounts.map((a) => [a.id, a]));
  const ex = { now: input.now, config: { ...config, enabled: true }, limitEvents: input.limitEvents, activeId: input.chosenId, activeSince: null };
  const chosen = input.chosenId ? byId.get(input.chosenId) : undefined;
  if (!chosen) return { id: null, reason: 'no account is active (codex-auth switch)', until: null };
  if (chosen.kind === 'apikey') {
    return exclude.has(chosen.id) ? { id: null, reason: `${chosen.label} failed`, until: null } : { id: chosen.id, kind: 'chosen', reason: `${chosen.label} is the account you chose` };
  }
  const chosenEx = exhaustion(chosen, ex);
  const chosenUsable = !exclude.has(chosen.id) && !chosen.loginRequired && !chosenEx.exhausted;
  const away = input.servingId !== null && input.servingId !== chosen.id && byId.has(input.servingId);
  if (chosenUsable && !away) return { id: chosen.id, kind: 'chosen', reason: `${chosen.label} has headroom` };
  if (chosenUsable && away && config.switchBack) {
    const check = input.checks?.[chosen.id];
    if (check === 'ok') return { id: chosen.id, kind: 'switch-back', reason: `${chosen.label} has headroom again` };
    if (check === undefined) return { id: chosen.id, kind: 'switch-back', reason: `${chosen.label} may have headroom again`, check: true };
  }
  const why = chosen.loginRequired ? `${chosen.label} needs a new login` : exclude.has(chosen.id) ? `${chosen.label} failed` : chosenEx.exhausted ? `${chosen.label} is exhausted (${chosenEx.why})` : `${chosen.label} is not confirmed to have headroom yet`;
  const usable = (a: PolicyAccount | undefined): a is PolicyAccount => a !== undefined && !exclude.has(a.id) && !a.loginRequired;
  if (config.rotate) {
    const current = input.servingId ? byId.get(input.servingId) : undefined;
    if (usable(current) && current.kind === 'chatgpt' && current.id !== chosen.id && score(current, ex) !== -1) {
      return { id: current.id, kind: 'rotate', reason: `${why}; ${current.label} keeps serving` };
    }
    const cand = bestCandidate({ ...ex, accounts: input.accounts, state: null, activeSince: null }, new Set([chosen.id, ...exclude]));
    if (cand) return { id: cand.id, kind: 'rotate', reason: `${why}; ${cand.label} has ${score(cand, ex) === null ? 'unknown usage' : 'the most headroom'}` };
  }
  const key = config.keyId ? byId.get(config.keyId) : undefined;
  if (usable(key) && key.kind === 'apikey') return { id: key.id, kind: 'fallback-key', reason: `${why}; the fallback API key ${key.label} serves (billed per token)` };
  // Nothing else: the chosen account is tried even when the cached numbers say it is exhausted (they
  // may be stale; else its own usage-limit answer, with the real reset time, reaches Codex).
  if (!exclude.has(chosen.id) && !chosen.loginRequired) return { id: chosen.id, kind: 'chosen', reason: `${why}; nothing else can serve, so ${chosen.label} is tried` };
  // Nothing left: the earliest time any exhausted ChatGPT account lifts.
  let until: number | null = null;
  for (const a of input.accounts) {
    if (a.kind !== 'chatgpt' || a.loginRequired) continue;
    const e = exhaustion(a, ex);
    const u = e.until ? Date.parse(e.until) : NaN;
    if (e.exhausted && Number.isFinite(u)) until = until === null ? u : Math.min(until, u);
  }
  return { id: null, reason: `${why}, and no other account can serve`, until: until !== null ? new Date(until).toISOString() : null };
}

/** The policy's view of the registry's accounts (watch, run and the gateway read them the same way). */
export function policyAccounts(accounts: readonly Account[]): PolicyAccount[] {
  return accounts.map((a) => ({
    id: a.id,
    kind: a.kind,
    label: describeAccount(a),
    fiveHour: a.usage?.fiveHour ?? null,
    weekly: a.usage?.weekly ?? null,
    observedAt: a.usage?.fetchedAt ?? null,
    loginRequired: Boolean(a.loginRequired),
  }));
}
