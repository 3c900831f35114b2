/**
 * Property-based fuzzing (fast-check, fixed seed; FUZZ_SEED / FUZZ_RUNS to change) of everything
 * that reads untrusted text: auth.json parsing and identity, registry loading, session-log lines,
 * and QUERY resolution. Thousands of generated malformed inputs each: never a crash, only the
 * documented error types, messages on one line without a stack trace or a secret.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/services/deps.js';
import { eventsFromLines, latestUsage, parseRolloutLine, toUsageSnapshot } from '../../src/codex/sessions.js';
import { AuthFileError, chatgptIdentity, parseAuthJson, serializeAuth } from '../../src/domain/authfile.js';
import { numbered, resolveQuery } from '../../src/domain/view.js';
import { CliError } from '../../src/errors.js';
import { selectAccount } from '../../src/services/select.js';
import { type Paths, resolvePaths } from '../../src/store/paths.js';
import { RegistryStore } from '../../src/store/registry.js';
import { type Account, emptyRegistry, Registry, UsageSnapshot } from '../../src/store/registry-schema.js';

const SEED = Number(process.env.FUZZ_SEED) || 20261123;
const RUNS = Number(process.env.FUZZ_RUNS) || 0;
const runs = (n: number) => ({ seed: SEED, numRuns: RUNS || n });

/** A message a user may see: one line, no stack trace, bounded, and no secret in it. */
function expectCleanMessage(msg: string, forbidden: readonly string[] = [], maxLength = 400): void {
  expect(typeof msg).toBe('string');
  expect(msg.length).toBeGreaterThan(0);
  expect(msg.length).toBeLessThan(maxLength);
  expect(msg, 'one line').not.toMatch(/[\r\n]/);
  expect(msg, 'no stack trace').not.toMatch(/\bat .*:\d+:\d+|^\s*at /m);
  for (const s of forbidden) if (s.length >= 12) expect(msg.includes(s), `message leaks ${s.slice(0, 6)}…`).toBe(false);
}

// ------------------------------------------------------------------------------------ generators

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v) ?? 'null', 'utf8').toString('base64url');
const anyString = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }));
const junk = fc.oneof(fc.jsonValue(), anyString, fc.constantFrom('', ' ', '\n', '0', '-1', 'null', '1e400', '\u0000', '\u202e'));
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const iso = fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4102444800000) }).map((d) => d.toISOString());

const claims = fc.record(
  {
    email: fc.oneof(fc.emailAddress(), junk),
    'https://api.openai.com/profile': fc.oneof(fc.record({ email: fc.oneof(fc.emailAddress(), junk) }), junk),
    'https://api.openai.com/auth': fc.oneof(
      fc.record(
        {
          chatgpt_user_id: fc.oneof(fc.string({ minLength: 1 }), junk),
          user_id: fc.oneof(fc.string({ minLength: 1 }), junk),
          chatgpt_account_id: fc.oneof(fc.uuid(), junk),
          chatgpt_plan_type: fc.oneof(fc.constantFrom('plus', 'pro', 'team', 'free', 'enterprise', 'hc', 'edu'), junk),
          organizations: fc.oneof(fc.array(fc.record({ id: fc.oneof(fc.uuid(), junk), is_default: fc.oneof(fc.boolean(), junk), title: junk }, { requiredKeys: [] }), { maxLength: 3 }), junk),
        },
        { requiredKeys: [] },
      ),
      junk,
    ),
    exp: fc.oneof(fc.integer(), fc.double(), junk),
  },
  { requiredKeys: [] },
);

/** JWT-ish tokens: well-formed with random claims, and every way of not being one. */
const jwt = fc.oneof(
  { weight: 4, arbitrary: claims.map((c) => `${b64({ alg: 'RS256' })}.${b64(c)}.${b64('sig')}`) },
  { weight: 1, arbitrary: fc.jsonValue().map((v) => `${b64({})}.${b64(v)}.s`) },
  { weight: 1, arbitrary: anyString.map((s) => `h.${Buffer.from(s).toString('base64url')}.s`) },
  { weight: 1, arbitrary: fc.array(anyString, { maxLength: 5 }).map((p) => p.join('.')) },
  { weight: 1, arbitrary: junk },
);

