/** The few settings codex-auth reads from Codex's config.toml. */
import { CliError, describeError } from '../errors.js';
import { readFileIfExists } from './atomic.js';

export type CredentialStoreMode = 'file' | 'keyring' | 'auto' | 'ephemeral';

export interface CodexConfig {
  credentialStore: CredentialStoreMode;
  /** True when config.toml sets it; false when it is Codex's default. */
  credentialStoreExplicit: boolean;
  chatgptBaseUrl: string | null;
}

const DEFAULTS: CodexConfig = { credentialStore: 'file', credentialStoreExplicit: false, chatgptBaseUrl: null };

/** Reads config.toml; the TOML parser is loaded only when the file mentions a key we need. */
export async function readCodexConfig(configToml: string): Promise<CodexConfig> {
  const text = readFileIfExists(configToml);
  if (text === null) return DEFAULTS;
  if (!text.includes('cli_auth_credentials_store') && !text.includes('chatgpt_base_url')) return DEFAULTS;
  const { parse } = await import('smol-toml');
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new CliError('codex_config', `${configToml} is not valid TOML (${describeError(e).split('\n')[0]}). Fix it; Codex cannot read it either.`);
  }
  const store = doc.cli_auth_credentials_store;
  let credentialStore: CredentialStoreMode = 'file';
  if (store !== undefined) {
    if (store !== 'file' && store !== 'keyring' && store !== 'auto' && store !== 'ephemeral') {
      throw new CliError('codex_config', `${configToml}: cli_auth_credentials_store must be "file", "keyring", "auto" or "ephemeral".`);
    }
    credentialStore = store;
  }
  const base = doc.chatgpt_base_url;
  return {
    credentialStore,
    credentialStoreExplicit: store !== undefined,
    chatgptBaseUrl: typeof base === 'string' && base !== '' ? base : null,
  };
}
