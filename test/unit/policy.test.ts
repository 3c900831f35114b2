import { describe, expect, it } from 'vitest';
import { bestCandidate, type Decision, decide, exhaustion, type PolicyAccount, type PolicyInput, type ServingDecision, type ServingInput, servingAccount } from '../../src/domain/policy.js';

const NOW = new Date('2026-11-23T12:00:00Z');
const iso = (minutesFromNow: number) => new Date(NOW.getTime() + minutesFromNow * 60_000).toISOString();

function chatgpt(id: string, used5h: number | null, usedWeek: number | null = 0, opts: Partial<PolicyAccount> & { reset5h?: number; resetWeek?: number } = {}): PolicyAccount {
  return {
    id,
    kind: 'chatgpt',
    label: id,
    fiveHour: used5h === null ? null : { usedPercent: used5h, resetsAt: iso(opts.reset5h ?? 120) },
    weekly: usedWeek === null ? null : { usedPercent: usedWeek, resetsAt: iso(opts.resetWeek ?? 3 * 1440) },
    observedAt: iso(-1),
    loginRequired: false,
    ...opts,
  };
}
const KEY: PolicyAccount = { id: 'K', kind: 'apikey', label: 'K', fiveHour: null, weekly: null, observedAt: null, loginRequired: false };

function input(p: Partial<PolicyInput> & { accounts: PolicyAccount[] }): PolicyInput {
  return {
    now: NOW,
    config: { enabled: true, keyId: 'K', threshold: 100, rotate: true, switchBack: true },
    activeId: 'A',
    activeSince: iso(-60),
    limitEvents: [],
    state: null,
    ...p,
  };
}

const summary = (d: Decision) => (d.action === 'switch' ? `switch:${d.to}:${d.kind}` : d.action);

