/**
 * gateway.json read without node:crypto (list, status, switch and watch ask whether the gateway is
 * on): the settings as stored. Written by src/gateway/settings.ts.
 */
import path from 'node:path';
import { readFileIfExists } from '../store/atomic.js';
import type { EditRecord } from './config-toml.js';

export const DEFAULT_GATEWAY_PORT = 47310;

export interface GatewaySettings {
  /** Checked on every request; Codex sends it inside its placeholder access token. */
  secret: string;
  /** The ChatGPT-backend origin listens on this port, the model origin on port + 1. */
  port: number;
  /** Codex is set up to use the gateway (`gateway enable`). */
  enabled: boolean;
  /** Other ChatGPT accounts may serve when the chosen one is exhausted (`gateway enable --rotate`). */
  rotate: boolean;
  /** The account id of Codex's placeholder login. */
  accountId: string;
  /** What `gateway enable` changed in config.toml, and whether it created the file. */
  config: { records: EditRecord[]; created: boolean } | null;
  /** The chatgpt_base_url config.toml had before enable (the gateway's upstream), if any. */
  upstreamChatgptBaseUrl: string | null;
}

export function settingsFile(home: string): string {
  return path.join(home, 'gateway.json');
}

/** The settings as stored, or null when there are none (no file, or not readable as settings). */
export function peekGatewaySettings(home: string): GatewaySettings | null {
  const text = readFileIfExists(settingsFile(home));
  if (text === null) return null;
  try {
    const doc = JSON.parse(text) as Partial<GatewaySettings>;
    if (typeof doc.secret !== 'string' || doc.secret.length < 32) return null;
    const records = Array.isArray(doc.config?.records) ? doc.config.records.filter((r) => typeof r?.path === 'string' && typeof r.line === 'string' && (typeof r.previous === 'string' || r.previous === null)) : null;
    return {
      secret: doc.secret,
      port: Number.isInteger(doc.port) ? (doc.port as number) : DEFAULT_GATEWAY_PORT,
      enabled: doc.enabled === true,
      rotate: doc.rotate === true,
      accountId: typeof doc.accountId === 'string' ? doc.accountId : '',
      config: records ? { records, created: doc.config?.created === true } : null,
      upstreamChatgptBaseUrl: typeof doc.upstreamChatgptBaseUrl === 'string' ? doc.upstreamChatgptBaseUrl : null,
    };
  } catch {
    return null;
  }
}

/** Whether Codex is set up to use the gateway (`gateway enable`), from gateway.json alone. */
export function gatewayEnabled(home: string): boolean {
  return peekGatewaySettings(home)?.enabled === true;
}

/** config.toml's chatgpt_base_url for codex-auth's own requests: the gateway's upstream when it points at the gateway. */
export function upstreamOf(home: string, configured: string | null): string | null {
  if (configured === null || !/^http:\/\/127\.0\.0\.1:\d+\//.test(configured)) return configured;
  const s = peekGatewaySettings(home);
  return s?.enabled && configured.startsWith(`http://127.0.0.1:${s.port}/`) ? s.upstreamChatgptBaseUrl : configured;
}
