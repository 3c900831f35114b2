/**
 * The session-log reader (src/codex/sessions.ts): defensive line parsing on real Codex 0.169.0 lines
 * and older shapes, a directory walk whose cost does not grow with the history (proved by counting
 * and failing the injected file-system calls), incremental reads by byte offset, attribution.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { appendFileSync, mkdirSync, renameSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import {
  emptyCursor,
  eventsForAccount,
  eventsFromLines,
  latestUsage,
  listRecentRollouts,
  mapRateLimits,
  newestSession,
  newestSessionId,
  nodeSessionFs,
  parseRolloutLine,
  parseSessionCursor,
  readNewEvents,
  readRecentEvents,
  rolloutPathForSession,
  sessionIdFromName,
  splitCompleteLines,
  toUsageSnapshot,
  uuidV7Time,
} from '../../src/codex/sessions.js';
import type { RateLimitsEvent, SessionCursor, SessionEvent, SessionFs, UsageLimitEvent } from '../../src/codex/sessions.js';
import { tempDir } from '../support/codex.js';

// ------------------------------------------------------------------ real lines (Codex 0.169.0)
// Captured from `codex exec` against test/support/fake-openai.ts (see test/e2e/sessions-real.test.ts).
// Scrubbed: base_instructions (45 KB) trimmed, cwd replaced. No tokens appear in rollout lines.

const REAL_SESSION_ID = '01a205fd-085a-7220-8b97-c9833aae3ae5';
const REAL_META =
  '{"timestamp":"2026-11-23T01:19:58.584Z","ordinal":0,"type":"session_meta","payload":{"account_scoped":true,"creator_user_id":"user-dan","creator_account_id":"acct-dan","session_id":"01a205fd-085a-7220-8b97-c9833aae3ae5","id":"01a205fd-085a-7220-8b97-c9833aae3ae5","timestamp":"2026-11-23T01:19:58.562Z","cwd":"/home/dev/project","runtime_workspace_roots":["/home/dev/project"],"originator":"codex_exec","cli_version":"0.169.0","source":"exec","thread_source":"user","model_provider":"openai","base_instructions":{"text":"You are Codex, an agent based on GPT-6. [trimmed]"},"history_mode":"paginated","context_window":{"window_id":"01a205fd-0861-73e1-94f5-209fbb640ab4"}}}';
const REAL_TASK_STARTED =
  '{"timestamp":"2026-11-23T01:19:58.584Z","ordinal":1,"type":"event_msg","payload":{"type":"task_started","turn_attribution":{"turn_id":"01a205fd-0875-7991-b80c-c710937b4393","turn_trigger":"exec","parent_turn_id":null,"initiating_agent_path":null,"root_turn_id":"01a205fd-0875-7991-b80c-c710937b4393"},"turn_id":"01a205fd-0875-7991-b80c-c710937b4393","root_turn_id":"01a205fd-0875-7991-b80c-c710937b4393","started_at":1795396798,"model_context_window":258400,"collaboration_mode_kind":"default"}}';
const REAL_ITEM_COMPLETED =
  '{"timestamp":"2026-11-23T01:19:58.629Z","ordinal":12,"type":"event_msg","payload":{"type":"item_completed","thread_id":"01a205fd-085a-7220-8b97-c9833aae3ae5","turn_id":"01a205fd-0875-7991-b80c-c710937b4393","item":{"type":"UserMessage","id":"01a205fd-08a4-7022-a4c3-e11bab0d4012","content":[{"type":"text","text":"say hi","text_elements":[]}]},"started_at_ms":1795396798629,"completed_at_ms":1795396798629}}';
const REAL_RESPONSE_ITEM =
  '{"timestamp":"2026-11-23T01:19:58.310Z","ordinal":14,"type":"response_item","payload":{"type":"message","id":"msg_01a205fd-0764-7502-aca4-72af66bc0575","role":"assistant","content":[{"type":"output_text","text":"hi"}],"internal_chat_message_metadata_passthrough":{"turn_id":"01a205fd-071b-7291-8722-6b120ecfa189","content_item_kinds":["unknown"]}},"metadata":{"history_sequence":8,"sampled_through_sequence":7,"retained_source":{"id":{"message_id":"msg_01a205fd-0764-7502-aca4-72af66bc0575","turn_id":"01a205fd-071b-7291-8722-6b120ecfa189","role":"assistant"},"revision":"retained_01a205fd-0766-7d80-b983-8e0535bdea45","complete":true},"client_authored":false,"user_input_order":1}}';
/** A successful turn: the fake's default headers 42 % / 10 %. */
const REAL_TOKEN_COUNT_OK =
  '{"timestamp":"2026-11-23T01:19:58.311Z","ordinal":15,"type":"event_msg","payload":{"type":"token_count","info":null,"rate_limits":{"limit_id":"codex","limit_name":null,"primary":{"used_percent":42.0,"window_minutes":300,"resets_at":1795400397},"secondary":{"used_percent":10.0,"window_minutes":10080,"resets_at":1795486797},"credits":null,"individual_limit":null,"spend_control_reached":null,"plan_type":null,"rate_limit_reached_type":null}}}';
const REAL_TASK_COMPLETE_OK =
  '{"timestamp":"2026-11-23T01:19:58.314Z","ordinal":16,"type":"event_msg","payload":{"type":"task_complete","root_turn_id":"01a205fd-071b-7291-8722-6b120ecfa189","turn_id":"01a205fd-071b-7291-8722-6b120ecfa189","last_agent_message":"hi","started_at":1795396798,"completed_at":1795396798,"duration_ms":77,"time_to_first_token_ms":71}}';
/** The 429 usage_limit_reached turn: a token_count (primary 100 %), then task_complete with the error. */
const REAL_TOKEN_COUNT_LIMIT =
  '{"timestamp":"2026-11-23T01:19:58.650Z","ordinal":13,"type":"event_msg","payload":{"type":"token_count","info":null,"rate_limits":{"limit_id":"codex","limit_name":null,"primary":{"used_percent":100.0,"window_minutes":300,"resets_at":1795398598},"secondary":{"used_percent":64.0,"window_minutes":10080,"resets_at":1795696798},"credits":null,"individual_limit":null,"spend_control_reached":null,"plan_type":null,"rate_limit_reached_type":null}}}';
