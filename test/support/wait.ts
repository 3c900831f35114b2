/** Waiting for a condition instead of sleeping a fixed time: a deadline only turns a hang into a failure. */
export async function waitFor(cond: () => boolean, what: string, deadlineMs = 30_000, everyMs = 10): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
