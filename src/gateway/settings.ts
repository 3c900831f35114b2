/**
 * The gateway's own settings in codex-auth's home (gateway.json, 0600): the installation secret, the
 * port, whether Codex is set up to use it (`enabled`), rotation across ChatGPT accounts (off by
 * default), the placeholder login's account id, and the config.toml edits `gateway enable` made
 * (for `gateway disable`).
 */
import { randomBytes } from 'node:crypto';
import { atomicWriteFile, ensurePrivateDir } from '../store/atomic.js';
import { DEFAULT_GATEWAY_PORT, type GatewaySettings, peekGatewaySettings, settingsFile } from './peek.js';
import { placeholderAccountId } from './placeholder.js';

export { DEFAULT_GATEWAY_PORT, type GatewaySettings, gatewayEnabled, peekGatewaySettings, settingsFile } from './peek.js';

export function saveGatewaySettings(home: string, settings: GatewaySettings): void {
  ensurePrivateDir(home);
  atomicWriteFile(settingsFile(home), `${JSON.stringify(settings, null, 2)}\n`);
}

/** The settings, created (with a new secret) on first use. */
export function loadGatewaySettings(home: string): GatewaySettings {
  const found = peekGatewaySettings(home);
  if (found) return found.accountId ? found : { ...found, accountId: placeholderAccountId(found.secret) };
  const secret = randomBytes(32).toString('base64url');
  const settings: GatewaySettings = { secret, port: DEFAULT_GATEWAY_PORT, enabled: false, rotate: false, accountId: placeholderAccountId(secret), config: null, upstreamChatgptBaseUrl: null };
  saveGatewaySettings(home, settings);
  return settings;
}
