/**
 * `codex-auth doctor [--json]`: read-only health checks, each with a status (ok / warn / fail), a
 * one-line finding and, when not ok, the exact fix. Exit 1 when any check failed, else 0.
 *
 * Nothing is modified: no sync, no lock held (the lock check only tries each of codex-auth's locks
 * without waiting and lets go at once), no registry write (a corrupt registry is reported, not moved
 * aside), no directory created. The only side effect is the keyring probe's throw-away entry, which
 * it deletes again within the same timeout. No secret is ever printed: secrets are read only to check
 * that they exist and parse, and environment values are reported as "set".
 */
import { spawn } from 'node:child_process';
import { type Stats, accessSync, constants, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Uses } from '../cli/app.js';
import { describeAccount } from '../domain/accounts.js';
import { AuthFileError, chatgptIdentity, type ParsedAuth, parseAuthJson, sha256Hex } from '../domain/authfile.js';
import { maskKey } from '../domain/mask.js';
import { numbered } from '../domain/view.js';
import { CliError, describeError, errnoCode } from '../errors.js';
import type { CodexConfig } from '../store/codex-config.js';
import type { KeyringBackend, KeyringProbeResult } from '../store/keyring.js';
import { type Paths, pathsUnder } from '../store/paths.js';
import { duplicateIds } from '../store/registry-duplicates.js';
import { migrate, Registry, REGISTRY_VERSION } from '../store/registry-schema.js';

/** What this command gets of the factory: its `needs` in src/cli/commands.ts. */
type Needs = Uses<'ctx' | 'env' | 'now' | 'opts' | 'out' | 'paths'>;

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  id: string;
  status: CheckStatus;
  /** One line: what was found. */
  message: string;
  /** The exact command or action that fixes it; null when ok. */
  fix: string | null;
}

const TITLES: Record<string, string> = {
  codex_home: 'Codex home',
  permissions: 'Permissions',
  credential_store: 'Codex credentials',
  keyring: 'OS keyring',
  env_overrides: 'Environment',
  codex_binary: 'Codex CLI',
  registry: 'Registry',
  orphaned_secrets: 'Orphaned secrets',
  stale_locks: 'Locks',
  gateway: 'Gateway',
  gateway_login: 'Gateway login',
};

/** Variables that make Codex use an API key instead of the active account. Values are never shown. */
const KEY_ENV = ['OPENAI_API_KEY', 'CODEX_API_KEY'] as const;
const VERSION_TIMEOUT_MS = 5000;
const LIST_MAX = 3;

const ok = (id: string, message: string): Check => ({ id, status: 'ok', message, fix: null });
const warn = (id: string, message: string, fix: string): Check => ({ id, status: 'warn', message, fix });
const fail = (id: string, message: string, fix: string): Check => ({ id, status: 'fail', message, fix });