const REAL_TASK_COMPLETE_LIMIT =
  '{"timestamp":"2026-11-23T01:19:58.653Z","ordinal":14,"type":"event_msg","payload":{"type":"task_complete","root_turn_id":"01a205fd-0875-7991-b80c-c710937b4393","turn_id":"01a205fd-0875-7991-b80c-c710937b4393","last_agent_message":null,"error":{"message":"You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit https://chatgpt.com/settings/usage to purchase more credits or try again at 1:49 AM.","codex_error_info":"usage_limit_exceeded"},"started_at":1795396798,"completed_at":1795396798,"duration_ms":70}}';

const iso = (unixSeconds: number): string => new Date(unixSeconds * 1000).toISOString();

// --------------------------------------------------------------------------- synthetic lines

function tokenCount(ts: string, primary: number | null, secondary: number | null, extra: Record<string, unknown> = {}): string {
  const base = Date.parse(ts) / 1000;
  const w = (p: number | null, minutes: number, resetIn: number): unknown =>
    p === null ? null : { used_percent: p, window_minutes: minutes, resets_at: Math.floor(base + resetIn) };
  return JSON.stringify({
    timestamp: ts,
    type: 'event_msg',
    payload: {
      type: 'token_count',
      info: null,
      rate_limits: { limit_id: 'codex', primary: w(primary, 300, 3600), secondary: w(secondary, 10080, 86400), ...extra },
    },
  });
}

function usageLimitLine(ts: string): string {
  return JSON.stringify({
    timestamp: ts,
    type: 'event_msg',
    payload: { type: 'task_complete', last_agent_message: null, error: { message: "You've hit your usage limit.", codex_error_info: 'usage_limit_exceeded' } },
  });
}

function metaLine(ts: string, id: string): string {
  return JSON.stringify({ timestamp: ts, type: 'session_meta', payload: { id, session_id: id, timestamp: ts, cli_version: '0.169.0' } });
}

const uuid = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const p2 = (n: number): string => String(n).padStart(2, '0');

/** `YYYY/MM/DD/rollout-YYYY-MM-DDThh-mm-ss-<id>.jsonl` for a UTC time (tests run with TZ=UTC). */
function rolloutRel(d: Date, id: string): string {
  const day = `${d.getUTCFullYear()}/${p2(d.getUTCMonth() + 1)}/${p2(d.getUTCDate())}`;
  const stamp = `${d.getUTCFullYear()}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())}T${p2(d.getUTCHours())}-${p2(d.getUTCMinutes())}-${p2(d.getUTCSeconds())}`;
  return `${day}/rollout-${stamp}-${id}.jsonl`;
}

function writeRollout(codexHome: string, rel: string, content: string): string {
  const file = join(codexHome, 'sessions', ...rel.split('/'));
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, content);
  return file;
}

const lines = (...ls: string[]): string => ls.map((l) => `${l}\n`).join('');

function home(): string {
  const d = tempDir('sessions', onTestFinished);
  return d.path;
}

// ------------------------------------------------------------------- an fs that counts (and fails)

interface FsLog {
  readdir: string[];
  stat: string[];
  open: string[];
  bytesRead: number;
}

function countingFs(root: string, fail?: (rel: string) => boolean): { fs: SessionFs; log: FsLog } {
  const log: FsLog = { readdir: [], stat: [], open: [], bytesRead: 0 };
  const rel = (p: string): string => relative(root, p).split(sep).join('/') || '.';
  const guard = (p: string): void => {
    if (fail?.(rel(p))) throw Object.assign(new Error(`test: must not touch ${rel(p)}`), { code: 'EIO' });
  };
  const fs: SessionFs = {
    readdir: (dir) => {
      log.readdir.push(rel(dir));
      guard(dir);
      return nodeSessionFs.readdir(dir);
    },
    stat: (file) => {
      log.stat.push(rel(file));
      guard(file);
      return nodeSessionFs.stat(file);
    },
    open: (file) => {
      log.open.push(rel(file));
      guard(file);
      return nodeSessionFs.open(file);
    },
    read: (fd, buf, off, len, pos) => {
      const n = nodeSessionFs.read(fd, buf, off, len, pos);
      log.bytesRead += n;
      return n;
    },
    close: (fd) => nodeSessionFs.close(fd),
  };
  return { fs, log };
}

// =============================================================================== pure parsing

describe('parseRolloutLine on real Codex 0.169.0 lines', () => {
  it('session_meta gives the session id and its creator', () => {
    expect(parseRolloutLine(REAL_META)).toEqual({
      kind: 'session_meta',
      at: new Date('2026-11-23T01:19:58.584Z'),
      sessionId: REAL_SESSION_ID,
      creatorAccountId: 'acct-dan',
      creatorUserId: 'user-dan',
      cliVersion: '0.169.0',
    });
  });

  it('token_count gives both windows, mapped by length, resets_at in unix seconds', () => {
    expect(parseRolloutLine(REAL_TOKEN_COUNT_OK)).toEqual({
      kind: 'rate_limits',
      at: new Date('2026-11-23T01:19:58.311Z'),
      fiveHour: { usedPercent: 42, resetsAt: iso(1795400397), windowMinutes: 300 },
      weekly: { usedPercent: 10, resetsAt: iso(1795486797), windowMinutes: 10080 },
      limitId: 'codex',
    });
  });

  it('task_complete with codex_error_info usage_limit_exceeded is a usage limit', () => {
    const r = parseRolloutLine(REAL_TASK_COMPLETE_LIMIT);
    expect(r).toMatchObject({ kind: 'usage_limit', at: new Date('2026-11-23T01:19:58.653Z'), resetsAt: null });
    expect(r?.kind === 'usage_limit' ? r.message : '').toMatch(/hit your usage limit/);
  });

  it('other real lines mean nothing', () => {
    for (const l of [REAL_TASK_STARTED, REAL_ITEM_COMPLETED, REAL_RESPONSE_ITEM, REAL_TASK_COMPLETE_OK]) expect(parseRolloutLine(l)).toBeNull();
  });
});

