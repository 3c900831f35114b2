/** The OS keyring as Ctx hands it out (the real one, @napi-rs/keyring, is in src/store/keyring.ts). */

/**
 * The raw keyring operations. Implementations may throw anything and may hang: `KeyringClient`
 * bounds every call with a timeout and maps failures to `KeyringError`.
 */
export interface KeyringBackend {
  /** For messages: "Secret Service", "macOS Keychain", ... */
  readonly name: string;
  get(service: string, account: string, signal?: AbortSignal): Promise<string | null>;
  set(service: string, account: string, value: string, signal?: AbortSignal): Promise<void>;
  /** True when an entry was deleted. */
  delete(service: string, account: string, signal?: AbortSignal): Promise<boolean>;
  /** Effective DBUS_SESSION_BUS_ADDRESS, for messages (Linux): null when unset. */
  busAddress?(): string | null;
}