describe('decide', () => {
  const cases: Array<[string, PolicyInput, string]> = [
    ['disabled → nothing', input({ accounts: [chatgpt('A', 100), KEY], config: { enabled: false, keyId: 'K', threshold: 100, rotate: true, switchBack: true } }), 'none'],
    ['headroom → nothing', input({ accounts: [chatgpt('A', 40), chatgpt('B', 0), KEY] }), 'none'],
    ['5h window at the threshold with the reset ahead → rotate to B', input({ accounts: [chatgpt('A', 100), chatgpt('B', 10), KEY] }), 'switch:B:rotate'],
    ['weekly window exhausted → rotate', input({ accounts: [chatgpt('A', 10, 100), chatgpt('B', 10), KEY] }), 'switch:B:rotate'],
    ['reset already passed → not exhausted', input({ accounts: [chatgpt('A', 100, 0, { reset5h: -5 }), chatgpt('B', 0), KEY] }), 'none'],
    ['threshold 90 counts 95% as exhausted', input({ accounts: [chatgpt('A', 95), chatgpt('B', 0), KEY], config: { enabled: true, keyId: 'K', threshold: 90, rotate: true, switchBack: true } }), 'switch:B:rotate'],
    ['unknown data on the active account → nothing', input({ accounts: [chatgpt('A', null, null), chatgpt('B', 0), KEY] }), 'none'],
    ['rotation prefers the most headroom (the smaller window counts)', input({ accounts: [chatgpt('A', 100), chatgpt('B', 10, 90), chatgpt('C', 50, 20), KEY] }), 'switch:C:rotate'],
    ['known headroom ranks above unknown', input({ accounts: [chatgpt('A', 100), chatgpt('B', null, null), chatgpt('C', 95, 0), KEY] }), 'switch:C:rotate'],
    ['unknown is still better than nothing', input({ accounts: [chatgpt('A', 100), chatgpt('B', null, null), KEY] }), 'switch:B:rotate'],
    ['every ChatGPT account exhausted → the API key', input({ accounts: [chatgpt('A', 100), chatgpt('B', 100), chatgpt('C', 20, 100), KEY] }), 'switch:K:fallback-key'],
    ['a login-required account never qualifies', input({ accounts: [chatgpt('A', 100), chatgpt('B', 0, 0, { loginRequired: true }), KEY] }), 'switch:K:fallback-key'],
    ['--no-rotate goes straight to the key', input({ accounts: [chatgpt('A', 100), chatgpt('B', 0), KEY], config: { enabled: true, keyId: 'K', threshold: 100, rotate: false, switchBack: true } }), 'switch:K:fallback-key'],
    ['no API key and nobody with headroom → stay and warn', input({ accounts: [chatgpt('A', 100), chatgpt('B', 100)], config: { enabled: true, keyId: null, threshold: 100, rotate: true, switchBack: true } }), 'warn'],
    ['a usage-limit error after A became active → exhausted', input({ accounts: [chatgpt('A', 50, 0, { observedAt: iso(-30) }), chatgpt('B', 0), KEY], limitEvents: [{ accountId: 'A', at: iso(-5), resetsAt: iso(100) }] }), 'switch:B:rotate'],
    ['a usage-limit error from before A became active is ignored', input({ accounts: [chatgpt('A', 50, 0, { observedAt: iso(-100) }), chatgpt('B', 0), KEY], limitEvents: [{ accountId: 'A', at: iso(-90), resetsAt: iso(100) }] }), 'none'],
    ['a usage-limit error that has lifted is ignored', input({ accounts: [chatgpt('A', 50, 0, { observedAt: iso(-30) }), chatgpt('B', 0), KEY], limitEvents: [{ accountId: 'A', at: iso(-5), resetsAt: iso(-1) }] }), 'none'],
    ['the user chose an API key → nothing', input({ activeId: 'K', accounts: [chatgpt('A', 100), KEY] }), 'none'],
  ];
  it.each(cases)('%s', (_name, inp, expected) => {
    expect(summary(decide(inp))).toBe(expected);
  });

  it('records why, from which account, and until when', () => {
    const d = decide(input({ accounts: [chatgpt('A', 100, 100, { reset5h: 60, resetWeek: 600 }), KEY] }));
    expect(d).toMatchObject({ action: 'switch', to: 'K', state: { fromId: 'A', toId: 'K', since: NOW.toISOString(), until: iso(600) } });
    expect(d.reason).toContain('5h window 100% used, weekly window 100% used');
  });

  const inFallback = (p: Partial<PolicyInput> & { accounts: PolicyAccount[] }) =>
    input({ activeId: 'K', activeSince: iso(-120), state: { fromId: 'A', toId: 'K', reason: 'x', since: iso(-120), until: iso(-10) }, ...p });

  it('switches back once the chosen account has headroom and fresh data confirms it', () => {
    const fresh = chatgpt('A', 0, 10, { observedAt: iso(-1) });
    expect(summary(decide(inFallback({ accounts: [fresh, KEY] })))).toBe('switch:A:switch-back');
    expect(decide(inFallback({ accounts: [fresh, KEY] })).state).toBeNull();
  });

  it('waits for confirmation after the reset (no fresh data yet), asking to poll the chosen account', () => {
    const stale = chatgpt('A', 100, 10, { reset5h: -10, observedAt: iso(-30) });
    const d = decide(inFallback({ accounts: [stale, KEY] }));
    expect(summary(d)).toBe('none');
    expect(d.poll).toContain('A');
  });

  it('does not switch back before the reset', () => {
    const d = decide(inFallback({ accounts: [chatgpt('A', 100, 10, { reset5h: 30 }), KEY], state: { fromId: 'A', toId: 'K', reason: 'x', since: iso(-120), until: iso(30) } }));
    expect(summary(d)).toBe('none');
    expect(d.reason).toContain('in fallback on K');
  });

  it('--no-switch-back stays on the fallback', () => {
    expect(summary(decide(inFallback({ accounts: [chatgpt('A', 0), KEY], config: { enabled: true, keyId: 'K', threshold: 100, rotate: true, switchBack: false } })))).toBe('none');
  });

  it('a manual switch ends the fallback (the state no longer matches the active account)', () => {
    const d = decide(inFallback({ activeId: 'B', accounts: [chatgpt('A', 100), chatgpt('B', 10), KEY] }));
    expect(d).toMatchObject({ action: 'none', state: null });
  });

  it('moves on from a rotated account that ran out too, keeping the original account to return to', () => {
    const d = decide(input({ activeId: 'B', state: { fromId: 'A', toId: 'B', reason: 'x', since: iso(-60), until: iso(60) }, accounts: [chatgpt('A', 100), chatgpt('B', 100), chatgpt('C', 20), KEY] }));
    expect(d).toMatchObject({ action: 'switch', to: 'C', kind: 'rotate', state: { fromId: 'A', toId: 'C', until: iso(60) } });
  });

  it('leaves the per-token API key for a ChatGPT account with known headroom when rotation allows', () => {
    const st = { fromId: 'A', toId: 'K', reason: 'x', since: iso(-60), until: iso(600) };
    const accounts = [chatgpt('A', 100, 0, { reset5h: 600 }), chatgpt('B', 10), KEY];
    expect(summary(decide(input({ activeId: 'K', state: st, accounts })))).toBe('switch:B:rotate');
    expect(summary(decide(input({ activeId: 'K', state: st, accounts, config: { enabled: true, keyId: 'K', threshold: 100, rotate: false, switchBack: true } })))).toBe('none');
  });

  it('clears a usage-limit error when newer data shows headroom', () => {
    const a = chatgpt('A', 20, 10, { observedAt: iso(-1) });
    const inp = input({ accounts: [a, KEY], limitEvents: [{ accountId: 'A', at: iso(-5), resetsAt: null }] });
    expect(exhaustion(a, inp).exhausted).toBe(false);
    const older = { ...a, observedAt: iso(-10) };
    expect(exhaustion(older, inp).exhausted).toBe(true);
  });

  it('bestCandidate never picks exhausted, excluded or API-key accounts', () => {
    const inp = input({ accounts: [chatgpt('A', 0), chatgpt('B', 100), KEY] });
    expect(bestCandidate(inp, new Set(['A']))).toBeNull();
    expect(bestCandidate(inp, new Set())?.id).toBe('A');
  });
});