/** A path quoted for a POSIX shell command the user can paste. */
export function shq(p: string): string {
  return /^[A-Za-z0-9_./@%+=:,-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`;
}

function modeText(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function listSome(items: readonly string[]): string {
  const head = items.slice(0, LIST_MAX).join(', ');
  return items.length > LIST_MAX ? `${head} and ${items.length - LIST_MAX} more` : head;
}

function statOrNull(p: string): Stats | null {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}

function readDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------------------------------------
// Paths (never throwing: a missing CODEX_HOME is a finding, not a crash)

interface HomeInfo {
  paths: Paths;
  /** Set when CODEX_HOME / --codex-home names a missing directory or a file: where the value came from. */
  problem: { source: string } | null;
}

function layout(codexHome: string, app: Needs): Paths {
  return pathsUnder(codexHome, false, { env: app.env, cwd: app.ctx.cwd });
}

function resolveForDoctor(app: Needs): HomeInfo {
  try {
    return { paths: app.paths, problem: null };
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    // The same layout as resolvePaths without its existence check, so the other checks still run.
    const flag = app.opts.codexHome;
    const source = flag !== undefined ? '--codex-home' : 'CODEX_HOME';
    const codexHome = path.resolve(app.ctx.cwd, flag ?? app.env.CODEX_HOME ?? path.join(app.ctx.homedir, '.codex'));
    return { paths: layout(codexHome, app), problem: { source } };
  }
}

// ---------------------------------------------------------------------------------------------
// Codex home

function checkCodexHome(info: HomeInfo): Check {
  const { paths, problem } = info;
  const id = 'codex_home';
  if (problem) {
    const st = statOrNull(paths.codexHome);
    if (!st) return fail(id, `${problem.source} points to ${paths.codexHome}, which does not exist`, `mkdir -p ${shq(paths.codexHome)} (or point ${problem.source} at the right directory)`);
    return fail(id, `${problem.source} points to ${paths.codexHome}, which is not a directory`, `point ${problem.source} at a directory`);
  }
  if (!paths.codexHomeExists) {
    return warn(id, `${paths.codexHome} does not exist yet: nothing is logged in to Codex here`, 'codex-auth login (or log in with codex once)');
  }
  try {
    accessSync(paths.codexHome, constants.W_OK | constants.X_OK);
  } catch {
    return fail(id, `${paths.codexHome} is not writable by you: codex-auth cannot switch what Codex uses`, `chmod u+rwx ${shq(paths.codexHome)} (or chown it to your user)`);
  }
  const st = statOrNull(paths.home);
  if (st && !st.isDirectory()) return fail(id, `codex-auth's home ${paths.home} is not a directory`, `move ${shq(paths.home)} out of the way (or set CODEX_AUTH_HOME to a directory)`);
  if (st) {
    try {
      accessSync(paths.home, constants.W_OK | constants.X_OK);
    } catch {
      return fail(id, `codex-auth's home ${paths.home} is not writable by you`, `chmod u+rwx ${shq(paths.home)} (or chown it to your user)`);
    }
  }
  const inside = path.dirname(paths.home) === paths.codexHome;
  return ok(id, `${paths.codexHome} is a writable directory${inside ? '' : `; codex-auth home ${paths.home}`}`);
}

// ---------------------------------------------------------------------------------------------
// Permissions

function filesIn(dir: string, keep: (name: string) => boolean): string[] {
  return readDir(dir)
    .filter(keep)
    .map((f) => path.join(dir, f))
    .filter((p) => statOrNull(p)?.isFile() === true);
}

function checkPermissions(paths: Paths, platform: NodeJS.Platform): Check {
  const id = 'permissions';
  if (platform === 'win32') return ok(id, 'not checked on Windows (your user profile\'s ACLs protect these files)');
  const dirs = [paths.home, paths.accountsDir, paths.backupsDir, path.join(paths.home, 'locks'), path.join(paths.home, 'pending')].filter((d) => statOrNull(d)?.isDirectory() === true);
  const files = [
    paths.authJson,
    paths.registry,
    paths.eventsLog,
    `${paths.eventsLog}.1`,
    ...filesIn(paths.accountsDir, () => true),
    ...filesIn(paths.backupsDir, () => true),
    ...filesIn(path.join(paths.home, 'pending'), () => true),
  ].filter((f) => statOrNull(f)?.isFile() === true);
  const open = (p: string): number | null => {
    const st = statOrNull(p);
    return st && (st.mode & 0o077) !== 0 ? st.mode : null;
  };
  const badDirs = dirs.flatMap((d) => {
    const m = open(d);
    return m === null ? [] : [{ p: d, m }];
  });
  const badFiles = files.flatMap((f) => {
    const m = open(f);
    return m === null ? [] : [{ p: f, m }];
  });
  if (badDirs.length === 0 && badFiles.length === 0) {
    if (dirs.length + files.length === 0) return ok(id, 'nothing to check yet (no auth.json, no codex-auth files)');
    return ok(id, `private: ${plural(dirs.length, 'folder')} 0700, ${plural(files.length, 'file')} 0600${files.includes(paths.authJson) ? ' (auth.json included)' : ''}`);
  }
  const found = [...badDirs, ...badFiles].map((b) => `${b.p} (${modeText(b.m)})`);
  const fixes: string[] = [];
  if (badDirs.length) fixes.push(`chmod 700 ${badDirs.map((b) => shq(b.p)).join(' ')}`);
  if (badFiles.length) fixes.push(`chmod 600 ${badFiles.map((b) => shq(b.p)).join(' ')}`);
  const n = badDirs.length + badFiles.length;
  return warn(id, `${n === 1 ? 'readable' : `${n} paths readable`} by other users: ${listSome(found)}`, fixes.join(' && '));
}

// ---------------------------------------------------------------------------------------------
// Codex's credential store

type ConfigRead = { ok: true; cfg: CodexConfig } | { ok: false; message: string };

async function readConfig(file: string): Promise<ConfigRead> {
  try {
    const { readCodexConfig } = await import('../store/codex-config.js');
    return { ok: true, cfg: await readCodexConfig(file) };
  } catch (e) {
    const message = e instanceof CliError ? e.message.replace(/\s*Fix it; Codex cannot read it either\.\s*$/, '') : `${file} could not be read (${errnoCode(e) ?? describeError(e)})`;
    return { ok: false, message };
  }
}

/** Who the live credentials belong to, from the registry when it knows them. Never a secret. */
function whoIs(auth: ParsedAuth, reg: Registry | null): string {
  if (auth.mode === 'chatgpt') {
    try {
      const id = chatgptIdentity(auth);
      const acc = reg?.accounts.find((a) => a.id === id.id);
      return acc ? describeAccount(acc) : `${id.email ?? 'a ChatGPT account'} (${id.plan}; not in the registry yet, the next codex-auth command adds it)`;
    } catch {
      return 'a ChatGPT login without a usable identity';
    }
  }
  const hash = sha256Hex(auth.apiKey ?? '');
  const acc = reg?.accounts.find((a) => a.kind === 'apikey' && a.id.split('::')[2] === hash);
  return acc ? describeAccount(acc) : `an API key codex-auth does not know yet (${maskKey(auth.apiKey ?? '')}: run "codex-auth import" to identify it)`;
}

function parseLive(text: string, where: string, reg: Registry | null): { ok: true; who: string } | { ok: false; message: string } {
  try {
    return { ok: true, who: whoIs(parseAuthJson(text), reg) };
  } catch (e) {
    return { ok: false, message: `${where} ${e instanceof AuthFileError ? e.message : 'could not be parsed'}` };
  }
}

interface StoreDeps {
  paths: Paths;
  config: ConfigRead;
  reg: Registry | null;
  keyringOk: () => Promise<KeyringProbeResult>;
  readCodexEntry: () => Promise<string | null>;
  /** Set to the credentials Codex reads (null: none) once the check knows them. */
  live?: { text: string | null };
}

async function checkCredentialStore(d: StoreDeps): Promise<Check> {
  const id = 'credential_store';
  const { paths } = d;
  if (!d.config.ok) return fail(id, `${d.config.message}: Codex cannot start with it either`, `fix the syntax of ${shq(paths.configToml)} (at the line the message names)`);
  const cfg = d.config.cfg;
  const mode = `${cfg.credentialStore} mode${cfg.credentialStoreExplicit ? ' (config.toml)' : ' (default)'}`;
  const notLoggedIn = d.reg && d.reg.accounts.length > 0 ? 'codex-auth switch QUERY (see codex-auth list)' : 'codex-auth login';
  const toFile = `set cli_auth_credentials_store = "file" in ${shq(paths.configToml)}`;
  let fileText: string | null;
  try {
    fileText = readFileSync(paths.authJson, 'utf8');
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') return fail(id, `${mode}: cannot read ${paths.authJson} (${errnoCode(e) ?? describeError(e)})`, `chmod 600 ${shq(paths.authJson)} (and make sure you own it)`);
    fileText = null;
  }
  const fromFile = (prefix: string): Check => {
    d.live = { text: fileText };
    if (fileText === null) return warn(id, `${prefix}: ${paths.authJson} does not exist, so Codex is not logged in`, notLoggedIn);
    const p = parseLive(fileText, paths.authJson, d.reg);
    if (!p.ok) return fail(id, `${prefix}: ${p.message}, so Codex cannot use it`, `${notLoggedIn === 'codex-auth login' ? 'codex login' : notLoggedIn} to write good credentials`);
    return ok(id, `${prefix}: Codex reads ${paths.authJson}: ${p.who}`);
  };
  const ignoredFile = `codex-auth import ${shq(paths.authJson)} && rm ${shq(paths.authJson)}`;

  switch (cfg.credentialStore) {
    case 'file':
      return fromFile(mode);
    case 'ephemeral':
      return warn(id, `${mode}: Codex keeps its login in memory only and reads neither ${paths.authJson} nor the OS keyring, so codex-auth cannot change the account Codex uses (switch refuses)`, toFile);
    case 'keyring':
    case 'auto': {
      const probe = await d.keyringOk();
      if (!probe.ok) {
        if (cfg.credentialStore === 'keyring') {
          return fail(id, `${mode}: Codex reads its credentials from the OS keyring, which is unreachable (${probe.error.reason})`, `fix the OS keyring (see its fix), or ${toFile}`);
        }
        const f = fromFile(`${mode}, OS keyring unreachable (${probe.error.reason}), so Codex falls back to the file`);
        return f.status === 'ok' ? warn(id, f.message, `fix the OS keyring (see its fix): a keyring entry Codex wrote earlier wins again once it is reachable`) : f;
      }
      let entry: string | null;
      try {
        entry = await d.readCodexEntry();
      } catch (e) {
        return fail(id, `${mode}: Codex's keyring entry cannot be read (${(e as { reason?: string }).reason ?? 'error'})`, `fix the OS keyring (see its fix), or ${toFile}`);
      }
      if (entry === null) {
        if (cfg.credentialStore === 'auto') return fromFile(`${mode}, no keyring entry`);
        d.live = { text: null };
        const extra = fileText !== null ? `; ${paths.authJson} exists but Codex ignores it in keyring mode` : '';
        return warn(id, `${mode}: no "Codex Auth" keyring entry for this CODEX_HOME, so Codex is not logged in${extra}`, notLoggedIn);
      }
      d.live = { text: entry };
      const p = parseLive(entry, 'Codex\'s keyring entry', d.reg);
      if (!p.ok) return fail(id, `${mode}: ${p.message}, so Codex cannot use it`, `${notLoggedIn} to write good credentials`);
      if (fileText !== null) {
        return warn(id, `${mode}: Codex reads its keyring entry (${p.who}); ${paths.authJson} also exists and is ignored while that entry exists`, ignoredFile);
      }
      return ok(id, `${mode}: Codex reads its OS keyring entry: ${p.who}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Keyring

/** What relies on the OS keyring here, for the keyring check's verdict. */
function keyringUsers(config: ConfigRead, reg: Registry | null, env: NodeJS.ProcessEnv): string[] {
  const users: string[] = [];
  const stored = reg?.accounts.filter((a) => a.secret.store === 'keyring').length ?? 0;
  if (stored) users.push(`${plural(stored, 'stored secret')}`);
  if (config.ok && (config.cfg.credentialStore === 'keyring' || config.cfg.credentialStore === 'auto')) users.push(`Codex's ${config.cfg.credentialStore} mode`);
  if (env.CODEX_AUTH_STORE === 'keyring') users.push('CODEX_AUTH_STORE=keyring');
  return users;
}

/**
 * Unreachable is a failure when something here keeps secrets in the keyring; when nothing does yet
 * it is a warning (a headless machine with file-only ChatGPT accounts is healthy, but add-api-key
 * would need --insecure-storage).
 */
function keyringCheck(probe: KeyringProbeResult, users: string[]): Check {
  if (probe.ok) return ok('keyring', `${probe.backend} reachable (write, read and delete took ${probe.ms} ms)`);
  const msg = probe.error.message;
  const cut = msg.lastIndexOf(': ');
  const finding = cut > 0 ? msg.slice(0, cut) : msg;
  const fix = cut > 0 ? msg.slice(cut + 2).replace(/\.$/, '') : 'run codex-auth doctor --debug for details';
  if (users.length) return fail('keyring', `${finding}; needed by ${users.join(', ')}`, fix);
  return warn('keyring', `${finding}; nothing uses it yet, but add-api-key stores API keys there`, fix);
}

// ---------------------------------------------------------------------------------------------
// Environment

function checkEnv(env: NodeJS.ProcessEnv): Check {
  const set = KEY_ENV.filter((k) => (env[k] ?? '') !== '');
  if (set.length === 0) return ok('env_overrides', 'neither OPENAI_API_KEY nor CODEX_API_KEY is set');
  return warn(
    'env_overrides',
    `${set.join(' and ')} ${set.length === 1 ? 'is' : 'are'} set (value not shown): Codex may use ${set.length === 1 ? 'it' : 'them'} instead of the active account`,
    `unset ${set.join(' ')} (and remove ${set.length === 1 ? 'it' : 'them'} from your shell profile)`,
  );
}

// ---------------------------------------------------------------------------------------------
// Codex binary

type VersionRun = { ok: true; version: string } | { ok: false; why: string };

function codexVersion(bin: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<VersionRun> {
  return new Promise((resolve) => {
    let out = '';
    let err = '';
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const done = (r: VersionRun): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(bin, ['--version'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: process.platform !== 'win32' });
    } catch (e) {
      resolve({ ok: false, why: errnoCode(e) ?? describeError(e) });
      return;
    }
    timer = setTimeout(() => {
      try {
        if (child.pid !== undefined && process.platform !== 'win32') process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        /* gone */
      }
      done({ ok: false, why: `no answer within ${timeoutMs / 1000} s` });
    }, timeoutMs);
    child.stdout?.on('data', (b: Buffer) => {
      if (out.length < 4096) out += b.toString('utf8');
    });
    child.stderr?.on('data', (b: Buffer) => {
      if (err.length < 4096) err += b.toString('utf8');
    });
    child.on('error', (e) => done({ ok: false, why: errnoCode(e) ?? e.message }));
    child.on('close', (code, signal) => {
      // The version is what codex prints on stdout (`codex-cli 0.169.0`); a warning on stderr is
      // not a version. Control characters never reach the terminal.
      const printable = (l: string) => l.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').trim();
      const version = out.split('\n').map(printable).find((l) => /\d+\.\d+/.test(l));
      if (code === 0 && version) done({ ok: true, version: version.slice(0, 80) });
      else if (code === 0) {
        const said = err.split('\n').map(printable).find((l) => l !== '');
        done({ ok: false, why: `it printed no version${said ? `; it said: ${said.slice(0, 80)}` : ''}` });
      } else done({ ok: false, why: signal ? `killed by ${signal}` : `exit code ${code}` });
    });
  });
}

async function checkCodexBinary(env: NodeJS.ProcessEnv): Promise<Check> {
  const id = 'codex_binary';
  const { findCodexBinary } = await import('../codex/binary.js');
  let bin: string;
  try {
    bin = findCodexBinary(env);
  } catch {
    if (env.CODEX_AUTH_CODEX_BIN) {
      return warn(id, `CODEX_AUTH_CODEX_BIN points to ${env.CODEX_AUTH_CODEX_BIN}, which is not an executable file`, 'point CODEX_AUTH_CODEX_BIN at the codex executable, or unset it to use codex from PATH');
    }
    return warn(id, 'the Codex CLI (codex) is not on PATH: codex-auth login and run need it', 'npm install -g @openai/codex (or set CODEX_AUTH_CODEX_BIN to its path)');
  }
  const r = await codexVersion(bin, env, VERSION_TIMEOUT_MS);
  if (!r.ok) return warn(id, `${bin} --version failed (${r.why})`, 'reinstall it: npm install -g @openai/codex');
  return ok(id, `${r.version} (${bin})`);
}

// ---------------------------------------------------------------------------------------------
// Registry (read-only: unlike RegistryStore.load, a corrupt file is reported and left where it is)

export type RegistryRead =
  | { kind: 'missing' }
  | { kind: 'ok'; registry: Registry }
  | { kind: 'too_new'; version: number }
  | { kind: 'invalid'; reason: string }
  | { kind: 'unreadable'; reason: string };

export function readRegistryReadOnly(file: string): RegistryRead {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return { kind: 'missing' };
    return { kind: 'unreadable', reason: errnoCode(e) ?? describeError(e) };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { kind: 'invalid', reason: 'it is not valid JSON' };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { kind: 'invalid', reason: 'it is not a JSON object' };
  const version = (doc as { version?: unknown }).version;
  if (typeof version === 'number' && version > REGISTRY_VERSION) return { kind: 'too_new', version };
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) return { kind: 'invalid', reason: 'it has no valid "version"' };
  let migrated: Record<string, unknown>;
  try {
    migrated = migrate(structuredClone(doc) as Record<string, unknown>);
  } catch (e) {
    return { kind: 'invalid', reason: `it could not be migrated (${describeError(e)})` };
  }
  const parsed = Registry.safeParse(migrated);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { kind: 'invalid', reason: `${issue ? issue.path.join('.') || '(root)' : '(root)'}: ${issue?.message ?? 'invalid'}` };
  }
  return { kind: 'ok', registry: parsed.data };
}

interface SecretReader {
  file(ref: string): Promise<string | null>;
  keyring(ref: string): Promise<string | null>;
}

async function checkRegistry(paths: Paths, read: RegistryRead, secrets: SecretReader, keyringUp: boolean): Promise<Check> {
  const id = 'registry';
  const file = paths.registry;
  const reimport = `codex-auth import ${shq(paths.accountsDir)}`;
  switch (read.kind) {
    case 'missing':
      return ok(id, `${file} does not exist yet (no accounts)`);
    case 'unreadable':
      if (read.reason === 'EISDIR') return fail(id, `${file} is a directory, not a file`, `mv ${shq(file)} ${shq(`${file}.bak`)} (codex-auth starts a new registry; then ${reimport} to register the stored secrets again)`);
      return fail(id, `${file} cannot be read (${read.reason})`, `chmod 600 ${shq(file)} (and make sure you own it)`);
    case 'too_new':
      return fail(id, `${file} has version ${read.version}, newer than this codex-auth understands (${REGISTRY_VERSION}); it is left untouched`, 'upgrade codex-auth');
    case 'invalid':
      return fail(id, `${file} is corrupt (${read.reason})`, `codex-auth list (it moves the file aside and starts a new registry), then ${reimport} to register the stored secrets again`);
    case 'ok':
      break;
  }
  const reg = read.registry;
  const dups = duplicateIds(reg);
  if (dups.size > 0) {
    const ids = [...dups.keys()];
    return warn(id, `${file} lists ${ids.length === 1 ? `the account ${ids[0]}` : `${ids.length} accounts (${ids.join(', ')})`} more than once`, 'any codex-auth command that changes the registry (codex-auth alias, switch, import) keeps only the newest entry; when their stored secrets differ, codex-auth refuses and the file must be edited by hand');
  }
  const missing: string[] = [];
  const broken: string[] = [];
  const unchecked: string[] = [];
  const missingNumbers: number[] = [];
  for (const { number, account } of numbered(reg.accounts, reg.nextNumber)) {
    const name = `#${number} ${describeAccount(account)}`;
    if (account.secret.store === 'keyring' && !keyringUp) {
      unchecked.push(name);
      continue;
    }
    let text: string | null;
    try {
      text = account.secret.store === 'file' ? await secrets.file(account.secret.ref) : await secrets.keyring(account.secret.ref);
    } catch (e) {
      if (account.secret.store === 'keyring') unchecked.push(name);
      else broken.push(`${name} (${errnoCode(e) ?? 'unreadable'})`);
      continue;
    }
    if (text === null) {
      missing.push(name);
      missingNumbers.push(number);
      continue;
    }
    try {
      parseAuthJson(text);
    } catch (e) {
      broken.push(`${name} (${e instanceof AuthFileError ? `stored secret ${e.message}` : 'unparsable'})`);
      missingNumbers.push(number);
    }
  }
  const bad = [...missing.map((m) => `${m} (no stored secret)`), ...broken];
  if (bad.length) {
    return fail(
      id,
      `${plural(bad.length, 'account')} cannot be switched to: ${listSome(bad)}`,
      `codex-auth remove ${missingNumbers.join(' ')} --yes, then add ${bad.length === 1 ? 'it' : 'them'} again (codex-auth login / codex-auth add-api-key)`,
    );
  }
  if (unchecked.length) {
    return warn(id, `${plural(unchecked.length, 'secret')} in the OS keyring could not be checked (keyring unreachable): ${listSome(unchecked)}`, 'fix the OS keyring (see its fix), then run codex-auth doctor again');
  }
  if (reg.fallback.keyId && !reg.accounts.some((a) => a.id === reg.fallback.keyId)) {
    return warn(id, 'the fallback API key is no longer in the registry', 'codex-auth fallback enable --key QUERY (or codex-auth fallback disable)');
  }
  return ok(id, `${file} (version ${reg.version}): ${plural(reg.accounts.length, 'account')}${reg.accounts.length ? ', every secret present' : ''}`);
}

// ---------------------------------------------------------------------------------------------
// Orphaned secrets

/** A crashed atomic write leaves `.<name>.<pid>.<hex>.tmp`; a young one may be in flight right now. */
const TEMP_FILE = /^\..+\.\d+\.[0-9a-f]+\.tmp$/;
const TEMP_MIN_AGE_MS = 60_000;

function checkOrphans(paths: Paths, read: RegistryRead, now: number): Check {
  const id = 'orphaned_secrets';
  const names = readDir(paths.accountsDir);
  const oldTemp = (dir: string) => (f: string) => TEMP_FILE.test(f) && now - (statOrNull(path.join(dir, f))?.mtimeMs ?? now) > TEMP_MIN_AGE_MS;
  const temps = [
    ...names.filter(oldTemp(paths.accountsDir)).map((f) => path.join(paths.accountsDir, f)),
    ...readDir(paths.codexHome)
      .filter((f) => f.startsWith('.auth.json.') && oldTemp(paths.codexHome)(f))
      .map((f) => path.join(paths.codexHome, f)),
  ];
  const secretFiles = names.filter((f) => f.endsWith('.json') && !f.startsWith('.')).map((f) => path.join(paths.accountsDir, f));
  if (read.kind !== 'ok' && read.kind !== 'missing') {
    if (secretFiles.length === 0 && temps.length === 0) return ok(id, `no secret files in ${paths.accountsDir}`);
    return warn(id, `cannot tell which of the ${plural(secretFiles.length + temps.length, 'secret file')} in ${paths.accountsDir} are orphaned while the registry cannot be read`, 'fix the registry first (see its fix)');
  }
  const referenced = new Set(read.kind === 'ok' ? read.registry.accounts.filter((a) => a.secret.store === 'file').map((a) => path.join(paths.accountsDir, `${a.secret.ref}.json`)) : []);
  const orphans = secretFiles.filter((f) => !referenced.has(f));
  if (orphans.length === 0 && temps.length === 0) {
    return ok(id, secretFiles.length ? `every secret file in ${paths.accountsDir} belongs to an account` : 'no secret files');
  }
  const parts: string[] = [];
  const fixes: string[] = [];
  if (orphans.length) {
    parts.push(`${plural(orphans.length, 'secret file')} no account refers to: ${listSome(orphans)}`);
    fixes.push(`codex-auth import ${shq(paths.accountsDir)} to register ${orphans.length === 1 ? 'it' : 'them'} again, or delete ${orphans.length === 1 ? 'it' : 'them'}: rm ${orphans.map(shq).join(' ')}`);
  }
  if (temps.length) {
    parts.push(`${plural(temps.length, 'temporary file')} left by an interrupted write (each may hold credentials): ${listSome(temps)}`);
    fixes.push(`rm ${temps.map(shq).join(' ')}`);
  }
  return warn(id, parts.join('; '), fixes.join('; '));
}

// ---------------------------------------------------------------------------------------------
// Locks (the check id stays stale_locks: with flock there are no stale locks any more)

/**
 * codex-auth's lock files: which are held right now (a non-blocking try, let go of at once; a lock
 * of a process that ended is free, there is nothing stale to remove), and anything at a lock path
 * codex-auth refuses to use.
 */
async function checkLocks(paths: Paths, env: NodeJS.ProcessEnv): Promise<Check> {
  const id = 'stale_locks';
  const { probeFileLock } = await import('../store/lock.js');
  const locksDir = path.join(paths.home, 'locks');
  const files = [paths.registryLock, path.join(paths.home, 'watch.lock'), ...readDir(locksDir).filter((f) => f.endsWith('.lock')).map((f) => path.join(locksDir, f))];
  const states = await Promise.all(files.map(async (f) => ({ f, s: await probeFileLock(f, { env }) })));
  const held: string[] = [];
  const bad: string[] = [];
  const unknown: string[] = [];
  for (const { f, s } of states) {
    if (s.state === 'held') held.push(`${f} (${s.pid === null ? 'held' : `process ${s.pid}`})`);
    else if (s.state === 'symlink') bad.push(`${f} (a symbolic link)`);
    else if (s.state === 'not_file') bad.push(`${f} (not a regular file)`);
    else if (s.state === 'unknown') unknown.push(`${f}: ${s.why}`);
  }
  if (bad.length) {
    const paths_ = bad.map((s) => s.slice(0, s.lastIndexOf(' (')));
    return warn(id, `${plural(bad.length, 'lock path')} codex-auth refuses to use (commands that need ${bad.length === 1 ? 'it' : 'them'} fail): ${listSome(bad)}`, `rm ${paths_.map(shq).join(' ')}`);
  }
  if (unknown.length) {
    const helpers = unknown.some((u) => u.includes('no lock helper works here'));
    return helpers
      ? fail(id, `cannot take codex-auth's locks: ${listSome(unknown)}`, "install util-linux's flock, python3 or perl (codex-auth takes its locks through one of them)")
      : warn(id, `cannot tell whether ${plural(unknown.length, 'lock')} ${unknown.length === 1 ? 'is' : 'are'} held: ${listSome(unknown)}`, `check the owner and permissions of ${shq(paths.home)}`);
  }
  if (held.length === 0) return ok(id, 'no locks held');
  return ok(id, `${plural(held.length, 'lock')} held right now by running processes (each is free as soon as its process ends): ${listSome(held)}`);
}

// ---------------------------------------------------------------------------------------------
// The command

export interface DoctorOptions {
  json?: boolean;
}

export async function runChecks(app: Needs): Promise<Check[]> {
  const info = resolveForDoctor(app);
  const { paths } = info;
  const k = await import('../store/keyring.js');
  const timeoutMs = k.keyringTimeoutFromEnv(app.env);
  let backendP: Promise<KeyringBackend> | undefined;
  const backend = (): Promise<KeyringBackend> =>
    (backendP ??= app.ctx.keyringBackend ? app.ctx.keyringBackend() : Promise.resolve(new k.NapiKeyringBackend({ env: app.env })));
  let probeP: Promise<KeyringProbeResult> | undefined;
  const probe = (): Promise<KeyringProbeResult> =>
    (probeP ??= backend().then((b) =>
      k.probeKeyring(b, timeoutMs, { platform: app.ctx.platform, alternative: 'store API keys with "codex-auth add-api-key --insecure-storage" (a 0600 file) instead' }),
    ));

  // The slow parts run concurrently: the keyring probe, `codex --version` and the lock helpers.
  const probed = probe();
  const binary = checkCodexBinary(app.env);
  const locks = checkLocks(paths, app.env);
  const config = await readConfig(paths.configToml);
  const regRead = readRegistryReadOnly(paths.registry);
  const reg = regRead.kind === 'ok' ? regRead.registry : null;
  const now = app.now().getTime();

  const storeDeps: StoreDeps = {
    paths,
    config,
    reg,
    keyringOk: probe,
    readCodexEntry: async () => {
      const { KeyringLiveCredentials } = await import('../store/live-keyring.js');
      return new KeyringLiveCredentials(paths, { env: app.env, backend: await backend(), timeoutMs, platform: app.ctx.platform }).read();
    },
  };
  const credentialStore = await checkCredentialStore(storeDeps);
  const probeResult = await probed;
  const { FileSecretStore } = await import('../store/secrets.js');
  const fileStore = new FileSecretStore(paths.accountsDir);
  let keyringStore: InstanceType<typeof k.KeyringSecretStore> | undefined;
  const registry = await checkRegistry(
    paths,
    regRead,
    {
      file: (ref) => fileStore.get(ref),
      keyring: async (ref) => (keyringStore ??= new k.KeyringSecretStore({ home: paths.home, timeoutMs, backend: await backend(), platform: app.ctx.platform })).get(ref),
    },
    probeResult.ok,
  );
  return [
    checkCodexHome(info),
    checkPermissions(paths, app.ctx.platform),
    credentialStore,
    keyringCheck(probeResult, keyringUsers(config, reg, app.env)),
    checkEnv(app.env),
    await binary,
    registry,
    checkOrphans(paths, regRead, now),
    await locks,
    ...(await checkGateway(paths.home, app.now(), storeDeps.live)),
  ];
}

/**
 * Only when `gateway enable` set Codex up for it: is it running? (Codex cannot work without it.) And
 * does Codex hold the placeholder login (`live`: what it reads, when known)? After a "codex login"
 * it holds a real one, which the gateway refuses (403).
 */
async function checkGateway(home: string, now: Date, live: { text: string | null } | undefined): Promise<Check[]> {
  const { peekGatewaySettings } = await import('../gateway/peek.js');
  const settings = peekGatewaySettings(home);
  if (!settings?.enabled) return [];
  const { probeGateway } = await import('../gateway/setup.js');
  const { isPlaceholderText } = await import('../gateway/detect.js');
  const login: Check[] = [];
  if (live && !isPlaceholderText(live.text)) {
    login.push(
      fail(
        'gateway_login',
        live.text === null
          ? "the gateway is on, but Codex holds no login (it needs the gateway's placeholder)"
          : 'the gateway is on, but Codex holds a real login instead of its placeholder ("codex login" while the gateway was on?): the gateway refuses it (403), so Codex cannot work',
        "codex-auth gateway enable (saves Codex's login into its account in codex-auth and gives Codex the placeholder again)",
      ),
    );
  }
  const p = await probeGateway(settings, now);
  if (p.status) return [ok('gateway', `enabled and running on 127.0.0.1:${settings.port} (serving from ${p.status.serving?.label ?? p.status.chosen?.label ?? 'nobody yet'})`), ...login];
  return [
    fail(
      'gateway',
      `enabled in config.toml but not running (${p.error ?? 'no answer'}): Codex fails with "workspace routing discovery failed"`,
      'start it: codex-auth gateway serve (in a terminal you keep open, or as a service: codex-auth gateway install-service), or go back to direct logins: codex-auth gateway disable',
    ),
    ...login,
  ];
}

export async function doctorCommand(app: Needs, _args: unknown, _opts: DoctorOptions): Promise<number> {
  const checks = await runChecks(app);
  const failed = checks.some((c) => c.status === 'fail');
  if (app.out.json) {
    app.out.document({ checks, ok: !failed });
    return failed ? 1 : 0;
  }
  const c = app.out.out;
  const mark: Record<CheckStatus, string> = { ok: c.green('✓'), warn: c.yellow('!'), fail: c.red('✗') };
  const title = (id: string): string => TITLES[id] ?? id;
  const width = Math.max(...checks.map((x) => title(x.id).length));
  for (const x of checks) app.out.data(`${mark[x.status]} ${c.bold(title(x.id).padEnd(width))}  ${x.message}`);
  const todo = checks.filter((x) => x.status !== 'ok');
  if (todo.length) {
    app.out.data();
    app.out.data(c.bold('Fixes:'));
    for (const x of todo) app.out.data(`  ${mark[x.status]} ${title(x.id)}: ${x.fix ?? ''}`);
  }
  const warns = todo.filter((x) => x.status === 'warn').length;
  const fails = todo.length - warns;
  app.out.data();
  app.out.data(todo.length === 0 ? c.green('Everything looks fine.') : `${plural(fails, 'problem')}, ${plural(warns, 'warning')}.`);
  return failed ? 1 : 0;
}