describe('parseRolloutLine: older shapes and variants', () => {
  const ts = '2026-01-10T10:00:00.000Z';
  const line = (payload: unknown, timestamp: unknown = ts): string => JSON.stringify({ timestamp, type: 'event_msg', payload });

  it('legacy resets_in_seconds counts from the line timestamp', () => {
    const r = parseRolloutLine(
      line({
        type: 'token_count',
        info: null,
        rate_limits: {
          primary: { used_percent: 12.5, window_minutes: 300, resets_in_seconds: 600 },
          secondary: { used_percent: 40, window_minutes: 10080, resets_in_seconds: 86400 },
        },
      }),
    );
    expect(r).toEqual({
      kind: 'rate_limits',
      at: new Date(ts),
      fiveHour: { usedPercent: 12.5, resetsAt: '2026-01-10T10:10:00.000Z', windowMinutes: 300 },
      weekly: { usedPercent: 40, resetsAt: '2026-01-11T10:00:00.000Z', windowMinutes: 10080 },
      limitId: null,
    });
  });

  it('the oldest flat shape (primary_used_percent, ...) still yields windows', () => {
    const r = parseRolloutLine(
      line({
        type: 'token_count',
        rate_limits: {
          primary_used_percent: 12,
          secondary_used_percent: 30,
          primary_to_secondary_ratio_percent: 40,
          primary_window_minutes: 300,
          secondary_window_minutes: 10080,
          primary_reset_after_seconds: 60,
        },
      }),
    );
    expect(r).toMatchObject({
      fiveHour: { usedPercent: 12, resetsAt: '2026-01-10T10:01:00.000Z', windowMinutes: 300 },
      weekly: { usedPercent: 30, resetsAt: null, windowMinutes: 10080 },
    });
  });

  it('maps windows by length, not by position', () => {
    const limits = (primary: unknown, secondary: unknown = null): ReturnType<typeof mapRateLimits> =>
      mapRateLimits({ primary, secondary }, new Date(ts));
    // A plan whose only (primary) window is weekly.
    expect(limits({ used_percent: 5, window_minutes: 10080, resets_at: 1768100000 })).toEqual({
      fiveHour: null,
      weekly: { usedPercent: 5, resetsAt: iso(1768100000), windowMinutes: 10080 },
    });
    // Swapped positions.
    const swapped = limits({ used_percent: 70, window_minutes: 10080 }, { used_percent: 20, window_minutes: 300 });
    expect(swapped?.weekly?.usedPercent).toBe(70);
    expect(swapped?.fiveHour?.usedPercent).toBe(20);
    // Unknown lengths: up to a day is the short window, beyond it the long one.
    expect(limits({ used_percent: 1, window_minutes: 60 })?.fiveHour?.usedPercent).toBe(1);
    expect(limits({ used_percent: 1, window_minutes: 1440 })?.fiveHour?.usedPercent).toBe(1);
    expect(limits({ used_percent: 2, window_minutes: 2880 })?.weekly?.usedPercent).toBe(2);
    // No length: by position.
    const positional = limits({ used_percent: 3 }, { used_percent: 4 });
    expect(positional).toEqual({
      fiveHour: { usedPercent: 3, resetsAt: null, windowMinutes: null },
      weekly: { usedPercent: 4, resetsAt: null, windowMinutes: null },
    });
  });

  it('accepts resets_at in milliseconds and as an ISO string', () => {
    const r = mapRateLimits(
      { primary: { used_percent: 1, window_minutes: 300, resets_at: 1768100000123 }, secondary: { used_percent: 2, window_minutes: 10080, resets_at: '2026-01-17T00:00:00Z' } },
      new Date(ts),
    );
    expect(r?.fiveHour?.resetsAt).toBe('2026-01-11T02:53:20.123Z');
    expect(r?.weekly?.resetsAt).toBe('2026-01-17T00:00:00.000Z');
  });

  it('null rate_limits, null windows and unusable numbers give nothing', () => {
    expect(parseRolloutLine(line({ type: 'token_count', info: { total_token_usage: {} }, rate_limits: null }))).toBeNull();
    expect(parseRolloutLine(line({ type: 'token_count', info: null }))).toBeNull();
    expect(parseRolloutLine(line({ type: 'token_count', rate_limits: { primary: null, secondary: null } }))).toBeNull();
    expect(parseRolloutLine(line({ type: 'token_count', rate_limits: { primary: { used_percent: 'x' }, secondary: { used_percent: null } } }))).toBeNull();
    // One good window is enough.
    expect(parseRolloutLine(line({ type: 'token_count', rate_limits: { primary: null, secondary: { used_percent: 9, window_minutes: 10080 } } }))).toMatchObject({
      fiveHour: null,
      weekly: { usedPercent: 9 },
    });
  });

  it('recognises the usage-limit error in its other shapes', () => {
    const hit = (payload: unknown): unknown => parseRolloutLine(line(payload));
    expect(hit({ type: 'task_complete', error: { message: 'm', codex_error_info: { usage_limit_exceeded: { resets_at: 1768100000 } } } })).toMatchObject({
      kind: 'usage_limit',
      resetsAt: iso(1768100000),
    });
    expect(hit({ type: 'error', message: 'm', codex_error_info: 'usage_limit_exceeded' })).toMatchObject({ kind: 'usage_limit', message: 'm' });
    expect(hit({ type: 'turn_failed', error: { message: 'm', codexErrorInfo: 'x', codex_error_info: 'usageLimitExceeded' } })).toMatchObject({ kind: 'usage_limit' });
    expect(hit({ type: 'stream_error', error: { type: 'usage_limit_reached', plan_type: 'plus', resets_in_seconds: 120 } })).toMatchObject({
      kind: 'usage_limit',
      resetsAt: '2026-01-10T10:02:00.000Z',
    });
    expect(hit({ type: 'error', message: "You've hit your usage limit. Try again in 3 days." })).toMatchObject({ kind: 'usage_limit' });
    // Other errors are not usage limits.
    expect(hit({ type: 'task_complete', error: { message: 'm', codex_error_info: 'context_window_exceeded' } })).toBeNull();
    expect(hit({ type: 'task_complete', error: { message: 'm', codex_error_info: { http_connection_failed: { http_status_code: 500 } } } })).toBeNull();
    expect(hit({ type: 'error', message: 'stream disconnected' })).toBeNull();
  });

  it('never throws on garbage and ignores lines without a timestamp', () => {
    const garbage = [
      '',
      '   ',
      '{"type":"event_msg","payload":{"type":"token_count"', // truncated
      'not json event_msg',
      '[1,2,"event_msg"]',
      '42',
      '"event_msg"',
      'null',
      '{"type":"event_msg","payload":"token_count"}',
      '{"type":"event_msg","payload":null}',
      '{"type":"event_msg"}',
      '{"type":"session_meta","payload":{"id":42}}',
      '{"type":"future_kind","payload":{"type":"token_count"}}',
      line({ type: 'brand_new_event', rate_limits: { primary: { used_percent: 1 } } }),
      line({ type: 'token_count', rate_limits: { primary: { used_percent: 1 } } }, null),
      line({ type: 'token_count', rate_limits: { primary: { used_percent: 1 } } }, 'yesterday'),
      '\u0000\uFFFD{event_msg',
    ];
    for (const g of garbage) expect(parseRolloutLine(g), g).toBeNull();
  });
});