describe('checking a rotation candidate before moving', () => {
  const accounts = [chatgpt('A', 100), chatgpt('B', 10), chatgpt('C', 30), KEY];

  it('a rotation asks for a check of the candidate until this evaluation has its usage', () => {
    const d = decide(input({ accounts }));
    expect(d).toMatchObject({ action: 'switch', to: 'B', kind: 'rotate', check: true });
    const checked = decide(input({ accounts, checks: { B: 'ok' } }));
    expect(checked).toMatchObject({ action: 'switch', to: 'B', kind: 'rotate' });
    expect(checked).not.toHaveProperty('check');
  });

  it('the answer decides: an exhausted candidate gives way to the next, which is checked in turn', () => {
    const answered = [chatgpt('A', 100), chatgpt('B', 100), chatgpt('C', 30), KEY]; // B's check: exhausted
    expect(decide(input({ accounts: answered, checks: { B: 'ok' } }))).toMatchObject({ to: 'C', kind: 'rotate', check: true });
    const d = decide(input({ accounts: answered, checks: { B: 'ok', C: 'ok' } }));
    expect(d).toMatchObject({ to: 'C', kind: 'rotate' });
    expect(d).not.toHaveProperty('check');
  });

  it('a candidate whose check failed, or that was not checked, is not rotated to this time', () => {
    expect(summary(decide(input({ accounts, checks: { B: 'failed' } })))).toBe('switch:C:rotate');
    const d = decide(input({ accounts, checks: { B: 'failed', C: 'unchecked' } }));
    expect(d).toMatchObject({ action: 'switch', to: 'K', kind: 'fallback-key' });
    expect(d).not.toHaveProperty('check');
    expect(d.reason).toContain('no ChatGPT account has headroom (could not check the usage of B, C)');
    const noKey = decide(input({ accounts: accounts.slice(0, 3), checks: { B: 'failed', C: 'failed' }, config: { enabled: true, keyId: null, threshold: 100, rotate: true, switchBack: true } }));
    expect(noKey.action).toBe('warn');
    expect(noKey.reason).toContain('could not check the usage of B, C');
  });

  it('every candidate exhausted once checked → the API key, or a warning without one; never a rotation', () => {
    const all = [chatgpt('A', 100), chatgpt('B', 100), chatgpt('C', 20, 100), KEY];
    expect(summary(decide(input({ accounts: all, checks: { B: 'ok', C: 'ok' } })))).toBe('switch:K:fallback-key');
    const noKey = input({ accounts: all.slice(0, 3), checks: { B: 'ok', C: 'ok' }, config: { enabled: true, keyId: null, threshold: 100, rotate: true, switchBack: true } });
    expect(summary(decide(noKey))).toBe('warn');
  });

  it('leaving the API key for a ChatGPT account with headroom is checked first too', () => {
    const st = { fromId: 'A', toId: 'K', reason: 'x', since: iso(-60), until: iso(600) };
    const acc = [chatgpt('A', 100, 0, { reset5h: 600 }), chatgpt('B', 10), KEY];
    expect(decide(input({ activeId: 'K', state: st, accounts: acc }))).toMatchObject({ to: 'B', kind: 'rotate', check: true });
    // B's answer: exhausted after all. Stay on the key.
    const answered = [chatgpt('A', 100, 0, { reset5h: 600 }), chatgpt('B', 100), KEY];
    expect(summary(decide(input({ activeId: 'K', state: st, accounts: answered, checks: { B: 'ok' } })))).toBe('none');
  });

  it('rotation only (no API key): rotates to a checked account with headroom', () => {
    const cfg = { enabled: true, keyId: null, threshold: 100, rotate: true, switchBack: true };
    expect(decide(input({ accounts: accounts.slice(0, 3), config: cfg, checks: { B: 'ok' } }))).toMatchObject({ action: 'switch', to: 'B', kind: 'rotate' });
  });

  it('a switch back or to the key needs no check', () => {
    expect(decide(input({ accounts: [chatgpt('A', 100), KEY] }))).not.toHaveProperty('check');
  });
});

