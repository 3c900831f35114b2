/**
 * Per-invocation wiring: resolved paths, output, registry, secret stores, live credentials.
 * Built lazily from the injected Ctx so each command pays only for what it uses.
 */
import type { Ctx } from '../platform/context.js';
import { type CodexConfig, readCodexConfig } from '../store/codex-config.js';
import { FileLiveCredentials, type LiveCredentials } from '../store/live.js';
import { type Paths, resolvePaths } from '../store/paths.js';
import { RegistryStore } from '../store/registry.js';
import type { Account, SecretRef } from '../domain/types.js';
import { FileSecretStore, fileRefFor, type SecretStore, Secrets } from '../store/secrets.js';
import type { HttpClient } from '../platform/http.js';
import type { ProcessInfo } from '../platform/processes.js';
import type { AccountPicker, Deps, Reporter } from '../services/deps.js';
import { Output } from '../ui/output.js';
import { canPrompt, pick } from '../ui/prompts.js';

/**
 * The factory fields a command can declare it needs (CommandSpec.needs): the injected context
 * (streams, TTY flags, platform...), the output, the global options, and what services need.
 */
export type Need = 'ctx' | 'out' | 'opts' | keyof Deps;

/** What a handler that declared `K` receives: those fields of the factory and nothing else. */
export type Uses<K extends Need> = Pick<App, K>;

/** Every field services need (the Deps of src/services/deps.ts): for commands that call services. */
export const SERVICES = ['env', 'now', 'paths', 'registry', 'secrets', 'config', 'live', 'http', 'codexProcesses', 'secretRefFor', 'report', 'picker'] as const;
export type Services = (typeof SERVICES)[number];
/** Compile-time: SERVICES lists exactly the keys of Deps. */
export const SERVICES_ARE_DEPS: [Exclude<keyof Deps, Services>, Exclude<Services, keyof Deps>] extends [never, never] ? true : false = true;

/**
 * The view of `app` a handler gets: only the `needs` fields, each still created on first use (a
 * handler that declared the registry but never touches it never loads it). Methods stay bound.
 */
export function only<K extends Need>(app: App, needs: readonly K[]): Uses<K> {
  const view = {};
  for (const k of needs) {
    Object.defineProperty(view, k, {
      enumerable: true,
      get: () => {
        const v = app[k] as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(app) : v;
      },
    });
  }
  return view as Uses<K>;
}

export interface GlobalOptions {
  codexHome?: string;
  json?: boolean;
  debug?: boolean;
}

export class App implements Deps {
  readonly out: Output;
  private _paths?: Paths;
  private _registry?: RegistryStore;
  private _secrets?: Secrets;
  private _config?: Promise<CodexConfig>;
  private _live?: Promise<LiveCredentials>;

  private constructor(
    readonly ctx: Ctx,
    readonly opts: GlobalOptions,
    out: Output,
  ) {
    this.out = out;
  }

  static async create(ctx: Ctx, opts: GlobalOptions): Promise<App> {
    return new App(ctx, opts, Output.create(ctx.stdout, ctx.stderr, ctx.env, { json: Boolean(opts.json), debug: Boolean(opts.debug) }));
  }

  get env(): NodeJS.ProcessEnv {
    return this.ctx.env;
  }

  now(): Date {
    return this.ctx.now();
  }

  http(): Promise<HttpClient> {
    return this.ctx.http();
  }

  codexProcesses(): Promise<ProcessInfo[]> {
    return this.ctx.codexProcesses(this.paths.codexHome);
  }

  /** Services report to the command's output. */
  get report(): Reporter {
    return this.out;
  }

  /** The interactive account picker on stdin/stderr (its module loads when it opens). */
  get picker(): AccountPicker {
    const ctx = this.ctx;
    return {
      interactive: canPrompt(ctx),
      pick: (title, choices, initial) => pick(ctx, title, choices, initial),
    };
  }