describe('eventsFromLines / splitCompleteLines', () => {
  it('a usage-limit event takes its reset time from the exhausted window the file showed last', () => {
    const file = '/x/rollout-2026-11-23T01-19-58-01a205fd-085a-7220-8b97-c9833aae3ae5.jsonl';
    const { events, state } = eventsFromLines(
      [REAL_META, REAL_TASK_STARTED, REAL_RESPONSE_ITEM, REAL_TOKEN_COUNT_LIMIT, REAL_TASK_COMPLETE_LIMIT],
      file,
    );
    expect(events.map((e) => e.kind)).toEqual(['rate_limits', 'usage_limit']);
    expect(events[1]).toMatchObject({ kind: 'usage_limit', resetsAt: iso(1795398598), sessionId: REAL_SESSION_ID, file });
    expect(state).toEqual({ sessionId: REAL_SESSION_ID, exhaustedResetsAt: iso(1795398598) });
    // A later snapshot below 100 % clears it.
    expect(eventsFromLines([REAL_TOKEN_COUNT_OK], file, state).state.exhaustedResetsAt).toBeNull();
  });

  it('bad lines among good ones stop nothing; the file name supplies the session id', () => {
    const file = `/x/rollout-2026-01-01T00-00-00-${uuid(7)}.jsonl`;
    const { events } = eventsFromLines(
      ['garbage', REAL_TOKEN_COUNT_OK, '[]', '{"timestamp":"2026-11-23T01:19:58.400Z","type":"event_msg","payload":{"type":"token_c', REAL_TOKEN_COUNT_LIMIT, 'null', REAL_TASK_COMPLETE_LIMIT],
      file,
    );
    expect(events.map((e) => e.kind)).toEqual(['rate_limits', 'rate_limits', 'usage_limit']);
    expect(events.every((e) => e.sessionId === uuid(7))).toBe(true);
  });

  it('does not consume a partial last line; counts bytes, not characters', () => {
    const text = `${REAL_TASK_COMPLETE_LIMIT}\r\n{"a":1}\n{"partial":`;
    const buf = Buffer.from(text, 'utf8');
    const { lines: ls, consumed } = splitCompleteLines(buf);
    expect(ls).toHaveLength(2);
    expect(consumed).toBe(buf.length - Buffer.byteLength('{"partial":'));
    expect(consumed).toBeGreaterThan(text.length - '{"partial":'.length); // the ’ is 3 bytes
    expect(parseRolloutLine(ls[0] ?? '')).toMatchObject({ kind: 'usage_limit' }); // the \r is harmless
    expect(splitCompleteLines(Buffer.from('no newline at all'))).toEqual({ lines: [], consumed: 0 });
  });

  it('names: session id and UUIDv7 time', () => {
    expect(sessionIdFromName(`rollout-2026-11-23T01-19-58-${REAL_SESSION_ID}.jsonl`)).toBe(REAL_SESSION_ID);
    expect(sessionIdFromName('rollout-weird.jsonl')).toBeNull();
    // 0x01a205fd085a ms: the session started 01:19:58.562Z (its session_meta says so).
    expect(uuidV7Time(REAL_SESSION_ID)?.toISOString()).toBe('2026-11-23T01:19:58.554Z');
    expect(uuidV7Time(uuid(1))).toBeNull();
  });
});

// ================================================================================= directory walk

