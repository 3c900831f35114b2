/**
 * codex-auth's data types: accounts, usage, the registry. The domain owns them; the registry store
 * validates registry.json against a zod schema that is checked, at compile time, to produce exactly
 * these types (src/store/registry-schema.ts). Objects marked "loose" keep fields they do not know
 * (written by a newer codex-auth) through a read and a write.
 */

/** The registry.json format version this codex-auth writes. */
export const REGISTRY_VERSION = 1;

export type UsageWindow = {
  usedPercent: number;
  /** ISO time the window resets, or null when unknown. */
  resetsAt: string | null;
  windowMinutes?: number | null | undefined;
};

/** Loose. */
export type UsageSnapshot = {
  fiveHour: UsageWindow | null;
  weekly: UsageWindow | null;
  fetchedAt: string;
  /** Where the numbers came from: the usage API or a session log. */
  source: 'api' | 'session';
  /** A short reason when the last refresh failed (`401`, `timeout`), else absent. */
  error?: string | null | undefined;
  [key: string]: unknown;
};

/** Where an account's secret is kept: a 0600 file or the OS keyring, under `ref`. */
export type SecretRef = {
  store: 'file' | 'keyring';
  ref: string;
};

/** Loose. */
export type Account = {
  id: string;
  /**
   * The account's stable number, shown by `list` and accepted as a QUERY: given at creation, kept
   * until the account is removed, never reused (src/domain/view.ts stableNumbers).
   */
  number?: number | undefined;
  kind: 'chatgpt' | 'apikey';
  email: string | null;
  alias: string | null;
  plan: string;
  /** ChatGPT: user and workspace ids; workspace title when the token names it. */
  chatgptUserId?: string | null | undefined;
  chatgptAccountId?: string | null | undefined;
  workspaceTitle?: string | null | undefined;
  /** API key: the masked key and the /v1/me identity. */
  keyMask?: string | null | undefined;
  meId?: string | null | undefined;
  name?: string | null | undefined;
  secret: SecretRef;
  /** What the stored snapshot is, without the secret: for "is the live file newer?". */
  snapshot: { lastRefresh: string | null; fingerprint: string };
  accessTokenExpiresAt?: number | null | undefined;
  addedAt: string;
  updatedAt: string;
  lastActivityAt: string | null;
  usage?: UsageSnapshot | null | undefined;
  /** Set when the login is gone (refresh token expired, reused, revoked): the reason. */
  loginRequired?: string | null | undefined;
  /** Hashes of refresh tokens this account rotated away: never sent again. */
  rotatedRefreshTokens?: string[] | undefined;
  [key: string]: unknown;
};

/** Loose. */
export type FallbackConfig = {
  enabled: boolean;
  keyId: string | null;
  /** Percent used at which a window counts as exhausted, 1..100. */
  threshold: number;
  rotate: boolean;
  switchBack: boolean;
  [key: string]: unknown;
};

/**
 * What codex-auth last read or wrote in Codex's auth.json (file mode), like git's index: that file
 * version's device, inode, size, mtime and ctime (nanoseconds; decimal strings), what its credentials
 * hash to and whose they are. A read of exactly that version uses them instead of hashing
 * (src/services/sync.ts). Only a cache: an invalid record is dropped. Loose.
 */
export type LiveFile = {
  dev: string;
  ino: string;
  size: string;
  mtimeNs: string;
  ctimeNs: string;
  fingerprint: string;
  accountId: string;
  [key: string]: unknown;
};

/** Loose. */
export type Registry = {
  version: typeof REGISTRY_VERSION;
  activeId: string | null;
  previousId: string | null;
  /** When the active account became active (session-log events before it belong to another). */
  activeSince: string | null;
  accounts: Account[];
  /** Accounts the user removed while they were Codex's live login: sync does not re-add them. */
  removedLiveIds: string[];
  fallback: FallbackConfig;
  /** Automatic-fallback state; null when no fallback is in effect. */
  fallbackState: { fromId: string; toId: string; reason: string; since: string; until: string | null } | null;
  /** Usage-limit errors seen (session logs, run), attributed to the account active at the time. */
  limitEvents: { accountId: string; at: string; resetsAt: string | null }[];
  /** The record of Codex's auth.json (above); absent in registries written before it existed. */
  liveFile?: LiveFile | null | undefined;
  /** The next account number to give: above every number ever given, so removed ones are not reused. */
  nextNumber?: number | undefined;
  [key: string]: unknown;
};
