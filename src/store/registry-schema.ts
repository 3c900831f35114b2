/**
 * registry.json: versioned, validated with zod, migrated step by step. It never holds secrets. The
 * types are the domain's (src/domain/types.ts); the end of this file checks that the schema produces
 * exactly them.
 *
 * Written with zod/mini, zod 4's functional API (the same schemas and parsing as `zod`'s methods,
 * `z.nullable(x)` for `x.nullable()`): a bundle keeps only the parts a schema uses (README
 * "Performance"). Its English messages are turned on for the errors codex-auth shows.
 */
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

import type * as domain from '../domain/types.js';
import { REGISTRY_VERSION } from '../domain/types.js';

export { emptyRegistry, MIGRATIONS, migrate, REGISTRY_VERSION } from './registry-defaults.js';

z.config(en());

const nullable = z.nullable;
const optional = z.optional;
/** A string that is not empty. */
const nonEmpty = () => z.string().check(z.minLength(1));
/** A positive whole number: anything else is dropped (undefined), never a reason to refuse the file. */
const positiveIntOrDropped = () => z.catch(optional(z.int().check(z.positive())), undefined);

const Window = z.object({
  usedPercent: z.number(),
  /** ISO time the window resets, or null when unknown. */
  resetsAt: nullable(z.string()),
  windowMinutes: optional(nullable(z.number())),
});

export const UsageSnapshot = z.looseObject({
  fiveHour: nullable(Window),
  weekly: nullable(Window),
  fetchedAt: z.string(),
  /** Where the numbers came from: the usage API or a session log. */
  source: z.enum(['api', 'session']),
  /** A short reason when the last refresh failed (`401`, `timeout`), else absent. */
  error: optional(nullable(z.string())),
});

export const SecretRef = z.object({
  store: z.enum(['file', 'keyring']),
  ref: nonEmpty(),
});

export const Account = z.looseObject({
  id: nonEmpty(),
  /**
   * The account's stable number, shown by `list` and accepted as a QUERY: given at creation, kept
   * until the account is removed, never reused. Absent in registries written before numbers; an
   * invalid one is dropped here and a new one given on load (src/domain/view.ts stableNumbers).
   */
  number: positiveIntOrDropped(),
  kind: z.enum(['chatgpt', 'apikey']),
  email: nullable(z.string()),
  alias: nullable(z.string()),
  plan: z.string(),
  /** ChatGPT: user and workspace ids; workspace title when the token names it. */
  chatgptUserId: optional(nullable(z.string())),
  chatgptAccountId: optional(nullable(z.string())),
  workspaceTitle: optional(nullable(z.string())),
  /** API key: the masked key and the /v1/me identity. */
  keyMask: optional(nullable(z.string())),
  meId: optional(nullable(z.string())),
  name: optional(nullable(z.string())),
  secret: SecretRef,
  /** What the stored snapshot is, without the secret: for "is the live file newer?". */
  snapshot: z.object({ lastRefresh: nullable(z.string()), fingerprint: z.string() }),
  accessTokenExpiresAt: optional(nullable(z.number())),
  addedAt: z.string(),
  updatedAt: z.string(),
  lastActivityAt: nullable(z.string()),
  usage: optional(nullable(UsageSnapshot)),
  /** Set when the login is gone (refresh token expired, reused, revoked): the reason. */
  loginRequired: optional(nullable(z.string())),
  /** Hashes of refresh tokens this account rotated away: never sent again. */
  rotatedRefreshTokens: optional(z.array(z.string())),
});

export const FallbackConfig = z.looseObject({
  enabled: z.boolean(),
  keyId: nullable(z.string()),
  threshold: z.number().check(z.gte(1), z.lte(100)),
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
  activeId: nullable(z.string()),
  previousId: nullable(z.string()),
  /** When the active account became active (session-log events before it belong to another). */
  activeSince: z._default(nullable(z.string()), null),
  accounts: z.array(Account),
  /** The next account number to give: above every number ever given, so removed ones are not reused. */
  nextNumber: positiveIntOrDropped(),
  /** Accounts the user removed while they were Codex's live login: sync does not re-add them. */
  removedLiveIds: z._default(z.array(z.string()), []),
  fallback: FallbackConfig,
  /** Automatic-fallback state; null when no fallback is in effect. */
  fallbackState: z._default(nullable(z.object({ fromId: z.string(), toId: z.string(), reason: z.string(), since: z.string(), until: nullable(z.string()) })), null),
  /** Usage-limit errors seen (session logs, run), attributed to the account active at the time. */
  limitEvents: z._default(z.array(z.object({ accountId: z.string(), at: z.string(), resetsAt: nullable(z.string()) })), []),
  /** The record of Codex's auth.json (above); absent in registries written before it existed. */
  liveFile: z.catch(optional(nullable(LiveFile)), null),
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