const chatgptDoc = fc.record(
  {
    auth_mode: fc.oneof(fc.constantFrom('chatgpt', 'apikey', 'agent', undefined), junk),
    OPENAI_API_KEY: fc.oneof(fc.constant(null), fc.string().map((s) => `sk-${s}`), junk),
    tokens: fc.oneof(
      { weight: 5, arbitrary: fc.record({ id_token: jwt, access_token: jwt, refresh_token: fc.oneof(fc.string().map((s) => `rt_${s}`), junk), account_id: fc.oneof(fc.uuid(), junk) }, { requiredKeys: [] }) },
      { weight: 1, arbitrary: junk },
    ),
    last_refresh: fc.oneof(iso, fc.constant(''), junk),
    agent_identity: fc.jsonValue(),
  },
  { requiredKeys: [] },
);

const FIELDS = ['auth_mode', 'OPENAI_API_KEY', 'tokens', 'last_refresh', 'tokens.id_token', 'tokens.access_token', 'tokens.refresh_token', 'tokens.account_id', 'unknown_field'] as const;

type Mutation =
  | { op: 'set'; field: (typeof FIELDS)[number]; value: unknown }
  | { op: 'delete'; field: (typeof FIELDS)[number] }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; text: string }
  | { op: 'flip'; at: number; char: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), field: fc.constantFrom(...FIELDS), value: fc.oneof(fc.jsonValue(), anyString) }),
  fc.record({ op: fc.constant('delete' as const), field: fc.constantFrom(...FIELDS) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(anyString, fc.constantFrom('{', '}', '"', ',', '\\', '\u0000', '\ufeff')) }),
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), char: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) }),
);

/** Apply mutations: field edits on the object, then text edits on its serialization. */
function mutate(doc: Record<string, unknown>, ms: readonly Mutation[]): string {
  const d = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
  for (const m of ms) {
    if (m.op !== 'set' && m.op !== 'delete') continue;
    const [a, b] = m.field.split('.') as [string, string | undefined];
    const holder = b === undefined ? d : d[a];
    if (typeof holder !== 'object' || holder === null || Array.isArray(holder)) continue;
    const key = b ?? a;
    if (m.op === 'set') (holder as Record<string, unknown>)[key] = m.value;
    else delete (holder as Record<string, unknown>)[key];
  }
  let text = JSON.stringify(d, null, 2);
  for (const m of ms) {
    const at = 'at' in m ? m.at % (text.length + 1) : 0;
    if (m.op === 'truncate') text = text.slice(0, at);
    else if (m.op === 'insert') text = text.slice(0, at) + m.text + text.slice(at);
    else if (m.op === 'flip') text = text.slice(0, at) + m.char + text.slice(at + 1);
  }
  return text;
}

/** Secrets a document carries (tokens, the key): never to be echoed in an error. */
function secretsOf(text: string): string[] {
  try {
    const d = JSON.parse(text) as Record<string, unknown>;
    const t = (typeof d.tokens === 'object' && d.tokens !== null ? d.tokens : {}) as Record<string, unknown>;
    return [d.OPENAI_API_KEY, t.id_token, t.access_token, t.refresh_token].filter((s): s is string => typeof s === 'string');
  } catch {
    return [];
  }
}

function checkAuthText(text: string): 'rejected' | 'accepted' | 'no identity' {
  const forbidden = secretsOf(text);
  let p;
  try {
    p = parseAuthJson(text);
  } catch (e) {
    expect(e, `parseAuthJson threw ${String(e)}`).toBeInstanceOf(AuthFileError);
    expectCleanMessage((e as Error).message, forbidden);
    return 'rejected';
  }
  expect(['apikey', 'chatgpt']).toContain(p.mode);
  if (p.mode === 'apikey') expect(typeof p.apiKey === 'string' && p.apiKey.length > 0).toBe(true);
  else expect(p.tokens).not.toBeNull();
  // Unknown fields survive a round trip untouched.
  expect(JSON.stringify(parseAuthJson(serializeAuth(p.raw)).raw)).toBe(JSON.stringify(p.raw));
  if (p.mode !== 'chatgpt') return 'accepted';
  try {
    const id = chatgptIdentity(p);
    expect(id.id).toBe(`chatgpt::${id.userId}::${id.accountId}`);
    expect(id.userId.trim()).not.toBe('');
    expect(id.accountId.trim()).not.toBe('');
    expect(typeof id.plan).toBe('string');
    expect(id.email === null || typeof id.email === 'string').toBe(true);
    expect(id.accessTokenExpiresAt === null || Number.isFinite(id.accessTokenExpiresAt)).toBe(true);
    return 'accepted';
  } catch (e) {
    expect(e, `chatgptIdentity threw ${String(e)}`).toBeInstanceOf(AuthFileError);
    expectCleanMessage((e as Error).message, forbidden);
    return 'no identity';
  }
}

