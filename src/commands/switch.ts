/** `codex-auth switch [QUERY|-]`: make an account the one Codex uses, atomically. */
import type { App } from '../app.js';
import type { ProcessInfo } from '../context.js';
import { describeAccount } from '../domain/accounts.js';
import { compareSnapshotMeta, snapshotMeta } from '../domain/accounts.js';
import { AuthFileError, type ParsedAuth, parseAuthJson, serializeAuth } from '../domain/authfile.js';
import { maskKey } from '../domain/mask.js';
import { CliError } from '../errors.js';
import { backupLive } from '../store/backups.js';
import type { FallbackState } from '../domain/policy.js';
import type { Account, Registry } from '../store/registry-schema.js';
import { NeedsPicker, selectAccount } from '../select.js';
import { identifyLocally, loadSynced, readStamped, recordWrittenLive, setActive, syncInto } from '../sync.js';

export interface SwitchOptions {
  json?: boolean;
}

export interface SwitchResult {
  switched: boolean;
  from: Account | null;
  to: Account;
  backup: string | null;
}

/**
 * Why a switch happens. The switch itself is performSwitch, shared with automatic fallback.
 */
export type SwitchReason =
  | { kind: 'manual' }
  /**
   * An automatic switch decided while `expectActive` was active: skipped if that changed meanwhile,
   * or if `recheck` (the decision made again on the locked registry; no I/O) no longer holds.
   */
  | { kind: 'fallback'; state: FallbackState | null; expectActive: string | null; recheck?: (reg: Registry) => boolean };

/**
 * The switch: under Codex's own locks and then the registry lock (always in that order: nothing
 * waits for Codex's locks while holding the registry's), save the live credentials back into their
 * account, back them up, write the target's snapshot where Codex reads it, and read it back to
 * verify.
 */
export async function performSwitch(
  app: App,
  targetId: string | ((reg: Registry) => Promise<Account>),
  reason: SwitchReason = { kind: 'manual' },
): Promise<SwitchResult> {
  const live = await app.live();
  // An error choosing the target is thrown once the lock is let go of, after the sync is saved.
  let choosing: { error: unknown } | null = null;
  const result = await live.withLock(
    () =>
      app.registry.update(async (reg): Promise<SwitchResult | null> => {
        await syncInto(app, reg);
        let target: Account | undefined;
        if (typeof targetId === 'string') target = reg.accounts.find((a) => a.id === targetId);
        else {
          try {
            target = await targetId(reg);
          } catch (error) {
            choosing = { error };
            return null;
          }
        }
        if (!target) throw new CliError('not_found', 'That account was removed meanwhile; nothing was changed.');
        const from = reg.activeId ? (reg.accounts.find((a) => a.id === reg.activeId) ?? null) : null;
        if (reason.kind === 'manual') reg.fallbackState = null;
        else if (reg.activeId !== reason.expectActive || (reason.recheck && !reason.recheck(reg))) return { switched: false, from, to: target, backup: null };
        if (reg.activeId === target.id) {
          if (reason.kind === 'fallback') reg.fallbackState = reason.state;
          return { switched: false, from, to: target, backup: null };
        }

        const stored = await app.secrets.get(target.secret);
        if (stored === null) {
          throw new CliError('secret_missing', `The stored credentials of ${describeAccount(target)} are missing; nothing was changed. Import or log in to that account again.`);
        }
        let text: string;
        try {
          text = serializeAuth(parseAuthJson(stored).raw);
        } catch (e) {
          throw new CliError('secret_corrupt', `The stored credentials of ${describeAccount(target)} are unreadable (${e instanceof AuthFileError ? e.message : String(e)}); nothing was changed.`);
        }
        const now = app.now();
        const previous = await live.read();
        const backup = previous !== null ? backupPrevious(app, reg, previous, now) : null;
        await live.write(text);
        const back = await readStamped(live);
        // Compare documents, not bytes: the keyring stores compact JSON.
        if (back === null || !sameJson(back.text, text)) {
          if (previous !== null) await live.write(previous);
          throw new CliError('verify_failed', `Codex's credentials did not read back as written (${live.location}); the previous login was restored.`);
        }
        recordWrittenLive(reg, back);
        setActive(reg, target.id, now);
        target.lastActivityAt = now.toISOString();
        if (reason.kind === 'fallback') reg.fallbackState = reason.state;
        return { switched: true, from, to: target, backup };
      }),
  );
  if (choosing !== null) throw (choosing as { error: unknown }).error;
  return result as SwitchResult;
}

/**
 * The account that holds these credentials already: identified without network, and its stored
 * snapshot the same or newer. Null when they are saved nowhere (an unknown or removed login).
 */