describe('servingAccount (the gateway: which account serves the next request)', () => {
  const cfg = (over: Partial<PolicyInput['config']> = {}) => ({ enabled: true, keyId: 'K', threshold: 100, rotate: false, switchBack: true, ...over });
  const serve = (p: Partial<ServingInput> & { accounts: PolicyAccount[] }): ServingDecision =>
    servingAccount({ now: NOW, config: cfg(), chosenId: 'A', servingId: null, limitEvents: [], ...p });
  const short = (d: ServingDecision) => (d.id === null ? 'none' : `${d.id}:${d.kind}${d.check ? ':check' : ''}`);
  const cases: Array<[string, Partial<ServingInput> & { accounts: PolicyAccount[] }, string]> = [
    ['the chosen account with headroom serves', { accounts: [chatgpt('A', 40), chatgpt('B', 0), KEY] }, 'A:chosen'],
    ['chosen exhausted, rotation off (the default for the gateway order) → the key, not B', { accounts: [chatgpt('A', 100), chatgpt('B', 0), KEY] }, 'K:fallback-key'],
    ['a 429 on this request (excluded) → the key', { accounts: [chatgpt('A', 40), KEY], exclude: new Set(['A']) }, 'K:fallback-key'],
    ['a limit event that has not lifted → the key', { accounts: [chatgpt('A', 40), KEY], limitEvents: [{ accountId: 'A', at: iso(-1), resetsAt: iso(60) }] }, 'K:fallback-key'],
    ['rotation on → another ChatGPT account first', { accounts: [chatgpt('A', 100), chatgpt('B', 10), KEY], config: cfg({ rotate: true }) }, 'B:rotate'],
    ['rotation on, the rotated account keeps serving over a better one', { accounts: [chatgpt('A', 100), chatgpt('B', 50), chatgpt('C', 0), KEY], config: cfg({ rotate: true }), servingId: 'B' }, 'B:rotate'],
    ['rotation on, every ChatGPT account exhausted → the key', { accounts: [chatgpt('A', 100), chatgpt('B', 100), KEY], config: cfg({ rotate: true }) }, 'K:fallback-key'],
    ['on the key, the chosen account reset: switch back, after a usage check', { accounts: [chatgpt('A', 100, 0, { reset5h: -1 }), KEY], servingId: 'K' }, 'A:switch-back:check'],
    ['… confirmed by the usage API → switch back', { accounts: [chatgpt('A', 0), KEY], servingId: 'K', checks: { A: 'ok' } }, 'A:switch-back'],
    ['… the check failed → stay on the key', { accounts: [chatgpt('A', 0), KEY], servingId: 'K', checks: { A: 'failed' } }, 'K:fallback-key'],
    ['… switch-back off → stay on the key', { accounts: [chatgpt('A', 0), KEY], servingId: 'K', config: cfg({ switchBack: false }) }, 'K:fallback-key'],
    ["watch's automatic fallback off: the gateway still serves from the key (enabling the gateway is the opt-in)", { accounts: [chatgpt('A', 100), KEY], config: cfg({ enabled: false }) }, 'K:fallback-key'],
    ['no fallback key and the chosen account failed this request → nothing', { accounts: [chatgpt('A', 40), chatgpt('B', 0)], config: cfg({ keyId: null }), exclude: new Set(['A']) }, 'none'],
    ['everything exhausted → nothing', { accounts: [chatgpt('A', 40), KEY], exclude: new Set(['A', 'K']) }, 'none'],
    ['no fallback key stored, chosen exhausted → the chosen one is tried anyway', { accounts: [chatgpt('A', 100)], config: cfg({ keyId: null }) }, 'A:chosen'],
    ['the user chose an API key → it serves', { chosenId: 'K', accounts: [chatgpt('A', 0), KEY] }, 'K:chosen'],
    ['a login-required chosen account → the key', { accounts: [chatgpt('A', 0, 0, { loginRequired: true }), KEY] }, 'K:fallback-key'],
  ];
  it.each(cases)('%s', (_n, p, expected) => {
    expect(short(serve(p))).toBe(expected);
  });

  it('nothing left: says when the earliest exhausted account lifts', () => {
    const d = serve({ accounts: [chatgpt('A', 100, 0, { reset5h: 30 }), chatgpt('B', 100, 0, { reset5h: 10 }), KEY], config: cfg({ rotate: true }), exclude: new Set(['K']) });
    expect(d).toMatchObject({ id: 'A', kind: 'chosen' });
    const none = serve({ accounts: [chatgpt('A', 100, 0, { reset5h: 30 }), chatgpt('B', 100, 0, { reset5h: 10 }), KEY], config: cfg({ rotate: true }), exclude: new Set(['K', 'A']) });
    expect(none).toEqual({ id: null, reason: expect.stringContaining('no other account can serve'), until: iso(10) });
  });
});