// ------------------------------------------------------------------------------------------ auth.json

describe('fuzz: auth.json parsing and identity', () => {
  it('random strings and random JSON: AuthFileError with a clean message, or a valid model', () => {
    fc.assert(
      fc.property(fc.oneof(anyString, fc.jsonValue().map((v) => JSON.stringify(v)), fc.json()), (text) => {
        checkAuthText(text);
      }),
      runs(3000),
    );
  });

  it('mutated documents (wrong types, missing fields, unknown fields, torn text, odd unicode)', () => {
    const seen = { rejected: 0, accepted: 0, 'no identity': 0 };
    fc.assert(
      fc.property(chatgptDoc, fc.array(mutation, { maxLength: 3 }), (doc, ms) => {
        seen[checkAuthText(mutate(doc, ms))] += 1;
      }),
      runs(4000),
    );
    // The generator reaches every outcome, so the properties above were exercised on each.
    expect(seen.rejected).toBeGreaterThan(100);
    expect(seen.accepted).toBeGreaterThan(100);
    expect(seen['no identity']).toBeGreaterThan(100);
  });

  it('huge and deeply nested values', () => {
    const big = 'x'.repeat(4 * 1024 * 1024);
    const good = { auth_mode: 'chatgpt', OPENAI_API_KEY: null, tokens: { id_token: `${b64({})}.${b64({ email: 'e@x', 'https://api.openai.com/auth': { chatgpt_user_id: 'u', chatgpt_account_id: 'a' } })}.s`, access_token: 'a', refresh_token: 'r' } };
    expect(checkAuthText(JSON.stringify({ ...good, agent_identity: big }))).toBe('accepted');
    expect(checkAuthText(JSON.stringify({ ...good, tokens: { ...good.tokens, refresh_token: big } }))).toBe('accepted');
    expect(checkAuthText(JSON.stringify({ ...good, tokens: { ...good.tokens, id_token: `h.${big}.s` } }))).toBe('no identity');
    expect(checkAuthText(JSON.stringify({ ...good, last_refresh: big }))).toBe('rejected');
    let deep: unknown = 1;
    for (let i = 0; i < 2000; i += 1) deep = [deep];
    expect(checkAuthText(JSON.stringify({ ...good, agent_identity: deep }))).toBe('accepted');
    expect(checkAuthText('['.repeat(100_000))).toBe('rejected');
  });
});

// ---------------------------------------------------------------------------------------- registry

const usageWindow = fc.record({ usedPercent: fc.double({ noNaN: true, noDefaultInfinity: true }), resetsAt: fc.option(iso), windowMinutes: fc.option(fc.integer()) });
const account = fc.record({
  id: fc.string({ minLength: 1 }),
  kind: fc.constantFrom('chatgpt' as const, 'apikey' as const),
  email: fc.option(fc.string()),
  alias: fc.option(fc.string()),
  plan: fc.string(),
  chatgptUserId: fc.option(fc.string()),
  chatgptAccountId: fc.option(fc.string()),
  workspaceTitle: fc.option(fc.string()),
  keyMask: fc.option(fc.string()),
  secret: fc.record({ store: fc.constantFrom('file' as const, 'keyring' as const), ref: fc.string({ minLength: 1 }) }),
  snapshot: fc.record({ lastRefresh: fc.option(iso), fingerprint: fc.string() }),
  accessTokenExpiresAt: fc.option(fc.integer()),
  addedAt: iso,
  updatedAt: iso,
  lastActivityAt: fc.option(iso),
  usage: fc.option(fc.record({ fiveHour: fc.option(usageWindow), weekly: fc.option(usageWindow), fetchedAt: iso, source: fc.constantFrom('api' as const, 'session' as const), error: fc.option(fc.string()) })),
  loginRequired: fc.option(fc.string()),
});
const registry = fc.record({
  version: fc.constant(1),
  activeId: fc.option(fc.string()),
  previousId: fc.option(fc.string()),
  activeSince: fc.option(iso),
  accounts: fc.array(account, { maxLength: 4 }),
  removedLiveIds: fc.array(fc.string(), { maxLength: 3 }),
  fallback: fc.record({ enabled: fc.boolean(), keyId: fc.option(fc.string()), threshold: fc.integer({ min: 1, max: 100 }), rotate: fc.boolean(), switchBack: fc.boolean() }),
  fallbackState: fc.option(fc.record({ fromId: fc.string(), toId: fc.string(), reason: fc.string(), since: iso, until: fc.option(iso) })),
  limitEvents: fc.array(fc.record({ accountId: fc.string(), at: iso, resetsAt: fc.option(iso) }), { maxLength: 3 }),
});

