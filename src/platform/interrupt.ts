/** Ctrl-C (SIGINT) during a long wait: a cancel (exit 130, src/errors.ts), not a death by signal. */
import { Cancelled } from '../errors.js';

/**
 * Resolves like `work`, unless SIGINT arrives first: then rejects with `Cancelled(message)` at once, so
 * the command's `finally` blocks run (a spinner erases itself) and the process exits 130 saying so.
 * What `work` was doing is abandoned when the process exits, as Ctrl-C always did.
 */
export async function untilInterrupted<T>(work: Promise<T>, message?: string): Promise<T> {
  let onSigint: () => void = () => {};
  const interrupted = new Promise<never>((_, reject) => {
    onSigint = () => reject(new Cancelled(message));
  });
  process.on('SIGINT', onSigint);
  try {
    return await Promise.race([work, interrupted]);
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