describe('only the newest part of a large history is touched', () => {
  const NEWEST_AT = ['2026-11-23T09:00:00.000Z', '2026-11-23T08:00:00.000Z', '2026-11-22T23:00:00.000Z', '2026-11-21T12:00:00.000Z'];
  const NEWEST = NEWEST_AT.map((t, i) => rolloutRel(new Date(t), uuid(9003 - i)));
  let big: string;
  let small: string;
  const dirs: { dispose(): void }[] = [];

  /** `oldFiles` rollouts spread over old days (2019 … 2026-10), then the four newest. */
  function buildHistory(oldFiles: number): string {
    const d = tempDir('history');
    dirs.push(d);
    const perDay = 10;
    const start = Date.UTC(2019, 0, 1);
    for (let i = 0; i < oldFiles; i++) {
      const day = Math.floor(i / perDay);
      const t = new Date(start + day * 3 * 86400_000 + (i % perDay) * 60_000);
      writeRollout(d.path, rolloutRel(t, uuid(i)), lines(tokenCount(t.toISOString(), 99, 99)));
    }
    NEWEST.forEach((rel, i) => {
      const ts = NEWEST_AT[i] ?? '';
      writeRollout(d.path, rel, lines(metaLine(ts, sessionIdFromName(rel) ?? ''), tokenCount(ts, 12 - i, 1)));
    });
    return d.path;
  }

  beforeAll(() => {
    big = buildHistory(5000);
    small = buildHistory(20);
  });
  afterAll(() => {
    for (const d of dirs) d.dispose();
  });

  /** Everything older than November 2026, and November's days before the 21st. */
  const isOld = (rel: string): boolean => {
    const m = /^sessions\/(\d{4})(?:\/(\d{2})(?:\/(\d{2}))?)?/.exec(rel);
    if (!m) return false;
    if (Number(m[1]) < 2026) return true;
    if (m[2] !== undefined && Number(m[2]) < 11) return true;
    return m[3] !== undefined && Number(m[3]) < 21;
  };

  it('the fixture really has a large history', () => {
    expect(readRecentEvents(big, { maxFiles: 100_000 }).length).toBe(5004);
  });

  it('listRecentRollouts lists four directories for the newest files, whatever the history size', () => {
    const a = countingFs(big, isOld);
    const got = listRecentRollouts(big, { limit: 2, fs: a.fs });
    expect(got.map((f) => f.rel)).toEqual(NEWEST.slice(0, 2));
    expect(a.log.readdir).toEqual(['sessions', 'sessions/2026', 'sessions/2026/11', 'sessions/2026/11/23']);
    expect(a.log.stat).toEqual([]);
    expect(a.log.open).toEqual([]);

    const b = countingFs(small, isOld);
    listRecentRollouts(small, { limit: 2, fs: b.fs });
    expect(b.log).toEqual(a.log);

    // Three files need the previous day too, and nothing more.
    const c = countingFs(big, isOld);
    expect(listRecentRollouts(big, { limit: 3, fs: c.fs }).map((f) => f.rel)).toEqual(NEWEST.slice(0, 3));
    expect(c.log.readdir).toEqual(['sessions', 'sessions/2026', 'sessions/2026/11', 'sessions/2026/11/23', 'sessions/2026/11/22']);
  });

  it('a since cutoff stops at the first day directory before it', () => {
    const a = countingFs(big, isOld);
    const got = listRecentRollouts(big, { limit: 1000, since: new Date('2026-11-22T12:00:00Z'), fs: a.fs });
    // 11-22T23:00 is after the cutoff; 11-21T12:00 is not (even 12 h ahead of UTC).
    expect(got.map((f) => f.rel)).toEqual(NEWEST.slice(0, 3));
    expect(a.log.readdir).toContain('sessions/2026/11/21'); // may still hold files of the 22nd in a zone behind UTC
    expect(a.log.readdir).not.toContain('sessions/2026/11/20');
  });

  it('a since cutoff skips day directories by name alone (no file in them needed to stop)', () => {
    const h = home();
    writeRollout(h, rolloutRel(new Date('2026-11-23T09:00:00Z'), uuid(1)), lines(tokenCount('2026-11-23T09:00:00Z', 1, 1)));
    mkdirSync(join(h, 'sessions', '2026', '11', '10'), { recursive: true }); // empty: no name to judge by
    writeRollout(h, rolloutRel(new Date('2026-10-01T00:00:00Z'), uuid(2)), '');
    writeRollout(h, rolloutRel(new Date('2025-01-01T00:00:00Z'), uuid(3)), '');
    const allowed = new Set(['sessions', 'sessions/2026', 'sessions/2026/11', 'sessions/2026/11/23']);
    const a = countingFs(h, (rel) => !allowed.has(rel) && !rel.startsWith('sessions/2026/11/23/'));
    const r = readNewEvents(h, emptyCursor(), { since: new Date('2026-11-22T12:00:00Z'), fs: a.fs });
    expect(r.events).toHaveLength(1);
    expect(a.log.readdir).toEqual([...allowed]);
  });

  it('the failing fs proves the guard works', () => {
    const a = countingFs(big, isOld);
    expect(() => listRecentRollouts(big, { limit: 5, fs: a.fs })).toThrow(/must not touch sessions\/20(19|2[0-5])/);
  });

  it('readNewEvents on a fresh cursor reads only the newest files; a quiet tick lists one day and stats the followed files', () => {
    const a = countingFs(big, isOld);
    const first = readNewEvents(big, emptyCursor(), { maxFiles: 3, fs: a.fs });
    expect(first.events.map((e) => (e.kind === 'rate_limits' ? e.fiveHour?.usedPercent : null))).toEqual([10, 11, 12]);
    expect(a.log.open.sort()).toEqual(NEWEST.slice(0, 3).map((r) => `sessions/${r}`).sort());
    expect(first.cursor.newest).toBe(NEWEST[0]);

    const b = countingFs(big, isOld);
    const second = readNewEvents(big, first.cursor, { maxFiles: 3, fs: b.fs });
    expect(second.events).toEqual([]);
    expect(b.log.readdir).toEqual(['sessions', 'sessions/2026', 'sessions/2026/11', 'sessions/2026/11/23']);
    expect(b.log.stat).toHaveLength(3);
    expect(b.log.open).toEqual([]);
    expect(b.log.bytesRead).toBe(0);

    const c = countingFs(small, isOld);
    readNewEvents(small, readNewEvents(small, emptyCursor(), { maxFiles: 3 }).cursor, { maxFiles: 3, fs: c.fs });
    expect(c.log).toEqual(b.log);
  });

  it('newestSessionId reads one day directory and one first line', () => {
    const a = countingFs(big, isOld);
    expect(newestSessionId(big, undefined, { fs: a.fs })).toBe(uuid(9003));
    expect(a.log.readdir).toEqual(['sessions', 'sessions/2026', 'sessions/2026/11', 'sessions/2026/11/23']);
    expect(a.log.open).toEqual([`sessions/${NEWEST[0]}`]);
  });
});

// ============================================================================== incremental reads

