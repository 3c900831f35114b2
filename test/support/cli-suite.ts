/**
 * The scaffolding shared by the test/cli suites, registered once per file:
 * - beforeAll: `assertBuilt()` (option `built`), a FakeOpenAI on 127.0.0.1 (unless `fake: false`);
 * - beforeEach: a fresh sandbox with `env(fake)` in its environment, `fake.clearRequests()` (option);
 * - afterEach: the file's own `teardown` (stop a gateway, kill lock holders…), then the check that no
 *   recorded secret reached the transcript, then `sb.cleanup()`;
 * - afterAll: the fake closed.
 *
 * `sb` and `fake` are views of the current sandbox and of the fake: they forward every property read
 * and write to the object of the running test, so a file can destructure them once at the top and
 * use them as it used its own `let sb` / `let fake`.
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { assertBuilt } from './bin.js';
import { FakeOpenAI } from './fake-openai.js';
import { findSecrets, makeSandbox, type Sandbox } from './inprocess.js';
import type { ChatgptAuthDoc } from './jwt.js';

/** Environment presets: where each URL of the sandbox points on the fake. */
export const fakeEnv = {
  openai: (f: FakeOpenAI) => ({ CODEX_AUTH_OPENAI_BASE_URL: f.openaiBaseUrl }),
  chatgpt: (f: FakeOpenAI) => ({ CODEX_AUTH_CHATGPT_BASE_URL: f.chatgptBaseUrl }),
  refresh: (f: FakeOpenAI) => ({ CODEX_REFRESH_TOKEN_URL_OVERRIDE: f.refreshUrl }),
  /** All three: the OpenAI API, the ChatGPT backend and the token endpoint. */
  all: (f: FakeOpenAI) => ({ CODEX_AUTH_OPENAI_BASE_URL: f.openaiBaseUrl, CODEX_AUTH_CHATGPT_BASE_URL: f.chatgptBaseUrl, CODEX_REFRESH_TOKEN_URL_OVERRIDE: f.refreshUrl }),
};

export interface CliSuiteOptions {
  /** Call `assertBuilt()` first (suites that run dist/cli.cjs as a subprocess). */
  built?: boolean;
  /** Start a FakeOpenAI (default true). */
  fake?: boolean;
  /** The sandbox's extra environment, computed for each test (after every beforeAll ran). */
  env?: (fake: FakeOpenAI) => Record<string, string>;
  /** `fake.clearRequests()` before each test. */
  clearRequests?: boolean;
  /** Run after each test, before the secrets check (its output can still be added to the transcript). */
  teardown?: () => unknown;
}

export interface CliSuite {
  /** The current test's sandbox. */
  sb: Sandbox;
  /** The suite's fake OpenAI. */
  fake: FakeOpenAI;
  /** Strings that must never appear in the transcript. */
  secrets: string[];
  /** Records a ChatGPT login's three tokens as secrets and returns it. */
  remember<T extends ChatgptAuthDoc>(doc: T): T;
}

/** An object whose properties are those of `current()` at the time of each access. */
export function view<T extends object>(what: string, current: () => T | undefined): T {
  const target = (): T => {
    const t = current();
    if (!t) throw new Error(`cli-suite: no ${what} here (outside a test, or not enabled)`);
    return t;
  };
  return new Proxy({} as T, {
    get(_o, prop) {
      const t = target();
      const v = Reflect.get(t, prop, t);
      return typeof v === 'function' ? v.bind(t) : v;
    },
    set(_o, prop, value) {
      return Reflect.set(target(), prop, value);
    },
    has(_o, prop) {
      return Reflect.has(target(), prop);
    },
  });
}

export function cliSuite(opts: CliSuiteOptions = {}): CliSuite {
  let fake: FakeOpenAI | undefined;
  let sb: Sandbox | undefined;
  const secrets: string[] = [];
  const useFake = opts.fake ?? true;

  beforeAll(async () => {
    if (opts.built) assertBuilt();
    if (useFake) fake = await FakeOpenAI.start();
  });
  afterAll(async () => {
    await fake?.close();
  });
  beforeEach(() => {
    sb = makeSandbox(opts.env && fake ? opts.env(fake) : {});
    if (opts.clearRequests) fake?.clearRequests();
  });
  afterEach(async () => {
    const current = sb;
    if (!current) return;
    try {
      await opts.teardown?.();
      expect(findSecrets(current.transcript, secrets)).toEqual([]);
    } finally {
      current.cleanup();
      sb = undefined;
    }
  });

  return {
    sb: view('sandbox', () => sb),
    fake: view('fake OpenAI', () => fake),
    secrets,
    remember(doc) {
      secrets.push(doc.tokens.refresh_token, doc.tokens.access_token, doc.tokens.id_token);
      return doc;
    },
  };
}
