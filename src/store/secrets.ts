/**
 * Secret stores. Every account's secret is its Codex auth.json snapshot (compact JSON), kept whole so
 * unknown fields survive. The registry only holds a SecretRef: which store and which entry.
 * Backends: files (0600, in a 0700 folder) here; the OS keyring plugs in through the same interface.
 */
import { unlinkSync } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../errors.js';
import { atomicWriteFile, ensurePrivateDir, readFileIfExists } from './atomic.js';
import type { SecretRef } from '../domain/types.js';

export interface SecretStore {
  readonly kind: SecretRef['store'];
  get(ref: string): Promise<string | null>;
  set(ref: string, value: string): Promise<void>;
  /** True when something was deleted. */
  delete(ref: string): Promise<boolean>;
  /** Human description for `status`, e.g. "files in ~/.codex/codex-auth/accounts (0600)". */
  describe(): string;
}

/** A file name that is safe on every platform and stable for an account id. */
export function fileRefFor(accountId: string): string {
  return accountId.replace(/[^A-Za-z0-9._-]/g, '_');
}

export class FileSecretStore implements SecretStore {
  readonly kind = 'file' as const;
  constructor(private readonly dir: string) {}

  pathOf(ref: string): string {
    if (ref.includes('/') || ref.includes('\\') || ref.startsWith('.')) throw new Error(`invalid secret reference ${JSON.stringify(ref)}`);
    return path.join(this.dir, `${ref}.json`);
  }

  async get(ref: string): Promise<string | null> {
    return readFileIfExists(this.pathOf(ref));
  }

  async set(ref: string, value: string): Promise<void> {
    ensurePrivateDir(this.dir);
    atomicWriteFile(this.pathOf(ref), value.endsWith('\n') ? value : `${value}\n`);
  }

  async delete(ref: string): Promise<boolean> {
    try {
      unlinkSync(this.pathOf(ref));
      return true;
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return false;
      throw e;
    }
  }

  describe(): string {
    return `files in ${this.dir} (0600)`;
  }
}

/** Picks the backend named by a SecretRef. Backends are created lazily (the keyring is heavy). */
export class Secrets {
  private readonly backends = new Map<SecretRef['store'], SecretStore>();
  constructor(private readonly factories: Partial<Record<SecretRef['store'], () => SecretStore>>) {}

  store(kind: SecretRef['store']): SecretStore {
    let s = this.backends.get(kind);
    if (!s) {
      const f = this.factories[kind];
      if (!f) throw new Error(`secret store "${kind}" is not available`);
      s = f();
      this.backends.set(kind, s);
    }
    return s;
  }

  get(ref: SecretRef): Promise<string | null> {
    return this.store(ref.store).get(ref.ref);
  }
  set(ref: SecretRef, value: string): Promise<void> {
    return this.store(ref.store).set(ref.ref, value);
  }
  delete(ref: SecretRef): Promise<boolean> {
    return this.store(ref.store).delete(ref.ref);
  }
}