describe('readNewEvents: incremental by byte offset', () => {
  const T0 = '2026-11-23T10:00:00.000Z';
  const at = (s: number): string => new Date(Date.parse(T0) + s * 1000).toISOString();
  const pct = (events: SessionEvent[]): (number | string | undefined)[] =>
    events.map((e) => (e.kind === 'rate_limits' ? e.fiveHour?.usedPercent : 'limit'));
  const relA = rolloutRel(new Date(T0), uuid(1));

  it('returns only appended events, and a quiet tick reads nothing', () => {
    const h = home();
    const file = writeRollout(h, relA, lines(metaLine(at(0), uuid(1)), tokenCount(at(1), 1, 1)));
    const r1 = readNewEvents(h, emptyCursor());
    expect(pct(r1.events)).toEqual([1]);
    expect(r1.events[0]).toMatchObject({ sessionId: uuid(1), file });

    appendFileSync(file, lines(REAL_RESPONSE_ITEM, tokenCount(at(2), 2, 1), tokenCount(at(3), 3, 1)));
    const r2 = readNewEvents(h, r1.cursor);
    expect(pct(r2.events)).toEqual([2, 3]);
    expect(r2.events.every((e) => e.sessionId === uuid(1))).toBe(true);

    const c = countingFs(h);
    const r3 = readNewEvents(h, r2.cursor, { fs: c.fs });
    expect(r3.events).toEqual([]);
    expect(c.log.bytesRead).toBe(0);
    expect(r3.cursor).toEqual(r2.cursor);
    // The input cursor is not modified.
    expect(r1.cursor.files[relA]?.offset).toBeLessThan(r2.cursor.files[relA]?.offset ?? 0);
  });

  it('reads O(new bytes): a few hundred bytes appended to a 3 MB file cost a few hundred bytes', () => {
    const h = home();
    const filler = `${JSON.stringify({ timestamp: at(0), type: 'response_item', payload: { type: 'message', content: 'x'.repeat(3000) } })}\n`;
    const file = writeRollout(h, relA, metaLine(at(0), uuid(1)) + '\n' + filler.repeat(1000));
    expect(statSync(file).size).toBeGreaterThan(3_000_000);
    const r1 = readNewEvents(h, emptyCursor());
    expect(r1.events).toEqual([]);

    const appended = lines(tokenCount(at(5), 55, 5));
    appendFileSync(file, appended);
    const c = countingFs(h);
    const r2 = readNewEvents(h, r1.cursor, { fs: c.fs });
    expect(pct(r2.events)).toEqual([55]);
    expect(c.log.bytesRead).toBe(Buffer.byteLength(appended));
    expect(r2.cursor.files[relA]?.offset).toBe(statSync(file).size);
  });

  it('a partial last line is not consumed, and is reported once when completed', () => {
    const h = home();
    const full = usageLimitLine(at(4));
    const file = writeRollout(h, relA, lines(tokenCount(at(1), 100, 3)) + full.slice(0, 40));
    const r1 = readNewEvents(h, emptyCursor());
    expect(pct(r1.events)).toEqual([100]);
    const offset1 = r1.cursor.files[relA]?.offset ?? -1;
    expect(offset1).toBe(Buffer.byteLength(lines(tokenCount(at(1), 100, 3))));

    appendFileSync(file, full.slice(40, 80)); // still no newline
    const r2 = readNewEvents(h, r1.cursor);
    expect(r2.events).toEqual([]);
    expect(r2.cursor.files[relA]?.offset).toBe(offset1);

    appendFileSync(file, `${full.slice(80)}\n`);
    const r3 = readNewEvents(h, r2.cursor);
    expect(pct(r3.events)).toEqual(['limit']);
    // Its reset time comes from the exhausted window of the earlier read (kept in the cursor).
    const limit = r3.events[0] as UsageLimitEvent;
    expect(limit.resetsAt).toBe(iso(Math.floor(Date.parse(at(1)) / 1000) + 3600));
    expect(readNewEvents(h, r3.cursor).events).toEqual([]);
  });

  it('a file that shrank (truncated, rotated) is read again from the start', () => {
    const h = home();
    const file = writeRollout(h, relA, lines(metaLine(at(0), uuid(1)), tokenCount(at(1), 1, 1), tokenCount(at(2), 2, 1), tokenCount(at(3), 3, 1)));
    const r1 = readNewEvents(h, emptyCursor());
    expect(pct(r1.events)).toEqual([1, 2, 3]);
    truncateSync(file, 0);
    appendFileSync(file, lines(tokenCount(at(9), 9, 1)));
    const r2 = readNewEvents(h, r1.cursor);
    expect(pct(r2.events)).toEqual([9]);
    expect(r2.cursor.files[relA]?.offset).toBe(statSync(file).size);
  });

  it('a file replaced by another (new inode) is read again from the start even when larger', () => {
    const h = home();
    const file = writeRollout(h, relA, lines(tokenCount(at(1), 1, 1)));
    const r1 = readNewEvents(h, emptyCursor());
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, lines(tokenCount(at(5), 5, 1), tokenCount(at(6), 6, 1), tokenCount(at(7), 7, 1)));
    renameSync(tmp, file);
    expect(pct(readNewEvents(h, r1.cursor).events)).toEqual([5, 6, 7]);
  });

  it('files created after the first read are read from their beginning; deleted files are forgotten', () => {
    const h = home();
    writeRollout(h, relA, lines(tokenCount(at(1), 1, 1)));
    const r1 = readNewEvents(h, emptyCursor(), { initialTailBytes: 0 });
    expect(r1.events).toEqual([]);
    const relB = rolloutRel(new Date(Date.parse(T0) + 60_000), uuid(2));
    const relC = rolloutRel(new Date(Date.parse(T0) + 86400_000), uuid(3)); // next day directory
    writeRollout(h, relB, lines(metaLine(at(60), uuid(2)), tokenCount(at(61), 61, 1)));
    writeRollout(h, relC, lines(metaLine(at(86400), uuid(3)), tokenCount(at(86401), 62, 1)));
    const r2 = readNewEvents(h, r1.cursor, { initialTailBytes: 0 });
    expect(pct(r2.events)).toEqual([61, 62]);
    expect(r2.events.map((e) => e.sessionId)).toEqual([uuid(2), uuid(3)]);
    expect(r2.cursor.newest).toBe(relC);

    unlinkSync(join(h, 'sessions', ...relB.split('/')));
    const r3 = readNewEvents(h, r2.cursor);
    expect(Object.keys(r3.cursor.files).sort()).toEqual([relA, relC].sort());
  });

  it('initialTailBytes 0: existing content is skipped, a partial last line is picked up when completed', () => {
    const h = home();
    const done = usageLimitLine(at(3));
    const file = writeRollout(h, relA, lines(metaLine(at(0), uuid(1)), tokenCount(at(1), 100, 1)) + done.slice(0, 30));
    const r1 = readNewEvents(h, emptyCursor(), { initialTailBytes: 0 });
    expect(r1.events).toEqual([]);
    appendFileSync(file, `${done.slice(30)}\n${tokenCount(at(4), 4, 1)}\n`);
    const r2 = readNewEvents(h, r1.cursor);
    expect(pct(r2.events)).toEqual(['limit', 4]);
    expect(r2.events[0]?.sessionId).toBe(uuid(1));
  });

  it('initialTailBytes N reads about N bytes of a large file, and still learns its session id', () => {
    const h = home();
    const id = '01a205fd-085a-7220-8b97-c9833aae3ae5';
    const rel = rolloutRel(new Date(T0), 'ffffffff-0000-4000-8000-000000000000'); // name id differs from meta id
    const filler = `${JSON.stringify({ timestamp: at(0), type: 'response_item', payload: { content: 'y'.repeat(1000) } })}\n`;
    writeRollout(h, rel, `${metaLine(at(0), id)}\n${tokenCount(at(1), 1, 1)}\n${filler.repeat(2000)}${tokenCount(at(2), 2, 1)}\n`);
    const c = countingFs(h);
    const r = readNewEvents(h, emptyCursor(), { initialTailBytes: 4096, fs: c.fs });
    expect(pct(r.events)).toEqual([2]);
    expect(r.events[0]?.sessionId).toBe(id);
    expect(c.log.bytesRead).toBeLessThan(200_000);
  });

  it('since: older events (and files) are left out', () => {
    const h = home();
    writeRollout(h, rolloutRel(new Date('2026-11-01T00:00:00Z'), uuid(5)), lines(tokenCount('2026-11-01T00:00:01Z', 50, 1)));
    writeRollout(h, relA, lines(tokenCount(at(1), 1, 1), tokenCount(at(100), 2, 1)));
    const r = readNewEvents(h, emptyCursor(), { since: new Date(at(50)) });
    expect(pct(r.events)).toEqual([2]);
    expect(Object.keys(r.cursor.files)).toEqual([relA]);
  });

  it('follows at most maxFiles files, newest first', () => {
    const h = home();
    for (let i = 0; i < 6; i++) writeRollout(h, rolloutRel(new Date(Date.parse(T0) + i * 1000), uuid(i)), lines(tokenCount(at(i), i, 0)));
    const r = readNewEvents(h, emptyCursor(), { maxFiles: 2 });
    expect(pct(r.events)).toEqual([4, 5]);
    expect(Object.keys(r.cursor.files)).toHaveLength(2);
  });

  it('extraFiles follows an old file (a resumed session) the walk would not reach', () => {
    const h = home();
    const old = writeRollout(h, rolloutRel(new Date('2020-02-02T02:02:02Z'), uuid(77)), lines(metaLine('2020-02-02T02:02:02Z', uuid(77))));
    writeRollout(h, relA, lines(tokenCount(at(1), 1, 1)));
    const r1 = readNewEvents(h, emptyCursor(), { maxFiles: 1, initialTailBytes: 0, extraFiles: [old] });
    appendFileSync(old, lines(tokenCount(at(5), 77, 1)));
    const r2 = readNewEvents(h, r1.cursor, { maxFiles: 1, extraFiles: [old] });
    expect(r2.events).toMatchObject([{ kind: 'rate_limits', sessionId: uuid(77), file: old }]);
  });

  it('the cursor survives JSON; unusable JSON means a fresh cursor', () => {
    const h = home();
    const file = writeRollout(h, relA, lines(tokenCount(at(1), 100, 1)));
    const r1 = readNewEvents(h, emptyCursor());
    const revived: SessionCursor = parseSessionCursor(JSON.parse(JSON.stringify(r1.cursor)));
    expect(revived).toEqual(r1.cursor);
    appendFileSync(file, lines(usageLimitLine(at(2))));
    expect(readNewEvents(h, revived).events).toMatchObject([{ kind: 'usage_limit', resetsAt: iso(Math.floor(Date.parse(at(1)) / 1000) + 3600) }]);

    for (const bad of [null, 42, 'x', {}, { version: 2, files: {} }, { version: 1, files: [] }]) expect(parseSessionCursor(bad)).toEqual(emptyCursor());
    const partial = parseSessionCursor({ version: 1, scanned: true, newest: relA, files: { a: { offset: -1 }, b: { offset: 1.5 }, c: 'x', d: { offset: 7 } } });
    expect(partial.files).toEqual({ d: { offset: 7, ino: 0, sessionId: null, exhaustedResetsAt: null } });
  });

  it('a missing sessions directory is no error', () => {
    const h = home();
    expect(readNewEvents(h, emptyCursor())).toEqual({ events: [], cursor: { version: 1, scanned: true, newest: null, files: {} } });
    expect(newestSessionId(h)).toBeNull();
    expect(listRecentRollouts(join(h, 'nope'))).toEqual([]);
  });
});