/** Every path (as key lists) in a JSON tree, for targeted mutations. */
function jsonPaths(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => jsonPaths(x, [...prefix, i], out));
  else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) jsonPaths(x, [...prefix, k], out);
  return out;
}

type TextMutation = Extract<Mutation, { op: 'truncate' | 'insert' | 'flip' }>;
type RegMutation = { op: 'set' | 'delete' | 'wrap'; pick: number; value: unknown } | { op: 'version'; value: unknown } | TextMutation;
const regMutation: fc.Arbitrary<RegMutation> = fc.oneof(
  fc.record({ op: fc.constantFrom('set' as const, 'delete' as const, 'wrap' as const), pick: fc.nat(), value: fc.oneof(fc.jsonValue(), anyString) }),
  fc.record({ op: fc.constant('version' as const), value: fc.oneof(fc.integer({ min: -3, max: 5 }), fc.double(), junk, fc.constant(1e400)) }),
  mutation.filter((m): m is TextMutation => m.op === 'truncate' || m.op === 'insert' || m.op === 'flip'),
);

function mutateRegistry(doc: unknown, ms: readonly RegMutation[]): string {
  let d = JSON.parse(JSON.stringify(doc)) as unknown;
  for (const m of ms) {
    if (m.op === 'version') {
      if (typeof d === 'object' && d !== null) (d as Record<string, unknown>).version = m.value;
      continue;
    }
    if (m.op !== 'set' && m.op !== 'delete' && m.op !== 'wrap') continue;
    const all = jsonPaths(d);
    const p = all[m.pick % all.length] ?? [];
    if (p.length === 0) {
      d = m.op === 'set' ? m.value : m.op === 'wrap' ? [d] : d;
      continue;
    }
    const parent = p.slice(0, -1).reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], d) as Record<string | number, unknown>;
    const key = p[p.length - 1] as string | number;
    if (m.op === 'set') parent[key] = m.value;
    else if (m.op === 'wrap') parent[key] = [parent[key]];
    else if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
  }
  let text = JSON.stringify(d, null, 2) ?? '';
  for (const m of ms) {
    if (m.op !== 'truncate' && m.op !== 'insert' && m.op !== 'flip') continue;
    const at = m.at % (text.length + 1);
    if (m.op === 'truncate') text = text.slice(0, at);
    else if (m.op === 'insert') text = text.slice(0, at) + m.text + text.slice(at);
    else text = text.slice(0, at) + m.char + text.slice(at + 1);
  }
  return text;
}

