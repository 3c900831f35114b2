/** Small pieces every end-to-end suite shares. */
import { afterAll, beforeAll, expect } from 'vitest';
import { assertBuilt } from './bin.js';
import { view } from './cli-suite.js';
import { CODEX_BIN, codexAvailable, type RunResult } from './codex.js';
import { FakeOpenAI } from './fake-openai.js';
import { findSecrets } from './inprocess.js';

/** Everything a failed expectation about a process run needs to explain itself. */
export function explain(r: RunResult): string {
  return `exit=${String(r.code)} timedOut=${String(r.timedOut)}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/**
 * Collects every output a suite captured and every secret it used; after the suite, no secret may
 * appear in any output.
 */
export function secretScan(): { transcript: string[]; secrets: string[] } {
  const transcript: string[] = [];
  const secrets: string[] = [];
  afterAll(() => {
    expect(findSecrets(transcript, secrets)).toEqual([]);
  });
  return { transcript, secrets };
}

/**
 * What every end-to-end suite sets up: the built CLI checked and a FakeOpenAI on 127.0.0.1 before its
 * tests, closed after them, and the secret scan (secretScan). `fake` is a view of that fake (see
 * cliSuite's), used as the suite's own.
 */
export function e2eSuite(): { fake: FakeOpenAI; transcript: string[]; secrets: string[] } {
  let fake: FakeOpenAI | undefined;
  beforeAll(async () => {
    assertBuilt();
    fake = await FakeOpenAI.start();
  });
  afterAll(async () => {
    await fake?.close();
  });
  return { fake: view('fake OpenAI', () => fake), ...secretScan() };
}

/**
 * Whether the real Codex CLI (the pinned devDependency) is there. CI must have it: without it this
 * throws there; elsewhere the suite is skipped, and says so.
 */
export function withRealCodex(suite: string): boolean {
  if (codexAvailable()) return true;
  const why = `the real Codex CLI is missing at ${CODEX_BIN} (npm install installs @openai/codex)`;
  if (process.env.CI) throw new Error(why);
  console.warn(`\n*** SKIPPING ${suite}: ${why} ***\n`);
  return false;
}
