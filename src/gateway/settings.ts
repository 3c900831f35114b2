/** The gateway's own settings in codex-auth's home (gateway.json, 0600): the installation secret and the port. */
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { atomicWriteFile, ensurePrivateDir, readFileIfExists } from '../store/atomic.js';

export const DEFAULT_GATEWAY_PORT = 47310;

export interface GatewaySettings {
  /** Checked on every request; Codex sends it inside its placeholder access token. */
  secret: string;
  /** The ChatGPT-backend origin listens on this port, the model origin on port + 1. */
  port: number;
}

export function settingsFile(home: string): string {
  return path.join(home, 'gateway.json');
}

/** The settings, created (with a new secret) on first use. */
export function loadGatewaySettings(home: string): GatewaySettings {
  const file = settingsFile(home);
  const text = readFileIfExists(file);
  if (text !== null) {
    try {
      const doc = JSON.parse(text) as Partial<GatewaySettings>;
      if (typeof doc.secret === 'string' && doc.secret.length >= 32) {
        return { secret: doc.secret, port: Number.isInteger(doc.port) ? (doc.port as number) : DEFAULT_GATEWAY_PORT };
      }
    } catch {
      /* unreadable: replaced by new settings below */
    }
  }
  const settings: GatewaySettings = { secret: randomBytes(32).toString('base64url'), port: DEFAULT_GATEWAY_PORT };
  ensurePrivateDir(home);
  atomicWriteFile(file, `${JSON.stringify(settings, null, 2)}\n`);
  return settings;
}
