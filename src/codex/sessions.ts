/**
 * Codex session logs (CODEX-FACTS.md §5, §8): `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl`, one
 * JSON object per line. From them codex-auth learns, without any network call, the rate-limit windows
 * Codex last saw (`token_count` lines), when a usage limit stopped a turn (`task_complete` with
 * `error.codex_error_info: "usage_limit_exceeded"`), and the id of the newest session (`session_meta`).
 *
 * Two layers:
 * - Pure parsing (`parseRolloutLine`, `eventsFromLines`, `splitCompleteLines`, `eventsForAccount`,
 *   `latestUsage`): no I/O, unit-testable on strings.
 * - File access through an injectable `SessionFs`: only the newest year/month/day directories are
 *   listed (descending names, stopping as soon as enough files are found or directories fall before a
 *   cutoff), and files are read incrementally from byte offsets kept in a serializable `SessionCursor`.
 *   The cost never grows with the size of the history.
 *
 * Observed with Codex 0.169.0 (see test/e2e/sessions-real.test.ts):
 * - File names are `rollout-<local YYYY-MM-DDThh-mm-ss>-<session id>.jsonl` in a directory of the
 *   same local date, so names sort by creation time. Session ids are UUIDv7 (creation time in ms).
 * - `codex exec resume <id>` appends to the ORIGINAL file (possibly in an old day directory) and
 *   writes no new `session_meta`. Use `rolloutPathForSession` + `extraFiles` to follow such a file.
 * - API-key sessions have no `creator_account_id` in `session_meta`; a resumed session may run under
 *   another account than its creator, so attribution is by time (`eventsForAccount`), never by it.
 */
import { closeSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../errors.js';
import type { UsageSnapshot, UsageWindow } from '../domain/types.js';

// ------------------------------------------------------------------------------------------ types

export interface RateLimitsEvent {
  kind: 'rate_limits';
  /** The line's timestamp. */
  at: Date;
  fiveHour: UsageWindow | null;
  weekly: UsageWindow | null;
  /** `rate_limits.limit_id` (`"codex"` in 0.169.0), null when absent. */
  limitId: string | null;
  /** Absolute path of the rollout file. */
  file: string;
  sessionId: string | null;
}

export interface UsageLimitEvent {
  kind: 'usage_limit';
  at: Date;
  /** When the exhausted window resets (ISO): from the error itself, else from the exhausted window(s) of the last `token_count` of the same file. */
  resetsAt: string | null;
  /** Codex's message ("You've hit your usage limit ..."), when present. */
  message: string | null;
  file: string;
  sessionId: string | null;
}

export type SessionEvent = RateLimitsEvent | UsageLimitEvent;

/** What one rollout line means to codex-auth (file-independent). */
export type RolloutRecord =
  | {
      kind: 'session_meta';
      at: Date | null;
      sessionId: string;
      /** ChatGPT ids of the account that CREATED the session (absent for API keys). Not the account of later turns. */
      creatorAccountId: string | null;
      creatorUserId: string | null;
      cliVersion: string | null;
    }
  | { kind: 'rate_limits'; at: Date; fiveHour: UsageWindow | null; weekly: UsageWindow | null; limitId: string | null }
  | { kind: 'usage_limit'; at: Date; resetsAt: string | null; message: string | null };

/** Per-file parsing state carried between incremental reads (JSON-serializable). */
export interface FileParseState {
  sessionId: string | null;
  /** Reset time of the windows the file's last `token_count` showed exhausted (≥ 100 %), else null. */
  exhaustedResetsAt: string | null;
}

/** Where a watch loop stands in one rollout file. */
export interface FileCursor extends FileParseState {
  /** Byte offset of the first line not consumed yet (always the start of a line). */
  offset: number;
  /** Inode when read (0 when the platform has none): a different one means the file was replaced. */
  ino: number;
}

/** Serializable position of a watch loop over a CODEX_HOME's session logs. */
export interface SessionCursor {
  version: 1;
  /** False until the first `readNewEvents`: the first scan decides what "already there" means. */
  scanned: boolean;
  /** Path (relative to `sessions/`, `/`-separated) of the newest rollout seen; newer names are new files. */
  newest: string | null;
  /** Keyed by path relative to `sessions/` (`2026/11/23/rollout-….jsonl`), or absolute for files outside it. */
  files: Record<string, FileCursor>;
}

// ------------------------------------------------------------------------------- pure: line parsing

const FIVE_HOUR_MINUTES = 300;
const WEEKLY_MINUTES = 10080;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

function finite(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function parseTime(v: unknown): Date | null {
  if (typeof v !== 'string') return null;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? null : new Date(ms);
}

function isoOrNull(ms: number | null): string | null {
  if (ms === null || !Number.isFinite(ms)) return null;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/**
 * An absolute reset time from the shapes Codex has used: `resets_at` as unix seconds (0.169.0), unix
 * milliseconds or an ISO string; else a relative `resets_in_seconds` / `reset_after_seconds` (older
 * builds), counted from `at` (the line's timestamp).
 */
export function resetTime(obj: Record<string, unknown>, at: Date): string | null {
  const abs = obj.resets_at ?? obj.reset_at;
  if (typeof abs === 'number' && Number.isFinite(abs)) return isoOrNull(abs > 1e12 ? abs : abs * 1000);
  if (typeof abs === 'string') {
    const n = Number(abs);
    if (abs.trim() !== '' && Number.isFinite(n)) return isoOrNull(n > 1e12 ? n : n * 1000);
    const t = parseTime(abs);
    if (t) return t.toISOString();
  }
  const rel = finite(obj.resets_in_seconds) ?? finite(obj.reset_after_seconds);
  if (rel !== null) return isoOrNull(at.getTime() + rel * 1000);
  return null;
}

/** Which slot a window of this length fills: 300 → fiveHour, 10080 → weekly, else ≤ 1 day → fiveHour. */
export function slotForMinutes(minutes: number): 'fiveHour' | 'weekly' {
  if (minutes === FIVE_HOUR_MINUTES) return 'fiveHour';
  if (minutes === WEEKLY_MINUTES) return 'weekly';
  return minutes <= 1440 ? 'fiveHour' : 'weekly';
}

function windowOf(raw: unknown, at: Date): UsageWindow | null {
  if (!isObject(raw)) return null;
  const usedPercent = finite(raw.used_percent);
  if (usedPercent === null) return null;
  const minutes = finite(raw.window_minutes);
  return { usedPercent, resetsAt: resetTime(raw, at), windowMinutes: minutes };
}

/**
 * Map a `rate_limits` object to the fiveHour/weekly slots by window length (position only when the
 * length is unknown: primary → fiveHour, secondary → weekly). Returns null when it holds no window.
 * Also accepts the oldest flat shape (`primary_used_percent`, `primary_window_minutes`, ...).
 */
export function mapRateLimits(raw: unknown, at: Date): { fiveHour: UsageWindow | null; weekly: UsageWindow | null } | null {
  if (!isObject(raw)) return null;
  const candidates: { w: UsageWindow; fallback: 'fiveHour' | 'weekly' }[] = [];
  for (const [name, fallback] of [['primary', 'fiveHour'], ['secondary', 'weekly']] as const) {
    let w: UsageWindow | null;
    if (name in raw) {
      w = windowOf(raw[name], at);
    } else {
      // Flat shape of early builds.
      w = windowOf(
        {
          used_percent: raw[`${name}_used_percent`],
          window_minutes: raw[`${name}_window_minutes`],
          resets_in_seconds: raw[`${name}_reset_after_seconds`],
        },
        at,
      );
    }
    if (w) candidates.push({ w, fallback });
  }
  if (candidates.length === 0) return null;
  const out: { fiveHour: UsageWindow | null; weekly: UsageWindow | null } = { fiveHour: null, weekly: null };
  for (const { w, fallback } of candidates) {
    const slot = w.windowMinutes != null ? slotForMinutes(w.windowMinutes) : fallback;
    out[slot] ??= w; // two windows of one length: the primary one wins
  }
  return out;
}

/** `usage_limit_exceeded` (snake, from rollouts) or `usageLimitExceeded` (app-server), bare or as `{name: details}`. */
function isUsageLimitInfo(info: unknown): boolean {
  const norm = (s: string): string => s.replaceAll('_', '').toLowerCase();
  if (typeof info === 'string') return norm(info) === 'usagelimitexceeded';
  if (isObject(info)) return Object.keys(info).some((k) => norm(k) === 'usagelimitexceeded');
  return false;
}

/** The usage-limit error a payload carries, or null. */
function usageLimitOf(payload: Record<string, unknown>, at: Date): { resetsAt: string | null; message: string | null } | null {
  const err = isObject(payload.error) ? payload.error : null;
  const hit =
    isUsageLimitInfo(payload.codex_error_info) ||
    (err !== null &&
      (isUsageLimitInfo(err.codex_error_info) || err.type === 'usage_limit_reached' || err.code === 'usage_limit_reached')) ||
    // Builds before codex_error_info: an `error` event with Codex's wording.
    (payload.type === 'error' && typeof payload.message === 'string' && /hit your usage limit/i.test(payload.message));
  if (!hit) return null;
  const message = str(err?.message) ?? str(payload.message);
  const details = [err, isObject(err?.codex_error_info) ? err.codex_error_info : null, isObject(payload.codex_error_info) ? payload.codex_error_info : null];
  let resetsAt: string | null = null;
  for (const d of details) {
    if (!d) continue;
    resetsAt = resetTime(d, at);
    if (resetsAt) break;
    // `{usage_limit_exceeded: {resets_at: ...}}`
    for (const v of Object.values(d)) {
      if (isObject(v)) resetsAt ??= resetTime(v, at);
    }
    if (resetsAt) break;
  }
  return { resetsAt, message };
}

/**
 * What one line of a rollout file means, or null for anything else: malformed JSON, a non-object,
 * unknown types, a missing timestamp. Never throws.
 */
export function parseRolloutLine(line: string): RolloutRecord | null {
  // Cheap pre-filter: most lines are large response items that cannot matter.
  if (!line.includes('event_msg') && !line.includes('session_meta')) return null;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isObject(v) || !isObject(v.payload)) return null;
  const payload = v.payload;
  const at = parseTime(v.timestamp);
  if (v.type === 'session_meta') {
    const sessionId = str(payload.id) ?? str(payload.session_id);
    if (sessionId === null) return null;
    return {
      kind: 'session_meta',
      at: at ?? parseTime(payload.timestamp),
      sessionId,
      creatorAccountId: str(payload.creator_account_id),
      creatorUserId: str(payload.creator_user_id),
      cliVersion: str(payload.cli_version),
    };
  }
  if (v.type !== 'event_msg' || at === null) return null;
  if (payload.type === 'token_count') {
    const limits = mapRateLimits(payload.rate_limits, at);
    if (!limits) return null;
    const limitId = isObject(payload.rate_limits) ? str(payload.rate_limits.limit_id) : null;
    return { kind: 'rate_limits', at, ...limits, limitId };
  }
  const hit = usageLimitOf(payload, at);
  return hit ? { kind: 'usage_limit', at, ...hit } : null;
}

/** The reset time of the windows shown exhausted (the latest of them: all must reset), else null. */
function exhaustedResetsAt(fiveHour: UsageWindow | null, weekly: UsageWindow | null): string | null {
  let best: string | null = null;
  for (const w of [fiveHour, weekly]) {
    if (w && w.usedPercent >= 100 && w.resetsAt !== null && (best === null || w.resetsAt > best)) best = w.resetsAt;
  }
  return best;
}

/** The session id embedded in a rollout file name (`rollout-<time>-<uuid>.jsonl`), or null. */
export function sessionIdFromName(name: string): string | null {
  const m = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.jsonl$/i.exec(name);
  return m?.[1]?.toLowerCase() ?? null;
}

export function initialParseState(file: string): FileParseState {
  return { sessionId: sessionIdFromName(path.basename(file)), exhaustedResetsAt: null };
}

/**
 * Turn complete lines of one rollout file into events. `state` carries what earlier lines of the same
 * file established (session id, the last exhausted window); the returned state continues it.
 */
export function eventsFromLines(
  lines: Iterable<string>,
  file: string,
  state: FileParseState = initialParseState(file),
): { events: SessionEvent[]; state: FileParseState } {
  const events: SessionEvent[] = [];
  let st = { ...state };
  for (const line of lines) {
    const rec = parseRolloutLine(line);
    if (!rec) continue;
    if (rec.kind === 'session_meta') {
      st = { ...st, sessionId: rec.sessionId };
    } else if (rec.kind === 'rate_limits') {
      st = { ...st, exhaustedResetsAt: exhaustedResetsAt(rec.fiveHour, rec.weekly) };
      events.push({ ...rec, file, sessionId: st.sessionId });
    } else {
      events.push({ ...rec, resetsAt: rec.resetsAt ?? st.exhaustedResetsAt, file, sessionId: st.sessionId });
    }
  }
  return { events, state: st };
}

/**
 * Split bytes into complete lines. Bytes after the last `\n` (a line Codex is still writing) are not
 * consumed: `consumed` is the byte count up to and including the last newline.
 */
export function splitCompleteLines(buf: Uint8Array): { lines: string[]; consumed: number } {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const lines: string[] = [];
  let start = 0;
  for (let nl = b.indexOf(10, start); nl !== -1; nl = b.indexOf(10, start)) {
    lines.push(b.toString('utf8', start, nl));
    start = nl + 1;
  }
  return { lines, consumed: start };
}

// --------------------------------------------------------------------------- pure: attribution

/** Events at or after the moment the account became active; earlier ones belong to another account. */
export function eventsForAccount<E extends SessionEvent>(events: readonly E[], activeSince: Date): E[] {
  const t = activeSince.getTime();
  return events.filter((e) => e.at.getTime() >= t);
}

export interface LatestUsage {
  /** The newest rate-limit snapshot (of the `codex` limit when limits are labelled), or null. */
  rateLimits: RateLimitsEvent | null;
  /** The newest usage-limit event, or null. */
  usageLimit: UsageLimitEvent | null;
  /**
   * Whether the account is still blocked as far as the logs tell: a usage limit was hit, no later
   * snapshot shows every window below 100 %, and its reset time (when known) is still ahead of `now`.
   */
  limited: boolean;
}

function newest<E extends SessionEvent>(events: readonly E[]): E | null {
  let best: E | null = null;
  for (const e of events) if (best === null || e.at.getTime() >= best.at.getTime()) best = e;
  return best;
}

/**
 * The newest rate-limit windows and usage-limit event, considering only events at or after
 * `activeSince` when given (pass the time the account became active).
 */
export function latestUsage(events: readonly SessionEvent[], activeSince?: Date, now: Date = new Date()): LatestUsage {
  const mine = activeSince ? eventsForAccount(events, activeSince) : [...events];
  const limits = mine.filter((e): e is RateLimitsEvent => e.kind === 'rate_limits');
  const main = limits.filter((e) => e.limitId === null || e.limitId === 'codex');
  const pool = main.length > 0 ? main : limits;
  const rateLimits = newest(pool);
  const usageLimit = newest(mine.filter((e): e is UsageLimitEvent => e.kind === 'usage_limit'));
  let limited = usageLimit !== null;
  if (usageLimit) {
    const cleared = pool.some(
      (e) =>
        e.at.getTime() > usageLimit.at.getTime() &&
        [e.fiveHour, e.weekly].every((w) => w === null || w.usedPercent < 100) &&
        (e.fiveHour !== null || e.weekly !== null),
    );
    const expired = usageLimit.resetsAt !== null && Date.parse(usageLimit.resetsAt) <= now.getTime();
    limited = !cleared && !expired;
  }
  return { rateLimits, usageLimit, limited };
}

/** A registry usage snapshot (`source: 'session'`) from the newest rate limits, or null. */
export function toUsageSnapshot(latest: LatestUsage): UsageSnapshot | null {
  const r = latest.rateLimits;
  if (!r) return null;
  return { fiveHour: r.fiveHour, weekly: r.weekly, fetchedAt: r.at.toISOString(), source: 'session' };
}

// ------------------------------------------------------------------------------------ file access

/** The few file-system calls this module makes; injectable to count or fail them in tests. */
export interface SessionFs {
  readdir(dir: string): string[];
  stat(file: string): { size: number; ino: number };
  open(file: string): number;
  read(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  close(fd: number): void;
}

export const nodeSessionFs: SessionFs = {
  readdir: (dir) => readdirSync(dir),
  stat: (file) => {
    const st = statSync(file);
    if (!st.isFile()) throw Object.assign(new Error(`${file} is not a file`), { code: 'EISDIR' });
    return { size: st.size, ino: st.ino };
  },
  open: (file) => openSync(file, 'r'),
  read: (fd, buffer, offset, length, position) => readSync(fd, buffer, offset, length, position),
  close: (fd) => closeSync(fd),
};

export function sessionsDir(codexHome: string): string {
  return path.join(codexHome, 'sessions');
}

export interface RolloutFile {
  /** Absolute path. */
  path: string;
  /** Relative to `sessions/`, `/`-separated: the cursor key. */
  rel: string;
  name: string;
}

/** Directory names are local dates of an unknown zone: allow the widest offsets (UTC−12 … UTC+14). */
const ZONE_BEHIND_MS = 12 * 3600_000;
const ZONE_AHEAD_MS = 14 * 3600_000;
const ROLLOUT_NAME = /^rollout-.*\.jsonl$/;
const CHUNK = 1 << 20;

function listNames(fsx: SessionFs, dir: string, pattern: RegExp): string[] {
  let names: string[];
  try {
    names = fsx.readdir(dir);
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES' || code === 'EPERM') return [];
    throw e;
  }
  return names.filter((n) => pattern.test(n)).sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
}

/**
 * Day directories, newest first, lazily: each year/month directory is listed only when the walk gets
 * there, and the walk ends at the first directory whose every file was created before `cutoffMs`
 * (a local date of any zone; all later ones are older still).
 */
function* dayDirs(fsx: SessionFs, root: string, cutoffMs: number | null): Generator<{ dir: string; rel: string }> {
  // End of a local period, read as UTC, plus the widest zone offset behind UTC.
  const tooOld = (y: number, m: number, d: number): boolean => cutoffMs !== null && Date.UTC(y, m, d) + ZONE_BEHIND_MS < cutoffMs;
  for (const y of listNames(fsx, root, /^\d{4}$/)) {
    const yn = Number(y);
    if (tooOld(yn + 1, 0, 1)) return;
    const ydir = path.join(root, y);
    for (const m of listNames(fsx, ydir, /^\d{2}$/)) {
      const mn = Number(m) - 1;
      if (tooOld(yn, mn + 1, 1)) return;
      const mdir = path.join(ydir, m);
      for (const d of listNames(fsx, mdir, /^\d{2}$/)) {
        if (tooOld(yn, mn, Number(d) + 1)) return;
        yield { dir: path.join(mdir, d), rel: `${y}/${m}/${d}` };
      }
    }
  }
}

/** Local wall-clock time in a rollout name, read as UTC (its zone is unknown), in ms; null if absent. */
function nameTimeMs(name: string): number | null {
  const m = /^rollout-(\d{4})-(\d{2})-(\d{2})T(\d{2})-(\d{2})-(\d{2})/.exec(name);
  if (!m) return null;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

export interface ListRolloutsOptions {
  /** Stop after this many files (default 16). */
  limit?: number;
  /** Skip files created before this instant (judged by name, allowing for any time zone). */
  since?: Date;
  /** Stop at the first file whose name is not newer than this one's (a cursor's `newest`). */
  after?: string | null;
  fs?: SessionFs;
}

/**
 * The newest rollout files, newest first, touching only the directories needed: years, months and
 * days are listed in descending order and the walk stops as soon as `limit` files are found, a day
 * falls before `since`, or a name is not newer than `after`.
 */
export function listRecentRollouts(codexHome: string, opts: ListRolloutsOptions = {}): RolloutFile[] {
  const fsx = opts.fs ?? nodeSessionFs;
  const limit = opts.limit ?? 16;
  const root = sessionsDir(codexHome);
  const sinceMs = opts.since?.getTime() ?? null;
  const afterName = opts.after ? path.posix.basename(opts.after) : null;
  const out: RolloutFile[] = [];
  if (limit <= 0) return out;
  for (const day of dayDirs(fsx, root, sinceMs)) {
    for (const name of listNames(fsx, day.dir, ROLLOUT_NAME)) {
      if (afterName !== null && name <= afterName) return out;
      const t = nameTimeMs(name);
      if (sinceMs !== null && t !== null && t + ZONE_BEHIND_MS < sinceMs) return out;
      out.push({ path: path.join(day.dir, name), rel: `${day.rel}/${name}`, name });
      if (out.length >= limit) return out;
    }
  }
  return out;
}

export function emptyCursor(): SessionCursor {
  return { version: 1, scanned: false, newest: null, files: {} };
}

/** A cursor read back from JSON; anything unusable yields a fresh cursor (the next read rescans). */
export function parseSessionCursor(v: unknown): SessionCursor {
  if (!isObject(v) || v.version !== 1 || !isObject(v.files)) return emptyCursor();
  const files: Record<string, FileCursor> = {};
  for (const [k, f] of Object.entries(v.files)) {
    if (!isObject(f)) continue;
    const offset = finite(f.offset);
    if (offset === null || offset < 0 || !Number.isInteger(offset)) continue;
    files[k] = {
      offset,
      ino: finite(f.ino) ?? 0,
      sessionId: str(f.sessionId),
      exhaustedResetsAt: str(f.exhaustedResetsAt),
    };
  }
  return { version: 1, scanned: v.scanned === true, newest: str(v.newest), files };
}

export interface ReadEventsOptions {
  fs?: SessionFs;
  /** How many of the newest files to discover and keep following (default 16). */
  maxFiles?: number;
  /** Ignore files created and events timestamped before this instant. */
  since?: Date;
  /**
   * On the first read of a fresh cursor, start each existing file this many bytes before its end
   * (at a line start): 0 reports only what is appended later. Default: read existing files whole.
   * Files that appear after the first read are always read from their beginning.
   */
  initialTailBytes?: number;
  /** Absolute paths to follow as well, wherever they are (e.g. the file of a resumed session). */
  extraFiles?: readonly string[];
}

/** Read `[start, end)` of an open file and return the events of its complete lines. */
function readRange(
  fsx: SessionFs,
  fd: number,
  start: number,
  end: number,
  file: string,
  state: FileParseState,
): { events: SessionEvent[]; state: FileParseState; consumed: number } {
  const events: SessionEvent[] = [];
  let st = state;
  let consumed = 0;
  let carry: Buffer = Buffer.alloc(0);
  let pos = start;
  while (pos < end) {
    const want = Math.min(CHUNK, end - pos);
    const buf = Buffer.allocUnsafe(want);
    const n = fsx.read(fd, buf, 0, want, pos);
    if (n <= 0) break;
    pos += n;
    const data = carry.length > 0 ? Buffer.concat([carry, buf.subarray(0, n)]) : buf.subarray(0, n);
    const { lines, consumed: used } = splitCompleteLines(data);
    const r = eventsFromLines(lines, file, st);
    events.push(...r.events);
    st = r.state;
    consumed += used;
    carry = Buffer.from(data.subarray(used));
  }
  return { events, state: st, consumed };
}

/** Start of the line containing byte `pos` (`pos` itself when a newline precedes it). */
function lineStartAtOrBefore(fsx: SessionFs, fd: number, pos: number): number {
  let end = pos;
  while (end > 0) {
    const begin = Math.max(0, end - 65536);
    const buf = Buffer.allocUnsafe(end - begin);
    const n = fsx.read(fd, buf, 0, end - begin, begin);
    const i = buf.subarray(0, n).lastIndexOf(10);
    if (i !== -1) return begin + i + 1;
    end = begin;
  }
  return 0;
}

/** The first line of a file (bounded), or null when there is none within `max` bytes. */
function readFirstLine(fsx: SessionFs, fd: number, max = 4 << 20): string | null {
  const parts: Buffer[] = [];
  let pos = 0;
  while (pos < max) {
    const buf = Buffer.allocUnsafe(Math.min(65536, max - pos));
    const n = fsx.read(fd, buf, 0, buf.length, pos);
    if (n <= 0) return null;
    const i = buf.subarray(0, n).indexOf(10);
    if (i !== -1) {
      parts.push(buf.subarray(0, i));
      return Buffer.concat(parts).toString('utf8');
    }
    parts.push(buf.subarray(0, n));
    pos += n;
  }
  return null;
}

function keyFor(root: string, file: string): string {
  const rel = path.relative(root, file);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return path.resolve(file);
  return rel.split(path.sep).join('/');
}

function pathFor(root: string, key: string): string {
  return path.isAbsolute(key) ? key : path.join(root, ...key.split('/'));
}

const byNameDesc = (a: string, b: string): number => {
  const na = path.posix.basename(a.replaceAll('\\', '/'));
  const nb = path.posix.basename(b.replaceAll('\\', '/'));
  return na < nb ? 1 : na > nb ? -1 : 0;
};

/**
 * Events appended since `cursor`, and the cursor to pass next time. Cost: a handful of directory
 * listings (the newest day, or the few days since the cursor's newest file), one stat per followed
 * file, and reads of the new bytes only. A file that shrank or was replaced is read again from 0.
 * The given cursor is not modified.
 */
export function readNewEvents(
  codexHome: string,
  cursor: SessionCursor,
  opts: ReadEventsOptions = {},
): { events: SessionEvent[]; cursor: SessionCursor } {
  const fsx = opts.fs ?? nodeSessionFs;
  const maxFiles = opts.maxFiles ?? 16;
  const root = sessionsDir(codexHome);
  const fresh = !cursor.scanned;
  const discoverOpts: ListRolloutsOptions = { limit: maxFiles, after: fresh ? null : cursor.newest, fs: fsx };
  if (opts.since) discoverOpts.since = opts.since;
  const discovered = listRecentRollouts(codexHome, discoverOpts);

  let newestKey = cursor.newest;
  for (const f of discovered) if (newestKey === null || byNameDesc(f.rel, newestKey) < 0) newestKey = f.rel;

  const extra = new Set((opts.extraFiles ?? []).map((f) => keyFor(root, f)));
  const known = new Map(Object.entries(cursor.files));
  const candidates = new Set<string>([...known.keys(), ...discovered.map((f) => f.rel)]);
  // Follow the newest `maxFiles` (plus the extra ones); older known files are dropped.
  const followed = [...candidates].filter((k) => !extra.has(k)).sort(byNameDesc).slice(0, maxFiles);
  const keys = [...new Set([...followed, ...extra])];

  const files: Record<string, FileCursor> = {};
  const events: SessionEvent[] = [];
  for (const key of keys) {
    const file = pathFor(root, key);
    let st: { size: number; ino: number };
    try {
      st = fsx.stat(file);
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'EACCES' || code === 'EPERM') continue;
      throw e;
    }
    const prev = known.get(key);
    let cur: FileCursor;
    let tailStart: number | null = null;
    if (prev && !(prev.offset > st.size || (prev.ino !== 0 && st.ino !== 0 && prev.ino !== st.ino))) {
      cur = { ...prev, ino: st.ino };
    } else {
      // New, shrunk (truncated/rotated) or replaced: from the beginning, with a fresh parse state.
      cur = { offset: 0, ino: st.ino, ...initialParseState(file) };
      if (!prev && fresh && opts.initialTailBytes !== undefined && st.size > opts.initialTailBytes) tailStart = st.size - opts.initialTailBytes;
    }
    if (cur.offset === st.size && tailStart === null) {
      files[key] = cur;
      continue;
    }
    let fd: number;
    try {
      fd = fsx.open(file);
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'ENOENT' || code === 'EACCES' || code === 'EPERM') continue;
      throw e;
    }
    try {
      if (tailStart !== null) {
        cur.offset = lineStartAtOrBefore(fsx, fd, tailStart);
        // The session id normally comes from the first line; read it on its own.
        const first = readFirstLine(fsx, fd);
        const meta = first === null ? null : parseRolloutLine(first);
        if (meta?.kind === 'session_meta') cur.sessionId = meta.sessionId;
      }
      if (st.size > cur.offset) {
        const r = readRange(fsx, fd, cur.offset, st.size, file, cur);
        events.push(...r.events);
        cur = { ...cur, ...r.state, offset: cur.offset + r.consumed };
      }
    } finally {
      fsx.close(fd);
    }
    files[key] = cur;
  }

  const sinceMs = opts.since?.getTime();
  const kept = sinceMs === undefined ? events : events.filter((e) => e.at.getTime() >= sinceMs);
  // Stable: lines of one file keep their order when timestamps tie.
  kept.sort((a, b) => a.at.getTime() - b.at.getTime());
  return { events: kept, cursor: { version: 1, scanned: true, newest: newestKey, files } };
}

/** Events of the newest `maxFiles` rollout files, read whole (or their last `initialTailBytes`). */
export function readRecentEvents(codexHome: string, opts: ReadEventsOptions = {}): SessionEvent[] {
  return readNewEvents(codexHome, emptyCursor(), opts).events;
}

export interface SessionInfo {
  id: string;
  file: string;
  /** When the session started (its `session_meta`), else null. */
  startedAt: Date | null;
  /** From `session_meta`: the ChatGPT account that created it (null for API keys and old builds). */
  creatorAccountId: string | null;
}

/**
 * The most recently created session (by rollout name), optionally only if it started at or after
 * `since`. Reads the newest day directory and the first line of one file.
 */
export function newestSession(codexHome: string, since?: Date, opts: { fs?: SessionFs } = {}): SessionInfo | null {
  const fsx = opts.fs ?? nodeSessionFs;
  const listOpts: ListRolloutsOptions = { limit: 1, fs: fsx };
  if (since) listOpts.since = since;
  const [f] = listRecentRollouts(codexHome, listOpts);
  if (!f) return null;
  let meta: RolloutRecord | null = null;
  try {
    const fd = fsx.open(f.path);
    try {
      const first = readFirstLine(fsx, fd);
      meta = first === null ? null : parseRolloutLine(first);
    } finally {
      fsx.close(fd);
    }
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT' && errnoCode(e) !== 'EACCES') throw e;
  }
  const info: SessionInfo =
    meta?.kind === 'session_meta'
      ? { id: meta.sessionId, file: f.path, startedAt: meta.at, creatorAccountId: meta.creatorAccountId }
      : { id: sessionIdFromName(f.name) ?? '', file: f.path, startedAt: uuidV7Time(sessionIdFromName(f.name) ?? ''), creatorAccountId: null };
  if (info.id === '') return null;
  if (since && info.startedAt && info.startedAt.getTime() < since.getTime()) return null;
  return info;
}

/** The id of the most recently created session (for `codex resume <id>`), or null. */
export function newestSessionId(codexHome: string, since?: Date, opts: { fs?: SessionFs } = {}): string | null {
  return newestSession(codexHome, since, opts)?.id ?? null;
}

/** Creation time embedded in a UUIDv7 (what Codex 0.169.0 uses for session ids), else null. */
export function uuidV7Time(id: string): Date | null {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/i.exec(id);
  if (!m) return null;
  return new Date(parseInt(`${m[1]}${m[2]}`, 16));
}

/**
 * The rollout file of a session (a resumed session keeps appending to it, wherever it is). For a
 * UUIDv7 id only the day directories its creation time can map to (any zone) are listed; other ids
 * are looked for among the newest `maxFiles` files.
 */
export function rolloutPathForSession(codexHome: string, sessionId: string, opts: { fs?: SessionFs; maxFiles?: number } = {}): string | null {
  const fsx = opts.fs ?? nodeSessionFs;
  const id = sessionId.toLowerCase();
  const matches = (name: string): boolean => sessionIdFromName(name) === id;
  const t = uuidV7Time(id);
  if (t) {
    const root = sessionsDir(codexHome);
    const days = new Set<string>();
    // Local date = UTC date shifted by the zone offset: the dates of t+14h, t, t−12h cover every zone.
    for (const shift of [ZONE_AHEAD_MS, 0, -ZONE_BEHIND_MS]) {
      const d = new Date(t.getTime() + shift);
      const p2 = (n: number): string => String(n).padStart(2, '0');
      days.add(`${d.getUTCFullYear()}/${p2(d.getUTCMonth() + 1)}/${p2(d.getUTCDate())}`);
    }
    for (const day of days) {
      const dir = path.join(root, ...day.split('/'));
      const name = listNames(fsx, dir, ROLLOUT_NAME).find(matches);
      if (name) return path.join(dir, name);
    }
    return null;
  }
  return listRecentRollouts(codexHome, { limit: opts.maxFiles ?? 256, fs: fsx }).find((f) => matches(f.name))?.path ?? null;
}
