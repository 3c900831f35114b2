/**
 * registry.json: versioned, validated with zod, migrated step by step. It never holds secrets. The
 * types are the domain's (src/domain/types.ts); the end of this file checks that the schema produces
 * exactly them.
 */
import * as z from 'zod';

import type * as domain from '../domain/types.js';
import { REGISTRY_VERSION } from '../domain/types.js';

export { emptyRegistry, MIGRATIONS, migrate, REGISTRY_VERSION } from './registry-defaults.js';

const Window = z.object({
  usedPercent: z.number(),
  /** ISO time the window resets, or null when unknown. */
  resetsAt: z.string().nullable(),
  windowMinutes: z.number().nullable().optional(),
});

export const UsageSnapshot = z.looseObject({
  fiveHour: Window.nullable(),
  weekly: Window.nullable(),
  fetchedAt: z.string(),
  /** Where the numbers came from: the usage API or a session log. */
  source: z.enum(['api', 'session']),
  /** A short reason when the last refresh failed (`401`, `timeout`), else absent. */
  error: z.string().nullable().optional(),
});

export const SecretRef = z.object({
  store: z.enum(['file', 'keyring']),
  ref: z.string().min(1),
});

export const Account = z.looseObject({
  id: z.string().min(1),
  /**
   * The account's stable number, shown by `list` and accepted as a QUERY: given at creation, kept
   * until the account is removed, never reused. Absent in registries written before numbers; an
   * invalid one is dropped here and a new one given on load (src/domain/view.ts stableNumbers).
   */
  number: z.number().int().positive().optional().catch(undefined),
  kind: z.enum(['chatgpt', 'apikey']),
  email: z.string().nullable(),
  alias: z.string().nullable(),
  plan: z.string(),
  /** ChatGPT: user and workspace ids; workspace title when the token names it. */
  chatgptUserId: z.string().nullable().optional(),
  chatgptAccountId: z.string().nullable().optional(),
  workspaceTitle: z.string().nullable().optional(),
  /** API key: the masked key and the /v1/me identity. */
  keyMask: z.string().nullable().optional(),
  meId: z.string().nullable().optional(),
  name: z.string().nullable().optional(),
  secret: SecretRef,
  /** What the stored snapshot is, without the secret: for "is the live file newer?". */
  snapshot: z.object({ lastRefresh: z.string().nullable(), fingerprint: z.string() }),
  accessTokenExpiresAt: z.number().nullable().optional(),
  addedAt: z.string(),
  updatedAt: z.string(),
  lastActivityAt: z.string().nullable(),
  usage: UsageSnapshot.nullable().optional(),
  /** Set when the login is gone (refresh token expired, reused, revoked): the reason. */
  loginRequired: z.string().nullable().optional(),
  /** Hashes of refresh tokens this account rotated away: never sent again. */
  rotatedRefreshTokens: z.array(z.string()).optional(),
});

export const FallbackConfig = z.looseObject({
  enabled: z.boolean(),
  keyId: z.string().nullable(),
  threshold: z.number().min(1).max(100),
  rotate: z.boolean(),
  switchBack: z.boolean(),
});

/**
 * What codex-auth last read or wrote in Codex's auth.json (file mode), like git's index: that file
 * version's device, inode, size, mtime and ctime (nanoseconds; decimal strings), what its credentials
 * hash to and whose they are. A read of exactly that version uses them instead of hashing (src/services/sync.ts).
 * Only a cache: an invalid record is dropped, never a reason to call the registry corrupt.
 */
export const LiveFile = z.looseObject({
  dev: z.string(),
  ino: z.string(),
  size: z.string(),
  mtimeNs: z.string(),
  ctimeNs: z.string(),
  fingerprint: z.string(),
  accountId: z.string(),
});

export const Registry = z.looseObject({
  version: z.literal(REGISTRY_VERSION),
  activeId: z.string().nullable(),
  previousId: z.string().nullable(),
  /** When the active account became active (session-log events before it belong to another). */
  activeSince: z.string().nullable().default(null),
  accounts: z.array(Account),
  /** The next account number to give: above every number ever given, so removed ones are not reused. */
  nextNumber: z.number().int().positive().optional().catch(undefined),
  /** Accounts the user removed while they were Codex's live login: sync does not re-add them. */
  removedLiveIds: z.array(z.string()).default([]),
  fallback: FallbackConfig,
  /** Automatic-fallback state; null when no fallback is in effect. */
  fallbackState: z
    .object({ fromId: z.string(), toId: z.string(), reason: z.string(), since: z.string(), until: z.string().nullable() })
    .nullable()
    .default(null),
  /** Usage-limit errors seen (session logs, run), attributed to the account active at the time. */
  limitEvents: z.array(z.object({ accountId: z.string(), at: z.string(), resetsAt: z.string().nullable() })).default([]),
  /** The record of Codex's auth.json (above); absent in registries written before it existed. */
  liveFile: LiveFile.nullable().optional().catch(null),
});

export type UsageSnapshot = domain.UsageSnapshot;
export type UsageWindow = domain.UsageWindow;
export type Account = domain.Account;
export type Registry = domain.Registry;
export type SecretRef = domain.SecretRef;
export type LiveFile = domain.LiveFile;

/** True when A and B are each assignable to the other. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Compile-time checks: a schema that parses into anything but the domain's type fails `tsc`. */
export const SCHEMA_MATCHES_DOMAIN: {
  window: Same<z.infer<typeof Window>, domain.UsageWindow>;
  usage: Same<z.infer<typeof UsageSnapshot>, domain.UsageSnapshot>;
  secret: Same<z.infer<typeof SecretRef>, domain.SecretRef>;
  account: Same<z.infer<typeof Account>, domain.Account>;
  fallback: Same<z.infer<typeof FallbackConfig>, domain.FallbackConfig>;
  liveFile: Same<z.infer<typeof LiveFile>, domain.LiveFile>;
  registry: Same<z.infer<typeof Registry>, domain.Registry>;
} = { window: true, usage: true, secret: true, account: true, fallback: true, liveFile: true, registry: true };