// ===================================================================================== attribution

describe('attribution', () => {
  const rl = (t: string, five: number | null, weekly: number | null, limitId: string | null = 'codex'): RateLimitsEvent => ({
    kind: 'rate_limits',
    at: new Date(t),
    fiveHour: five === null ? null : { usedPercent: five, resetsAt: '2026-11-23T15:00:00.000Z', windowMinutes: 300 },
    weekly: weekly === null ? null : { usedPercent: weekly, resetsAt: '2026-11-29T00:00:00.000Z', windowMinutes: 10080 },
    limitId,
    file: '/f',
    sessionId: 's',
  });
  const ul = (t: string, resetsAt: string | null = '2026-11-23T15:00:00.000Z'): UsageLimitEvent => ({
    kind: 'usage_limit',
    at: new Date(t),
    resetsAt,
    message: null,
    file: '/f',
    sessionId: 's',
  });
  const now = new Date('2026-11-23T12:00:00Z');

  it('eventsForAccount ignores events from before the account became active', () => {
    const events = [rl('2026-11-23T09:00:00Z', 90, 1), ul('2026-11-23T09:30:00Z'), rl('2026-11-23T10:00:00Z', 5, 1)];
    expect(eventsForAccount(events, new Date('2026-11-23T10:00:00Z'))).toEqual([events[2]]);
    expect(eventsForAccount(events, new Date('2026-11-23T08:00:00Z'))).toEqual(events);
  });

  it('latestUsage: newest windows and whether a limit was hit after activeSince', () => {
    const events = [rl('2026-11-23T09:00:00Z', 90, 1), ul('2026-11-23T09:30:00Z'), rl('2026-11-23T10:00:00Z', 5, 2)];
    const before = latestUsage(events, new Date('2026-11-23T09:45:00Z'), now);
    expect(before.rateLimits?.fiveHour?.usedPercent).toBe(5);
    expect(before.usageLimit).toBeNull();
    expect(before.limited).toBe(false);

    const all = latestUsage([rl('2026-11-23T09:00:00Z', 100, 1), ul('2026-11-23T09:00:01Z')], new Date('2026-11-23T08:00:00Z'), now);
    expect(all.usageLimit?.at.toISOString()).toBe('2026-11-23T09:00:01.000Z');
    expect(all.limited).toBe(true);
    // The reset time passed: no longer limited.
    expect(latestUsage([ul('2026-11-23T09:00:01Z', '2026-11-23T11:00:00.000Z')], undefined, now).limited).toBe(false);
    // Unknown reset time: limited until a later snapshot shows room again.
    expect(latestUsage([ul('2026-11-23T09:00:00Z', null)], undefined, now).limited).toBe(true);
    expect(latestUsage([ul('2026-11-23T09:00:00Z', null), rl('2026-11-23T11:00:00Z', 3, 40)], undefined, now).limited).toBe(false);
    expect(latestUsage([ul('2026-11-23T09:00:00Z', null), rl('2026-11-23T11:00:00Z', 3, 100)], undefined, now).limited).toBe(true);
  });

  it('latestUsage prefers the main codex limit over other labelled limits', () => {
    const events = [rl('2026-11-23T09:00:00Z', 30, 3), rl('2026-11-23T09:05:00Z', 99, 99, 'codex_other_model')];
    expect(latestUsage(events, undefined, now).rateLimits?.fiveHour?.usedPercent).toBe(30);
    expect(latestUsage([rl('2026-11-23T09:05:00Z', 99, 99, 'other')], undefined, now).rateLimits?.fiveHour?.usedPercent).toBe(99);
    expect(latestUsage([rl('2026-11-23T09:05:00Z', 7, 7, null)], undefined, now).rateLimits?.fiveHour?.usedPercent).toBe(7);
    // Another limit's room does not lift a usage limit of the main one.
    expect(latestUsage([rl('2026-11-23T09:00:00Z', 100, 3), ul('2026-11-23T09:00:01Z', null), rl('2026-11-23T09:05:00Z', 1, 1, 'other')], undefined, now).limited).toBe(true);
  });

  it('toUsageSnapshot gives a registry snapshot from the session', () => {
    expect(toUsageSnapshot(latestUsage([rl('2026-11-23T09:00:00Z', 30, null)], undefined, now))).toEqual({
      fiveHour: { usedPercent: 30, resetsAt: '2026-11-23T15:00:00.000Z', windowMinutes: 300 },
      weekly: null,
      fetchedAt: '2026-11-23T09:00:00.000Z',
      source: 'session',
    });
    expect(toUsageSnapshot(latestUsage([], undefined, now))).toBeNull();
  });
});

