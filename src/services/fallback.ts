/**
 * Carrying out the fallback policy: gather its inputs (registry, usage cache, session-log events),
 * call the pure decide(), switch when it says so, and log every automatic switch.
 */
import { closeSync, constants, openSync, renameSync, statSync, writeSync } from 'node:fs';
import type { Deps } from './deps.js';
import type { SessionEvent } from '../codex/sessions.js';
import { describeAccount } from '../domain/accounts.js';
import { type CandidateCheck, type Decision, decide, type FallbackState, type PolicyInput, policyAccounts } from '../domain/policy.js';
import { errnoCode } from '../errors.js';
import { ensurePrivateDir } from '../store/atomic.js';
import { ephemeralFix, ephemeralReason } from '../store/live.js';
import type { Registry } from '../domain/types.js';
import { loadSynced } from './sync.js';
import type { SwitchResult } from './switch.js';
import type { UsageOutcome } from './usage.js';

const LIMIT_EVENTS_KEEP = 50;
/** At most this many rotation candidates are asked about (one usage request each) per evaluation. */
export const MAX_CANDIDATE_CHECKS = 3;

export function policyInput(reg: Registry, now: Date): PolicyInput {
  const accounts = policyAccounts(reg.accounts);
  return {
    now,
    config: { enabled: reg.fallback.enabled, keyId: reg.fallback.keyId, threshold: reg.fallback.threshold, rotate: reg.fallback.rotate, switchBack: reg.fallback.switchBack },
    activeId: reg.activeId,
    activeSince: reg.activeSince,
    accounts,
    limitEvents: reg.limitEvents,
    state: (reg.fallbackState as FallbackState | null) ?? null,
  };
}

/**
 * Fold new session-log events into the registry: they belong to the account active when they
 * happened — the active one, for events after it became active; earlier ones are dropped.
 */
export async function foldSessionEvents(app: Deps, events: readonly SessionEvent[]): Promise<{ limits: number }> {
  if (events.length === 0) return { limits: 0 };
  let limits = 0;
  await app.registry.update((reg) => {
    const active = reg.accounts.find((a) => a.id === reg.activeId);
    if (!active || !reg.activeSince) return;
    const since = Date.parse(reg.activeSince);
    for (const e of events) {
      if (e.at.getTime() < since) continue;
      const at = e.at.toISOString();
      if (!active.lastActivityAt || Date.parse(active.lastActivityAt) < e.at.getTime()) active.lastActivityAt = at;
      if (e.kind === 'usage_limit' && active.kind === 'chatgpt') {
        if (!reg.limitEvents.some((x) => x.accountId === active.id && x.at === at)) {
          reg.limitEvents.push({ accountId: active.id, at, resetsAt: e.resetsAt });
          limits += 1;
        }
      } else if (e.kind === 'rate_limits' && active.kind === 'chatgpt') {
        const cached = active.usage?.fetchedAt ? Date.parse(active.usage.fetchedAt) : 0;
        if (e.at.getTime() > cached) active.usage = { fiveHour: e.fiveHour, weekly: e.weekly, fetchedAt: at, source: 'session', error: null };
      }
    }
    const now = app.now().getTime();
    reg.limitEvents = reg.limitEvents.filter((x) => !x.resetsAt || Date.parse(x.resetsAt) > now - 86_400_000).slice(-LIMIT_EVENTS_KEEP);
  });
  return { limits };
}

export interface EventRecord {
  at: string;
  event: 'switch' | 'warn';
  kind?: string;
  from?: string | null;
  to?: string;
  reason: string;
  until?: string | null;
}

export function appendEvent(app: Deps, rec: EventRecord): void {
  ensurePrivateDir(app.paths.home);
  const file = app.paths.eventsLog;
  try {
    if (statSync(file).size > 1024 * 1024) renameSync(file, `${file}.1`);
  } catch {
    /* no log yet */
  }
  // The log records what was already done: failing to write it (a symbolic link planted there, a
  // full disk) is a warning, not a failure of the switch it records.
  try {
    const fd = openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | (constants.O_NOFOLLOW ?? 0), 0o600);
    try {
      writeSync(fd, `${JSON.stringify(rec)}\n`);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    const code = errnoCode(e) ?? (e as Error).message;
    app.report.warn(`Could not append to the events log ${file} (${code === 'ELOOP' ? 'it is a symbolic link' : code}); the switch itself was made. Remove or fix that file.`);
  }
}

export interface Evaluation {
  decision: Decision;
  input: PolicyInput;
  switched: SwitchResult | null;
  /** The usage polls the policy asked for (the active account, the one to go back to). */
  polled: UsageOutcome[];
  /** The rotation candidates asked about before moving, in order. */
  checked: UsageOutcome[];
}