describe('fuzz: registry loading', () => {
  let root: string;
  let paths: Paths;
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'codex-auth-fuzz-'));
    fs.mkdirSync(path.join(root, 'codex'));
    paths = resolvePaths({ env: { CODEX_HOME: path.join(root, 'codex') }, homedir: root, cwd: root });
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  let tick = 0;
  /** Load `text` as registry.json in a fresh home: the one documented error, or a valid registry (quarantining a corrupt file). */
  async function checkLoad(text: string): Promise<'valid' | 'quarantined' | 'too new'> {
    fs.rmSync(paths.home, { recursive: true, force: true });
    fs.mkdirSync(paths.home, { recursive: true });
    fs.writeFileSync(paths.registry, text);
    const bytes = fs.readFileSync(paths.registry); // lone surrogates are stored as U+FFFD
    const warnings: string[] = [];
    const store = new RegistryStore(paths, (m) => warnings.push(m), () => new Date(Date.UTC(2026, 0, 1) + (tick += 1)));
    let reg: Registry;
    try {
      reg = await store.load();
    } catch (e) {
      expect(e, `load threw ${String(e)}`).toBeInstanceOf(CliError);
      expect((e as CliError).code).toBe('registry_too_new');
      expectCleanMessage((e as Error).message);
      expect((e as Error).message).toContain(paths.registry);
      expect(fs.readFileSync(paths.registry).equals(bytes), 'a newer registry is never touched').toBe(true);
      expect(warnings).toEqual([]);
      return 'too new';
    }
    const valid = Registry.safeParse(reg);
    expect(valid.success, `load returned an invalid registry: ${valid.error?.message}`).toBe(true);
    if (warnings.length > 0) {
      expect(warnings).toHaveLength(1);
      expectCleanMessage(warnings[0] as string, [], 1000);
      expect(warnings[0]).toMatch(/^registry\.json is corrupt \(.+\)\. It was moved to .+registry\.json\.corrupt-/);
      expect(fs.existsSync(paths.registry), 'the corrupt file was moved aside').toBe(false);
      const moved = fs.readdirSync(paths.home).filter((f) => f.startsWith('registry.json.corrupt-'));
      expect(moved).toHaveLength(1);
      expect(fs.readFileSync(path.join(paths.home, moved[0] as string)).equals(bytes), 'kept whole for the user').toBe(true);
      expect(reg).toEqual(emptyRegistry());
      return 'quarantined';
    }
    expect(fs.readFileSync(paths.registry).equals(bytes)).toBe(true);
    expect(reg).toEqual(Registry.parse(JSON.parse(bytes.toString('utf8'))));
    return 'valid';
  }

  it('random text and random JSON: a valid registry, a quarantine, or "too new" — never a crash', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyString, fc.jsonValue().map((v) => JSON.stringify(v)), fc.json()), async (text) => {
        await checkLoad(text);
      }),
      runs(1000),
    );
  });

  it('mutated valid registries: wrong types, missing and extra fields, odd versions, torn text', async () => {
    const seen = { valid: 0, quarantined: 0, 'too new': 0 };
    await fc.assert(
      fc.asyncProperty(registry, fc.array(regMutation, { maxLength: 3 }), async (doc, ms) => {
        seen[await checkLoad(mutateRegistry(doc, ms))] += 1;
      }),
      runs(2000),
    );
    expect(seen.valid).toBeGreaterThan(100);
    expect(seen.quarantined).toBeGreaterThan(100);
    expect(seen['too new']).toBeGreaterThan(20);
  });

  it('what codex-auth saves, it loads back unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(registry, async (doc) => {
        fs.rmSync(paths.home, { recursive: true, force: true });
        const store = new RegistryStore(paths, (m) => expect.fail(`unexpected warning: ${m}`), () => new Date());
        const reg = Registry.parse(doc);
        store.save(reg);
        expect(JSON.stringify(await store.load())).toBe(JSON.stringify(reg)); // as JSON: -0 is 0 there
      }),
      runs(300),
    );
  });

  it('a huge registry and a few fixed nasties', async () => {
    const many = { ...emptyRegistry(), accounts: Array.from({ length: 3000 }, (_, i) => ({ id: `chatgpt::u${i}::a${i}`, kind: 'chatgpt', email: `u${i}@x`, alias: null, plan: 'plus', secret: { store: 'file', ref: `r${i}` }, snapshot: { lastRefresh: null, fingerprint: 'f' }, addedAt: 't', updatedAt: 't', lastActivityAt: null })) };
    expect(await checkLoad(JSON.stringify(many))).toBe('valid');
    expect(await checkLoad('')).toBe('quarantined');
    expect(await checkLoad('\ufeff{}')).toBe('quarantined');
    expect(await checkLoad('{"version":1e400}')).toBe('too new');
    expect(await checkLoad('{"version":2,"accounts":"whatever"}')).toBe('too new');
    expect(await checkLoad('{"version":0}')).toBe('quarantined');
    expect(await checkLoad('{"version":1,"__proto__":{"polluted":1},"accounts":[]}')).toBe('quarantined');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(await checkLoad(`{"version":1,"accounts":${'['.repeat(50_000)}`)).toBe('quarantined');
  });
});

// ------------------------------------------------------------------------------------ session logs

