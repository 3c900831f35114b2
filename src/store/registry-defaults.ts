/**
 * Registry constants, the empty registry and the migration steps: no zod here, so commands that
 * read a registry codex-auth itself wrote never load the schema library (see registry.ts).
 */
import { REGISTRY_VERSION, type Registry } from '../domain/types.js';

export { REGISTRY_VERSION };

export function emptyRegistry(): Registry {
  return {
    version: REGISTRY_VERSION,
    activeId: null,
    previousId: null,
    activeSince: null,
    accounts: [],
    removedLiveIds: [],
    fallback: { enabled: false, keyId: null, threshold: 100, rotate: true, switchBack: true },
    fallbackState: null,
    limitEvents: [],
  };
}

/**
 * Migrations: MIGRATIONS[n] turns a version-n document into version n+1. Each is a pure function of
 * plain JSON. The registry starts at version 1, so there are none yet; the loader runs them in order.
 */
export const MIGRATIONS: Record<number, (doc: Record<string, unknown>) => Record<string, unknown>> = {};

export function migrate(doc: Record<string, unknown>): Record<string, unknown> {
  let cur = doc;
  let v = typeof cur.version === 'number' ? cur.version : NaN;
  while (v < REGISTRY_VERSION) {
    const step = MIGRATIONS[v];
    if (!step) throw new Error(`no migration from version ${v}`);
    cur = step(cur);
    v += 1;
    cur.version = v;
  }
  return cur;
}
