/** Small pieces every end-to-end suite shares. */
import { afterAll, expect } from 'vitest';
import type { RunResult } from './codex.js';
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
