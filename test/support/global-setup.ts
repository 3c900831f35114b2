/**
 * One private Secret Service (D-Bus session + unlocked gnome-keyring) for the whole test run, so
 * end-to-end runs of the binary store API keys in a real keyring — never the user's own. Where the
 * parts are missing the suites that need it say so loudly and skip; with CI=true they fail instead.
 */
import type { TestProject } from 'vitest/node';
import { keyringAvailable, type KeyringSession, startKeyringSession } from './keyring-session.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Environment of the shared private keyring session, or null when none could be started. */
    keyringEnv: Record<string, string> | null;
    keyringWhy: string | null;
  }
}

let session: KeyringSession | undefined;

export async function setup(project: TestProject): Promise<void> {
  const avail = keyringAvailable();
  if (!avail.ok) {
    project.provide('keyringEnv', null);
    project.provide('keyringWhy', avail.why);
    return;
  }
  try {
    session = await startKeyringSession();
    project.provide('keyringEnv', { DBUS_SESSION_BUS_ADDRESS: session.busAddress, XDG_RUNTIME_DIR: session.env.XDG_RUNTIME_DIR ?? '' });
    project.provide('keyringWhy', null);
  } catch (e) {
    project.provide('keyringEnv', null);
    project.provide('keyringWhy', `the private keyring session did not start: ${(e as Error).message}`);
  }
}

export async function teardown(): Promise<void> {
  await session?.stop();
}