function savedIn(reg: Registry, auth: ParsedAuth): Account | null {
  let known: Account | null = null;
  try {
    const id = identifyLocally(auth, reg);
    known = id ? (reg.accounts.find((a) => a.id === id.id) ?? null) : null;
  } catch {
    known = null;
  }
  return known !== null && compareSnapshotMeta(snapshotMeta(auth), known.snapshot) !== 'newer' ? known : null;
}

/**
 * Is this backup's text the only copy of a login — stored in no account (or unreadable)? Such a
 * backup is never deleted by count; once the login is imported it is pruned like the others.
 */
export function onlyCopyIn(reg: Registry): (text: string) => boolean {
  return (text) => {
    try {
      return savedIn(reg, parseAuthJson(text)) === null;
    } catch {
      return true;
    }
  };
}

/**
 * Keep a copy of the live credentials before overwriting them. Credentials already saved in an
 * account whose secrets live in the keyring are not copied into a file (that would undo the keyring);
 * an API key saved nowhere stops the switch rather than be lost or written to a plain file.
 */
function backupPrevious(app: App, reg: Registry, previous: string, now: Date): string | null {
  const opts = { onlyCopy: onlyCopyIn(reg) };
  let auth: ParsedAuth | null = null;
  try {
    auth = parseAuthJson(previous);
  } catch {
    return backupLive(app.paths.backupsDir, previous, now, { ...opts, durable: true }); // unreadable: the file copy is all there is
  }
  const known = savedIn(reg, auth);
  const saved = known !== null;
  if (auth.mode === 'apikey') {
    if (!saved) {
      throw new CliError(
        'live_unsaved',
        `Codex's current API key (${maskKey(auth.apiKey ?? '')}) is not stored in codex-auth and could not be saved; nothing was changed. Add it with "codex-auth add-api-key" first.`,
      );
    }
    return null;
  }
  if (saved && known.secret.store === 'keyring') return null;
  // Saved in its account already (sync ran under the same locks): the backup is a convenience.
  // Saved nowhere: the backup is the only copy, fsynced, and never pruned by count.
  return backupLive(app.paths.backupsDir, previous, now, { ...opts, durable: !saved });
}

function sameJson(a: string, b: string): boolean {
  try {
    return JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b));
  } catch {
    return false;
  }
}

/**
 * Things that keep a switch from taking effect, for the user to know. `procs`: the running Codex
 * processes, when already looked up.
 */
export async function switchWarnings(app: App, procs?: ProcessInfo[]): Promise<string[]> {
  const warnings: string[] = [];
  procs ??= await app.ctx.codexProcesses().catch(() => []);
  if (procs.length > 0) {
    warnings.push(
      `${procs.length} running Codex process${procs.length > 1 ? 'es keep' : ' keeps'} the old account until restarted (pid ${procs.map((p) => p.pid).join(', ')}).`,
    );
  }
  for (const v of ['OPENAI_API_KEY', 'CODEX_API_KEY'] as const) {
    if (app.env[v]) warnings.push(`${v} is set in this environment; Codex may use it instead of the switched account. Unset it to use the switched account.`);
  }
  return warnings;
}

export async function switchCommand(app: App, args: unknown[], _opts: SwitchOptions): Promise<number> {
  const query = args[0] as string | undefined;
  const select = { verb: 'switch to', command: 'codex-auth switch', pickWhenEmpty: true };
  // Running Codex processes are looked up while the switch runs (Codex's locks are taken by helper
  // processes): the lookup costs nothing then.
  let procs: Promise<ProcessInfo[]> = Promise.resolve([]);
  const scan = () => (procs = app.ctx.codexProcesses().catch(() => []));
  let result: SwitchResult;
  try {
    // The QUERY is resolved under the locks, against the registry just synced there: one read
    // of everything instead of two. Where that needs a picker, the locks are let go of first.
    if (query === undefined || query === '') throw new NeedsPicker();
    scan();
    result = await performSwitch(app, (reg) => selectAccount(app, reg, query, { ...select, noPicker: true }), { kind: 'manual' });
  } catch (e) {
    if (!(e instanceof NeedsPicker)) throw e;
    const reg = await loadSynced(app);
    const target = await selectAccount(app, reg, query, select);
    scan();
    result = await performSwitch(app, target.id, { kind: 'manual' });
  }
  const warnings = result.switched ? await switchWarnings(app, await procs) : [];
  if (app.out.json) {
    app.out.document({
      switched: result.switched,
      from: result.from ? { id: result.from.id, email: result.from.email, alias: result.from.alias } : null,
      to: { id: result.to.id, email: result.to.email, alias: result.to.alias, kind: result.to.kind, plan: result.to.plan },
      warnings,
    });
  }
  if (result.switched) app.out.success(`Switched Codex to ${describeAccount(result.to)}.`);
  else app.out.info(`Codex already uses ${describeAccount(result.to)}; nothing to do.`);
  for (const w of warnings) app.out.warn(w);
  return 0;
}