// ============================================================================== sessions by id

describe('newestSessionId / rolloutPathForSession', () => {
  it('gives the session_meta id of the newest file, or null when it started before since', () => {
    const h = home();
    writeRollout(h, rolloutRel(new Date('2026-11-22T10:00:00Z'), uuid(1)), lines(metaLine('2026-11-22T10:00:00.000Z', uuid(1))));
    const newestRel = rolloutRel(new Date('2026-11-23T01:19:58Z'), REAL_SESSION_ID);
    writeRollout(h, newestRel, lines(REAL_META, REAL_TOKEN_COUNT_LIMIT));
    expect(newestSessionId(h)).toBe(REAL_SESSION_ID);
    expect(newestSession(h)).toMatchObject({ id: REAL_SESSION_ID, creatorAccountId: 'acct-dan', startedAt: new Date('2026-11-23T01:19:58.584Z') });
    expect(newestSessionId(h, new Date('2026-11-23T01:19:00Z'))).toBe(REAL_SESSION_ID);
    expect(newestSessionId(h, new Date('2026-11-23T01:20:00Z'))).toBeNull();
  });

  it('falls back to the id in the file name when the first line is unusable', () => {
    const h = home();
    writeRollout(h, rolloutRel(new Date('2026-11-23T01:00:00Z'), uuid(4)), '{"truncated');
    expect(newestSessionId(h)).toBe(uuid(4));
  });

  it('finds the file of a UUIDv7 session by listing only its day directories', () => {
    const h = home();
    const rel = rolloutRel(new Date('2026-11-23T01:19:58Z'), REAL_SESSION_ID);
    const file = writeRollout(h, rel, lines(REAL_META));
    writeRollout(h, rolloutRel(new Date('2026-11-24T01:00:00Z'), uuid(1)), '');
    writeRollout(h, rolloutRel(new Date('2019-01-01T01:00:00Z'), uuid(2)), '');
    const c = countingFs(h);
    expect(rolloutPathForSession(h, REAL_SESSION_ID, { fs: c.fs })).toBe(file);
    expect(c.log.readdir.every((d) => /^sessions\/2026\/11\/2[234]$/.test(d))).toBe(true);
    expect(rolloutPathForSession(h, '01a205fd-0000-7000-8000-000000000000')).toBeNull();
    // Not a UUIDv7: searched among the newest files.
    expect(rolloutPathForSession(h, uuid(1))).toMatch(/rollout-2026-11-24T01-00-00-/);
  });
});
