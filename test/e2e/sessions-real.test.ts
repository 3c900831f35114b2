/**
 * The session-log reader against rollout files written by the REAL Codex CLI (0.169.0, driven offline
 * against the fake OpenAI): a successful turn's rate limits, a 429 usage limit, the newest session id
 * (what `codex exec` prints), and `codex exec resume`, which appends to the original file.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeOpenAI } from '../support/fake-openai.js';
import { codexAvailable, codexExecArgs, codexSandbox, rolloutFiles, runCodex } from '../support/codex.js';
import type { RunResult } from '../support/codex.js';
import { chatgptAuth, nowSeconds } from '../support/jwt.js';
import {
  emptyCursor,
  latestUsage,
  newestSession,
  newestSessionId,
  readNewEvents,
  rolloutPathForSession,
} from '../../src/codex/sessions.js';
import type { RateLimitsEvent, SessionEvent, UsageLimitEvent } from '../../src/codex/sessions.js';

const HAVE_CODEX = codexAvailable();

function explain(r: RunResult): string {
  return `exit=${String(r.code)} (${r.durationMs} ms)\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** `codex exec` prints `session id: <id>` in its banner (stderr). */
function printedSessionId(r: RunResult): string {
  const m = /^session id: (\S+)$/m.exec(r.stderr);
  if (!m?.[1]) throw new Error(`no session id printed\n${explain(r)}`);
  return m[1];
}

const iso = (s: number): string => new Date(s * 1000).toISOString();

describe.skipIf(!HAVE_CODEX)('session logs written by the real Codex CLI', () => {
  let fake: FakeOpenAI;
  beforeAll(async () => {
    fake = await FakeOpenAI.start();
  });
  afterAll(async () => {
    await fake?.close();
  });

  it('rate limits, a usage limit, the newest session id and a resumed session', async () => {
    const sb = codexSandbox(onTestFinished);
    const doc = chatgptAuth({ email: 'sam@example.com', userId: 'user-sam', accountId: 'acct-sam', plan: 'plus' });
    writeFileSync(join(sb.codexHome, 'auth.json'), JSON.stringify(doc), { mode: 0o600 });
    const now = nowSeconds();
    const activeSince = new Date();

    // A watch loop started before anything ran.
    let cursor = readNewEvents(sb.codexHome, emptyCursor(), { initialTailBytes: 0 }).cursor;

    // 1. A successful turn: the response headers become a token_count line.
    fake.setResponses(doc.tokens.access_token, {
      rateLimits: {
        primary: { usedPercent: 42, windowMinutes: 300, resetAt: now + 3600 },
        secondary: { usedPercent: 10, windowMinutes: 10080, resetAt: now + 90_000 },
      },
    });
    const ok = await runCodex(codexExecArgs(fake, { mode: 'chatgpt' }), sb);
    expect(ok.code, explain(ok)).toBe(0);
    const firstId = printedSessionId(ok);

    let r = readNewEvents(sb.codexHome, cursor);
    cursor = r.cursor;
    expect(r.events).toHaveLength(1);
    const first = r.events[0] as RateLimitsEvent;
    expect(first).toMatchObject({
      kind: 'rate_limits',
      limitId: 'codex',
      sessionId: firstId,
      fiveHour: { usedPercent: 42, resetsAt: iso(now + 3600), windowMinutes: 300 },
      weekly: { usedPercent: 10, resetsAt: iso(now + 90_000), windowMinutes: 10080 },
    });
    expect(first.at.getTime()).toBeGreaterThanOrEqual(activeSince.getTime() - 1000);
    expect(newestSessionId(sb.codexHome)).toBe(firstId);
    expect(newestSession(sb.codexHome, activeSince)).toMatchObject({ id: firstId, creatorAccountId: 'acct-sam' });
    expect(readNewEvents(sb.codexHome, cursor).events).toEqual([]);

    // 2. A usage-limit 429: a token_count at 100 % and a task_complete with usage_limit_exceeded.
    fake.setResponses(doc.tokens.access_token, {
      usageLimit: { planType: 'plus', resetsAt: now + 1800 },
      rateLimits: {
        primary: { usedPercent: 100, windowMinutes: 300, resetAt: now + 1800 },
        secondary: { usedPercent: 64, windowMinutes: 10080, resetAt: now + 300_000 },
      },
    });
    const limited = await runCodex(codexExecArgs(fake, { mode: 'chatgpt' }), sb);
    expect(limited.code, explain(limited)).not.toBe(0);
    const secondId = printedSessionId(limited);
    expect(secondId).not.toBe(firstId);

    r = readNewEvents(sb.codexHome, cursor);
    cursor = r.cursor;
    expect(r.events.map((e) => e.kind)).toEqual(['rate_limits', 'usage_limit']);
    expect(r.events[0]).toMatchObject({ sessionId: secondId, fiveHour: { usedPercent: 100 }, weekly: { usedPercent: 64 } });
    const hit = r.events[1] as UsageLimitEvent;
    expect(hit).toMatchObject({ kind: 'usage_limit', sessionId: secondId, resetsAt: iso(now + 1800) });
    expect(hit.message).toMatch(/hit your usage limit/i);
    expect(newestSessionId(sb.codexHome)).toBe(secondId);

    const all: SessionEvent[] = [first, ...r.events];
    const usage = latestUsage(all, activeSince);
    expect(usage.limited).toBe(true);
    expect(usage.rateLimits?.fiveHour?.usedPercent).toBe(100);
    // Attributed to an account activated afterwards: nothing.
    expect(latestUsage(all, new Date(Date.now() + 1000))).toMatchObject({ rateLimits: null, usageLimit: null, limited: false });

    // 3. `codex exec resume <first>` appends to the first session's ORIGINAL file.
    const files = rolloutFiles(sb.codexHome);
    expect(files).toHaveLength(2);
    const firstFile = rolloutPathForSession(sb.codexHome, firstId);
    expect(firstFile).not.toBeNull();
    expect(files).toContain(firstFile);

    // A narrow watcher (following only the newest file) needs extraFiles to see it.
    const narrow = readNewEvents(sb.codexHome, emptyCursor(), { maxFiles: 1, initialTailBytes: 0, extraFiles: [firstFile ?? ''] }).cursor;

    fake.setResponses(doc.tokens.access_token, {
      rateLimits: {
        primary: { usedPercent: 7, windowMinutes: 300, resetAt: now + 1800 },
        secondary: { usedPercent: 65, windowMinutes: 10080, resetAt: now + 300_000 },
      },
    });
    const args = codexExecArgs(fake, { mode: 'chatgpt' });
    args.splice(1, 0, 'resume');
    args.splice(args.length - 1, 0, firstId);
    const resumed = await runCodex(args, sb);
    expect(resumed.code, explain(resumed)).toBe(0);
    expect(rolloutFiles(sb.codexHome)).toEqual(files); // no new file

    r = readNewEvents(sb.codexHome, cursor);
    expect(r.events).toHaveLength(1);
    expect(r.events[0]).toMatchObject({ kind: 'rate_limits', file: firstFile, sessionId: firstId, fiveHour: { usedPercent: 7 } });
    expect(readNewEvents(sb.codexHome, narrow, { maxFiles: 1, extraFiles: [firstFile ?? ''] }).events).toMatchObject([
      { kind: 'rate_limits', sessionId: firstId, fiveHour: { usedPercent: 7 } },
    ]);
    // A later snapshot below 100 % means the limit no longer holds.
    expect(latestUsage([...all, ...r.events], activeSince).limited).toBe(false);
  });
});
