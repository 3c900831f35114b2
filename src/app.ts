/**
 * Per-invocation wiring: resolved paths, output, registry, secret stores, live credentials.
 * Built lazily from the injected Ctx so each command pays only for what it uses.
 */
import type { Ctx } from './context.js';
import { type CodexConfig, readCodexConfig } from './store/codex-config.js';
import { FileLiveCredentials, type LiveCredentials } from './store/live.js';
import { type Paths, resolvePaths } from './store/paths.js';
import { RegistryStore } from './store/registry.js';
import type { Account, SecretRef } from './store/registry-schema.js';
import { FileSecretStore, fileRefFor, Secrets } from './store/secrets.js';
import { Output } from './ui/output.js';

export interface GlobalOptions {
  codexHome?: string;
  json?: boolean;
  debug?: boolean;
}

export class App {
  readonly out: Output;
  private _paths?: Paths;
  private _registry?: RegistryStore;
  private _secrets?: Secrets;
  private _config?: Promise<CodexConfig>;
  private _live?: Promise<LiveCredentials>;

  constructor(
    readonly ctx: Ctx,
    readonly opts: GlobalOptions,
  ) {
    this.out = new Output(ctx.stdout, ctx.stderr, ctx.env, { json: Boolean(opts.json), debug: Boolean(opts.debug) });
  }

  get env(): NodeJS.ProcessEnv {
    return this.ctx.env;
  }

  now(): Date {
    return this.ctx.now();
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
    }));
  }

  config(): Promise<CodexConfig> {
    return (this._config ??= readCodexConfig(this.paths.configToml));
  }

  live(): Promise<LiveCredentials> {
    return (this._live ??= this.config().then(
      (cfg) => new FileLiveCredentials(this.paths, cfg.credentialStore, { env: this.ctx.env, debug: (m) => this.out.debug(m) }),
    ));
  }

  /** Where a new account's secret goes (SPEC "Identity and storage"). */
  secretRefFor(kind: Account['kind'], id: string): SecretRef {
    void kind;
    return { store: 'file', ref: fileRefFor(id) };
  }
}