/** Mostly well-formed (so every record kind is produced), with junk anywhere. */
const likely = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>) => fc.oneof({ weight: 5, arbitrary: good }, { weight: 1, arbitrary: bad });
const num = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, 100, 1e300, -1e300, 1763483205, 1763483205000), fc.integer().map(String), junk);
const rlWindow = likely(
  fc.record({ used_percent: likely(fc.double({ min: -10, max: 200, noNaN: true }), num), window_minutes: likely(fc.constantFrom(300, 10080, 60, 2000), num), resets_at: num, resets_in_seconds: num, reset_after_seconds: num }, { requiredKeys: [] }),
  junk,
);
const payload = fc.oneof(
  { weight: 4, arbitrary: fc.record(
    {
      type: fc.constant('token_count'),
      info: fc.oneof(fc.constant(null), fc.jsonValue()),
      rate_limits: likely(
        fc.oneof(
          fc.record({ primary: rlWindow, secondary: rlWindow, limit_id: fc.oneof(fc.constantFrom('codex', 'other'), junk) }, { requiredKeys: ['primary'] }),
          fc.record({ primary_used_percent: num, primary_window_minutes: num, primary_reset_after_seconds: num, secondary_used_percent: num }, { requiredKeys: [] }),
        ),
        junk,
      ),
    },
    { requiredKeys: ['type', 'rate_limits'] },
  ) },
  fc.record(
    {
      type: fc.constantFrom('task_complete', 'error', 'turn_aborted'),
      message: fc.oneof(fc.constant("You've hit your usage limit. Try again later."), junk),
      codex_error_info: fc.oneof(fc.constantFrom('usage_limit_exceeded', 'usageLimitExceeded'), fc.record({ usage_limit_exceeded: fc.record({ resets_at: num, resets_in_seconds: num }, { requiredKeys: [] }) }), junk),
      error: fc.oneof(
        fc.record({ type: fc.oneof(fc.constant('usage_limit_reached'), junk), code: junk, message: junk, resets_at: num, resets_in_seconds: num, codex_error_info: fc.oneof(fc.constant('usage_limit_exceeded'), junk) }, { requiredKeys: [] }),
        junk,
      ),
    },
    { requiredKeys: ['type'] },
  ),
  fc.record({ id: fc.oneof(fc.uuid(), junk), session_id: junk, timestamp: fc.oneof(iso, junk), creator_account_id: junk, creator_user_id: junk, cli_version: junk }, { requiredKeys: [] }),
  junk,
);
const rolloutObject = fc.record(
  { timestamp: likely(iso, junk), type: likely(fc.constantFrom('event_msg', 'event_msg', 'session_meta', 'response_item'), junk), payload },
  { requiredKeys: [] },
);
const rolloutLine = fc.oneof(
  { weight: 4, arbitrary: rolloutObject.map((o) => JSON.stringify(o)) },
  { weight: 2, arbitrary: fc.tuple(rolloutObject, fc.array(mutation, { maxLength: 2 })).map(([o, ms]) => mutate(o as Record<string, unknown>, ms).replace(/\n/g, ' ')) },
  { weight: 1, arbitrary: anyString.map((s) => `{"type":"event_msg",${s}`) },
  { weight: 1, arbitrary: fc.oneof(anyString, fc.jsonValue().map((v) => JSON.stringify(v))) },
);

function validIso(s: unknown): boolean {
  return typeof s === 'string' && !Number.isNaN(Date.parse(s)) && new Date(s).toISOString() === s;
}