  get paths(): Paths {
    return (this._paths ??= resolvePaths({
      ...(this.opts.codexHome !== undefined ? { codexHomeFlag: this.opts.codexHome } : {}),
      env: this.ctx.env,
      homedir: this.ctx.homedir,
      cwd: this.ctx.cwd,
    }));
  }

  get registry(): RegistryStore {
    return (this._registry ??= new RegistryStore(this.paths, (m) => this.out.warn(m), () => this.now()));
  }

  get secrets(): Secrets {
    return (this._secrets ??= new Secrets({
      file: () => new FileSecretStore(this.paths.accountsDir),
      keyring: () => new LazyStore('keyring', this.ctx.platform, async () => {
        const k = await import('../store/keyring.js');
        return new k.KeyringSecretStore({
          home: this.paths.home,
          timeoutMs: k.keyringTimeoutFromEnv(this.env),
          backend: this.ctx.keyringBackend ? await this.ctx.keyringBackend() : new k.NapiKeyringBackend({ env: this.env }),
        });
      }),
    }));
  }

  config(): Promise<CodexConfig> {
    return (this._config ??= readCodexConfig(this.paths.configToml));
  }

  /** Where Codex reads the active account: auth.json, its keyring entry, or either (auto). */
  live(): Promise<LiveCredentials> {
    return (this._live ??= this.config().then(async (cfg) => {
      const debug = (m: string) => this.out.debug(m);
      if (cfg.credentialStore === 'keyring' || cfg.credentialStore === 'auto') {
        const k = await import('../store/keyring.js');
        const l = await import('../store/live-keyring.js');
        const backend = this.ctx.keyringBackend ? await this.ctx.keyringBackend() : new k.NapiKeyringBackend({ env: this.env });
        const opts = { env: this.env, debug, warn: (m: string) => this.out.warn(m), backend, timeoutMs: k.keyringTimeoutFromEnv(this.env), platform: this.ctx.platform };
        return cfg.credentialStore === 'keyring' ? new l.KeyringLiveCredentials(this.paths, opts) : new l.AutoLiveCredentials(this.paths, opts);
      }
      return new FileLiveCredentials(this.paths, cfg.credentialStore, { env: this.ctx.env, debug, warn: (m: string) => this.out.warn(m) });
    }));
  }

  /**
   * Where a new account's secret goes (SPEC "Identity and storage"): API keys in the OS keyring
   * (a 0600 file only with --insecure-storage); ChatGPT snapshots in 0600 files, or in the keyring
   * with CODEX_AUTH_STORE=keyring.
   */
  secretRefFor(kind: Account['kind'], id: string, opts: { insecure?: boolean } = {}): SecretRef {
    const ref = fileRefFor(id);
    if (kind === 'apikey') return { store: opts.insecure ? 'file' : 'keyring', ref };
    return { store: this.env.CODEX_AUTH_STORE === 'keyring' ? 'keyring' : 'file', ref };
  }
}

/** A secret store whose module loads on first use (the keyring binding is heavy). */
class LazyStore implements SecretStore {
  private inner?: Promise<SecretStore>;
  constructor(
    readonly kind: SecretRef['store'],
    private readonly platform: NodeJS.Platform,
    private readonly load: () => Promise<SecretStore>,
  ) {}
  private get store(): Promise<SecretStore> {
    return (this.inner ??= this.load());
  }
  async get(ref: string): Promise<string | null> {
    return (await this.store).get(ref);
  }
  async set(ref: string, value: string): Promise<void> {
    return (await this.store).set(ref, value);
  }
  async delete(ref: string): Promise<boolean> {
    return (await this.store).delete(ref);
  }
  describe(): string {
    const name = this.platform === 'darwin' ? 'macOS Keychain' : this.platform === 'win32' ? 'Windows Credential Manager' : 'Secret Service';
    return `OS keyring (${name}), service codex-auth`;
  }
}
