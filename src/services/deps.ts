/**
 * What services need from the outside world, and nothing else: stores, the clock, HTTP, and two
 * ports back to the command that called them — a Reporter for the warnings and notes a service
 * has for the user (the command renders them; services never print), and an AccountPicker for the
 * interactive choice of an account. The factory (src/cli/app.ts) provides one, built lazily.
 */
import type { Account, SecretRef } from '../domain/types.js';
import type { HttpClient } from '../platform/http.js';
import type { ProcessInfo } from '../platform/processes.js';
import type { CodexConfig } from '../store/codex-config.js';
import type { LiveCredentials } from '../store/live.js';
import type { Paths } from '../store/paths.js';
import type { RegistryStore } from '../store/registry.js';
import type { Secrets } from '../store/secrets.js';

/** Events a service reports while it works, by severity; the command decides how they are shown. */
export interface Reporter {
  /** Something went wrong or needs the user's attention, but the service carried on. */
  warn(message: string): void;
  /** A note for the user (what a sync did). */
  info(message: string): void;
  /** Details for --debug. */
  debug(message: string): void;
}

/** Asking the user to choose, when a terminal is there to ask on. */
export interface AccountPicker {
  /** Whether the user may be asked (one rule: src/ui/prompts.ts canPrompt). */
  readonly interactive: boolean;
  /** The chosen value, starting on choice `initial`; a cancel rejects with Cancelled (exit 130). */
  pick<T>(title: string, choices: { label: string; value: T }[], initial?: number): Promise<T>;
}

export interface Deps {
  readonly env: NodeJS.ProcessEnv;
  now(): Date;
  readonly paths: Paths;
  readonly registry: RegistryStore;
  readonly secrets: Secrets;
  config(): Promise<CodexConfig>;
  /** Where Codex reads the active account. */
  live(): Promise<LiveCredentials>;
  http(): Promise<HttpClient>;
  /** Running Codex processes (not counting codex-auth itself). */
  codexProcesses(): Promise<ProcessInfo[]>;
  /** Where a new account's secret goes. */
  secretRefFor(kind: Account['kind'], id: string, opts?: { insecure?: boolean }): SecretRef;
  readonly report: Reporter;
  readonly picker: AccountPicker;
}
