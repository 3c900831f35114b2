/** An in-memory OS keyring double for in-process tests (the real one is tested in test/keyring). */
import type { KeyringBackend } from '../../src/store/keyring.js';

export class MemoryKeyring implements KeyringBackend {
  readonly name = 'memory';
  readonly entries = new Map<string, string>();
  /** 'unavailable' makes every call fail like a missing Secret Service; 'hang' never answers. */
  mode: 'ok' | 'unavailable' | 'hang' = 'ok';

  private check(): Promise<void> {
    if (this.mode === 'hang') return new Promise(() => {});
    if (this.mode === 'unavailable') return Promise.reject(new Error('Platform secure storage failure: DBus error: The name org.freedesktop.secrets was not provided by any .service files'));
    return Promise.resolve();
  }

  async get(service: string, account: string): Promise<string | null> {
    await this.check();
    return this.entries.get(`${service}\u0000${account}`) ?? null;
  }

  async set(service: string, account: string, value: string): Promise<void> {
    await this.check();
    this.entries.set(`${service}\u0000${account}`, value);
  }

  async delete(service: string, account: string): Promise<boolean> {
    await this.check();
    return this.entries.delete(`${service}\u0000${account}`);
  }

  /** All values, for "the secret is there and nowhere else" checks. */
  values(): string[] {
    return [...this.entries.values()];
  }
}