describe('fuzz: session-log lines', () => {
  it('parseRolloutLine never throws and returns only well-formed records', () => {
    const kinds: Record<string, number> = {};
    fc.assert(
      fc.property(rolloutLine, (line) => {
        const rec = parseRolloutLine(line);
        kinds[rec?.kind ?? 'null'] = (kinds[rec?.kind ?? 'null'] ?? 0) + 1;
        if (rec === null) return;
        if (rec.kind === 'session_meta') {
          expect(typeof rec.sessionId === 'string' && rec.sessionId !== '').toBe(true);
          expect(rec.at === null || !Number.isNaN(rec.at.getTime())).toBe(true);
          return;
        }
        expect(Number.isNaN(rec.at.getTime())).toBe(false);
        if (rec.kind === 'rate_limits') {
          expect(rec.fiveHour !== null || rec.weekly !== null).toBe(true);
          for (const w of [rec.fiveHour, rec.weekly]) {
            if (!w) continue;
            expect(Number.isFinite(w.usedPercent)).toBe(true);
            expect(w.resetsAt === null || validIso(w.resetsAt)).toBe(true);
            expect(w.windowMinutes === null || w.windowMinutes === undefined || Number.isFinite(w.windowMinutes)).toBe(true);
          }
        } else {
          expect(rec.resetsAt === null || validIso(rec.resetsAt)).toBe(true);
          expect(rec.message === null || typeof rec.message === 'string').toBe(true);
        }
      }),
      runs(10000),
    );
    console.log(`fuzz: rollout record kinds ${JSON.stringify(kinds)}`);
    // Each record kind was produced often enough for its checks to mean something.
    expect(kinds.rate_limits ?? 0).toBeGreaterThan(300);
    expect(kinds.usage_limit ?? 0).toBeGreaterThan(80);
    expect(kinds.session_meta ?? 0).toBeGreaterThan(80);
  });

  it('whole files of such lines: events, the latest usage and a snapshot the registry accepts', () => {
    fc.assert(
      fc.property(fc.array(rolloutLine, { maxLength: 30 }), fc.option(iso), (lines, since) => {
        const { events } = eventsFromLines(lines, '/x/rollout-2026-01-01T00-00-00-0199a000-0000-7000-8000-000000000000.jsonl');
        const latest = latestUsage(events, since ? new Date(since) : undefined, new Date('2026-06-01T00:00:00Z'));
        const snap = toUsageSnapshot(latest);
        if (snap !== null) expect(UsageSnapshot.safeParse(snap).success).toBe(true);
        expect(typeof latest.limited).toBe('boolean');
      }),
      runs(2000),
    );
  });
});

// --------------------------------------------------------------------------------- QUERY resolution

const printable = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCXYZ0123456789@.-_ '.split('')), minLength: 1, maxLength: 12 });
function makeAccount(i: number, a: { email: string | null; alias: string | null; kind: 'chatgpt' | 'apikey'; idTail: string; title: string | null }): Account {
  return {
    id: a.kind === 'chatgpt' ? `chatgpt::user-${a.idTail}::acc-${i}` : `apikey::user-${a.idTail}::${i}`,
    kind: a.kind,
    email: a.email,
    alias: a.alias,
    plan: a.kind === 'chatgpt' ? 'plus' : 'API_KEY',
    workspaceTitle: a.title,
    keyMask: a.kind === 'apikey' ? `sk-proj-***${i}` : null,
    secret: { store: 'file', ref: `r${i}` },
    snapshot: { lastRefresh: null, fingerprint: 'f' },
    addedAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    lastActivityAt: null,
  } as Account;
}
const accounts = fc
  .array(fc.record({ email: fc.option(fc.oneof(printable, fc.constantFrom('a@x.io', 'A@X.io', 'b@x.io'))), alias: fc.option(fc.oneof(printable, fc.constantFrom('work', 'WORK', 'home'))), kind: fc.constantFrom('chatgpt' as const, 'apikey' as const), idTail: printable.map((s) => s.trim().replace(/\s/g, '') || 'x'), title: fc.option(printable) }), { maxLength: 8 })
  .map((xs) => xs.map((x, i) => makeAccount(i, x)));

/** Queries: anything at all, row numbers, and fragments / case changes / padding of real fields. */
function queriesFor(list: Account[]): fc.Arbitrary<string> {
  const fields = list.flatMap((a) => [a.id, a.alias, a.email, a.workspaceTitle, a.keyMask].filter((s): s is string => typeof s === 'string' && s !== ''));
  const derived =
    fields.length === 0
      ? fc.constant('x')
      : fc.tuple(fc.constantFrom(...fields), fc.nat(), fc.nat(), fc.constantFrom('same', 'upper', 'lower', 'pad')).map(([f, i, j, how]) => {
          const s = f.slice(Math.min(i, j) % (f.length + 1), Math.max(i, j) % (f.length + 1) || f.length);
          return how === 'upper' ? s.toUpperCase() : how === 'lower' ? s.toLowerCase() : how === 'pad' ? `  ${f}\t` : f;
        });
  return fc.oneof(derived, fc.nat({ max: 12 }).map(String), anyString, fc.constantFrom('', ' ', '-', '0', '007', '1\n2', 'a"b', '\u001b[31mred'));
}