export interface EvaluateOptions {
  /** Fetch usage for the accounts the policy wants fresh data on (the active one, the one to return to). */
  poll: boolean;
  /** Only say what would happen. */
  dryRun?: boolean;
  /** New session-log events to fold in first. */
  events?: readonly SessionEvent[];
}

export async function evaluate(app: Deps, opts: EvaluateOptions): Promise<Evaluation> {
  // A dry run without polling is `fallback status`, a read command: no network, nothing written.
  let reg = await loadSynced(app, { identify: opts.poll, readOnly: Boolean(opts.dryRun) && !opts.poll });
  if (opts.events && opts.events.length > 0) {
    await foldSessionEvents(app, opts.events);
    reg = (await app.registry.load());
  }
  let decision = decide(policyInput(reg, app.now()));
  let polled: UsageOutcome[] = [];
  if (opts.poll && reg.fallback.enabled && decision.poll.length > 0) {
    const { refreshUsage } = await import('./usage.js');
    polled = await refreshUsage(app, reg.accounts.filter((a) => decision.poll.includes(a.id)));
    reg = (await app.registry.load());
    decision = decide(policyInput(reg, app.now()));
  }
  if (opts.dryRun) return { decision, input: policyInput(reg, app.now()), switched: null, polled, checked: [] };
  // Check before moving: a rotation candidate's usage is asked for (one request each, saved like any
  // usage refresh), and the policy decides again on the answer — an exhausted candidate makes it pick
  // the next one, then the API key. No lock is held meanwhile.
  const checks: Record<string, CandidateCheck> = {};
  const checked: UsageOutcome[] = [];
  while (decision.action === 'switch' && decision.check) {
    const target = decision.to;
    const account = reg.accounts.find((a) => a.id === target);
    if (checked.length >= MAX_CANDIDATE_CHECKS || !account) checks[target] = 'unchecked';
    else {
      const { refreshUsage } = await import('./usage.js');
      const [outcome] = await refreshUsage(app, [account]);
      if (outcome) checked.push(outcome);
      checks[target] = outcome?.ok ? 'ok' : 'failed';
      reg = (await app.registry.load());
    }
    decision = decide({ ...policyInput(reg, app.now()), checks });
  }
  const input: PolicyInput = { ...policyInput(reg, app.now()), checks };
  let switched: SwitchResult | null = null;
  if (decision.action === 'switch' && (await app.live()).mode === 'ephemeral') {
    // Codex reads no stored login in ephemeral mode: say what would have happened, change nothing.
    const to = reg.accounts.find((a) => a.id === decision.to);
    const cfg = app.paths.configToml;
    const reason = `automatic fallback would switch to ${to ? describeAccount(to) : decision.to} (${decision.reason}), but ${ephemeralReason(cfg)}; nothing was switched. ${ephemeralFix(cfg).replace(/^./, (ch) => ch.toUpperCase())}`;
    return { decision: { action: 'warn', reason, state: reg.fallbackState ?? null, poll: decision.poll }, input, switched: null, polled, checked };
  }
  if (decision.action === 'switch') {
    const { gatewayEnabled } = await import('../gateway/peek.js');
    if (gatewayEnabled(app.paths.home)) {
      // Codex holds the gateway's placeholder login, and the gateway fails over per request itself.
      const to = reg.accounts.find((a) => a.id === decision.to);
      const reason = `automatic fallback would switch to ${to ? describeAccount(to) : decision.to} (${decision.reason}), but the gateway is on: it fails over per request itself, so watch writes no credentials for Codex (codex-auth gateway status)`;
      return { decision: { action: 'warn', reason, state: reg.fallbackState ?? null, poll: decision.poll }, input, switched: null, polled, checked };
    }
  }
  if (decision.action === 'switch') {
    const { performSwitch } = await import('./switch.js');
    const chosen = decision;
    // Under the locks, on the registry as it is then: the same decision still holds (another process
    // may have saved newer usage meanwhile), else nothing is switched.
    const recheck = (r: Registry) => {
      const again = decide({ ...policyInput(r, app.now()), checks });
      return again.action === 'switch' && again.to === chosen.to && again.check !== true;
    };
    switched = await performSwitch(app, decision.to, { kind: 'fallback', state: decision.state, expectActive: reg.activeId, recheck });
    if (switched.switched) {
      appendEvent(app, { at: app.now().toISOString(), event: 'switch', kind: decision.kind, from: switched.from?.id ?? null, to: decision.to, reason: decision.reason, until: decision.state?.until ?? null });
    }
  } else if (JSON.stringify(decision.state) !== JSON.stringify(reg.fallbackState ?? null)) {
    const state = decision.state;
    await app.registry.update((r) => {
      r.fallbackState = state;
    });
  }
  return { decision, input, switched, polled, checked };
}