const fakeApp = { picker: { interactive: false, pick: () => Promise.reject(new Error('no terminal to pick on')) } } as unknown as Deps;

describe('fuzz: QUERY resolution', () => {
  it('resolveQuery: never throws; numbers, ids and unique aliases resolve to their account', () => {
    fc.assert(
      fc.property(accounts.chain((accs) => fc.tuple(fc.constant(accs), queriesFor(accs))), ([accs, query]) => {
        const list = numbered(accs);
        const r = resolveQuery(query, list);
        expect(resolveQuery(query, list)).toEqual(r);
        const q = query.trim();
        if (r.kind === 'one') expect(list).toContain(r.match);
        if (r.kind === 'many') {
          expect(r.matches.length).toBeGreaterThanOrEqual(2);
          for (const m of r.matches) expect(list).toContain(m);
          expect(new Set(r.matches).size).toBe(r.matches.length);
        }
        if (q === '') expect(r.kind).toBe('none');
        else if (/^[1-9]\d*$/.test(q)) {
          // A plain number without leading zeros is a row number and nothing else.
          const n = Number(q);
          if (n >= 1 && n <= list.length) expect(r.kind === 'one' && r.match.number === n).toBe(true);
          else expect(r).toEqual({ kind: 'none', number: n });
        } else {
          // Exact alias, email and id matches (ids only whole) win; naming different accounts, they are ambiguous.
          const fold = (s: string) => s.normalize('NFC').toLowerCase();
          const fq = fold(q.normalize('NFC'));
          const exact = list.filter((x) => x.account.id === q.normalize('NFC') || [x.account.alias, x.account.email].some((s) => typeof s === 'string' && fold(s) === fq));
          if (exact.length === 1) expect(r.kind === 'one' && r.match === exact[0]).toBe(true);
          if (exact.length > 1) expect(r.kind).toBe('many');
          // A fragment of an internal id alone never resolves.
          if (exact.length === 0 && r.kind === 'one') {
            const a = r.match.account;
            const visible = [a.alias, a.email, a.name, a.workspaceTitle, a.plan, a.kind === 'apikey' ? a.keyMask : null, r.match.label.replace(/ workspace .*$/, ' workspace')];
            expect(visible.some((s) => typeof s === 'string' && fold(s).includes(fq))).toBe(true);
          }
        }
      }),
      runs(4000),
    );
  });

  it('selectAccount without a terminal: the account, or a CliError whose first line is one line naming the query', async () => {
    await fc.assert(
      fc.asyncProperty(accounts.chain((accs) => fc.tuple(fc.constant(accs), queriesFor(accs))), async ([accs, query]) => {
        const reg = { ...emptyRegistry(), accounts: accs } as Registry;
        let acc: Account;
        try {
          acc = await selectAccount(fakeApp, reg, query, { verb: 'switch to', command: 'codex-auth switch' });
        } catch (e) {
          expect(e, `selectAccount threw ${String(e)}`).toBeInstanceOf(CliError);
          const err = e as CliError;
          expect(['no_accounts', 'query_required', 'no_previous', 'not_found', 'ambiguous_query']).toContain(err.code);
          expect(err.exitCode).toBe(err.code === 'ambiguous_query' || err.code === 'query_required' ? 2 : 1);
          const [head, ...rows] = err.message.split('\n');
          expect(head).not.toMatch(/\r/);
          const heads: Record<string, RegExp> = {
            not_found: /^No account matches .+\. Accounts:$/,
            query_required: /^Name the account to switch to: codex-auth switch QUERY .*\. Accounts:$/,
            ambiguous_query: /^.+ matches several accounts; use a row number or alias:$/,
            no_accounts: /^There are no accounts yet\..*\.$/,
            no_previous: /^There is no previous account to go back to yet\.$/,
          };
          expect(head, 'the first line is whole: it ends where the list begins').toMatch(heads[err.code] as RegExp);
          if (err.code === 'not_found' || err.code === 'ambiguous_query') expect(rows.length).toBeGreaterThan(0);
          expect(head).not.toMatch(/\bat .*:\d+:\d+/);
          for (const row of rows) expect(row, 'each further line is one candidate').toMatch(/^ {2} *\d+ {2}./);
          return;
        }
        expect(accs).toContain(acc);
      }),
      runs(3000),
    );
  });
});
