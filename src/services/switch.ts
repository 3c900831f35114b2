/**
 * Switching the account Codex uses, atomically: for `switch`, automatic fallback (watch, run) and
 * anything else that changes the active account. Returns what it did; the caller reports it.
 */
import { compareSnapshotMeta, describeAccount, snapshotMeta } from '../domain/accounts.js';
import { type ParsedAuth, parseAuthJson, serializeAuth } from '../domain/authfile.js';
import { maskKey } from '../domain/mask.js';
import type { FallbackState } from '../domain/policy.js';
import type { Account, Registry } from '../domain/types.js';
import { CliError } from '../errors.js';
import { isPlaceholderText } from '../gateway/detect.js';
import type { ProcessInfo } from '../platform/processes.js';
import { backupLive } from '../store/backups.js';
import { ephemeralFix, ephemeralReason, type LiveCredentials, type StampedText } from '../store/live.js';
import { recordSettled, settleLocked, withTokenLock } from './credentials.js';
import type { Deps } from './deps.js';
import { applySync, identifyLocally, localPlan, type PreparedSync, prepareSync, readStamped, recordWrittenLive, setActive } from './sync.js';

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
   * or if `recheck` (the decision made again on the registry as read under Codex's locks; no I/O)
   * no longer holds.
   */
  | { kind: 'fallback'; state: FallbackState | null; expectActive: string | null; recheck?: (reg: Registry) => boolean };

/**
 * The switch, in steps, so that no network and no keyring I/O happens while the registry lock is
 * held (every other writing command waits for that lock):
 * 1. no lock: the sync (the pending-token journal folded; the live credentials read, identified —
 *    GET /v1/me for an unknown API key — and saved back into their account, which Codex may have
 *    refreshed) and the choice of the target;
 * 2. the target's token lock: a refresh of it in flight finishes first, its pending tokens are
 *    folded into its store, and its stored snapshot is read (the OS keyring, for some);
 * 3. Codex's own flocks: the live credentials read again — if Codex changed them since step 1, the
 *    locks are let go of and the switch starts over —, backed up, the target written where Codex
 *    reads it and read back to verify; the decision (still wanted, not already active, the target
 *    still there) is checked on the registry as it is then, which only a switch (holding these
 *    locks) or a sync of what they guard can change as far as the active account goes;
 * 4. still under Codex's locks, the registry lock, briefly: the new active account recorded (the
 *    registry file is the only I/O).
 * Lock order: a token lock, Codex's locks, the registry lock (src/store/lock.ts).
 */
export async function performSwitch(
  app: Deps,
  targetId: string | ((reg: Registry) => Promise<Account>),
  reason: SwitchReason = { kind: 'manual' },
  opts: { force?: boolean; prepared?: PreparedSync } = {},
): Promise<SwitchResult> {
  const live = await app.live();
  refuseEphemeral(app, live);
  for (let attempt = 1; ; attempt += 1) {
    const prepared = (attempt === 1 ? opts.prepared : undefined) ?? (await prepareSync(app, { identify: true }));
    const view = prepared.reg ? structuredClone(prepared.reg) : await app.registry.load();
    applySync(view, prepared.plan, app.now());
    const chosen = typeof targetId === 'string' ? view.accounts.find((a) => a.id === targetId) : await targetId(view);
    if (!chosen) throw new CliError('not_found', 'That account was removed meanwhile; nothing was changed.');
    if (reason.kind === 'manual' && view.activeId !== chosen.id) refuseLoginRequired(chosen, opts.force);
    const outcome = await withTokenLock(app, chosen.secret.ref, describeAccount(chosen), async () => {
      const settled = await settleLocked(app, chosen);
      if (settled.error !== undefined) app.report.warn(`The pending tokens of ${describeAccount(chosen)} could not be saved in its store (${settled.error}); switching to them all the same.`);
      if (settled.stored === null) {
        if (settled.unreadable !== undefined) throw new CliError('secret_corrupt', `The stored credentials of ${describeAccount(chosen)} are unreadable (${settled.unreadable}); nothing was changed.`);
        throw new CliError('secret_missing', `The stored credentials of ${describeAccount(chosen)} are missing; nothing was changed. Import or log in to that account again.`);
      }
      const text = serializeAuth(settled.stored.raw);
      return live.withLock(async (): Promise<SwitchResult | 'changed'> => {
        const previous = await live.read();
        const now = app.now();
        const reg = await app.registry.load();
        let plan = prepared.plan;
        if (prepared.liveText === undefined || previous !== prepared.liveText) {
          // Changed since step 1: by another switch (a login saved in its account: go on), or by
          // Codex (a login, a refresh: start over, to save it first).
          const local = localPlan(reg, previous);
          if (local === null) return 'changed';
          plan = local;
        }
        applySync(reg, plan, now);
        const target = reg.accounts.find((a) => a.id === chosen.id);
        if (!target) throw new CliError('not_found', 'That account was removed meanwhile; nothing was changed.');
        const from = reg.activeId ? (reg.accounts.find((a) => a.id === reg.activeId) ?? null) : null;
        // write: Codex is to use the target; state: the fallback state to record (manual: none).
        let write = true;
        let state: { value: FallbackState | null } | null = { value: reason.kind === 'fallback' ? reason.state : null };
        if (reason.kind === 'fallback' && (reg.activeId !== reason.expectActive || (reason.recheck && !reason.recheck(reg)))) {
          write = false;
          state = null;
        } else if (reg.activeId === target.id && plan.kind !== 'gateway') write = false; // the placeholder is always replaced (gateway disable)
        else if (reason.kind === 'manual') refuseLoginRequired(target, opts.force);
        let back: StampedText | null = null;
        let backup: string | null = null;
        if (write) {
          app.registry.assertLockFile();
          backup = previous !== null ? backupPrevious(app, reg, previous, now) : null;
          await live.write(text);
          back = await readStamped(live);
          // Compare documents, not bytes: the keyring stores compact JSON.
          if (back === null || !sameJson(back.text, text)) {
            if (previous !== null) await live.write(previous);
            throw new CliError('verify_failed', `Codex's credentials did not read back as written (${live.location}); the previous login was restored.`);
          }
        }
        const recorded = await recordSettled(app, [settled], {
          patch: (r) => applySync(r, plan, now),
          after: (r) => {
            if (state) r.fallbackState = state.value;
            if (!write) return;
            recordWrittenLive(r, back);
            const t = r.accounts.find((a) => a.id === target.id);
            if (!t) {
              // Removed while it was being switched to: like removing the active account.
              setActive(r, null, now);
              if (!r.removedLiveIds.includes(target.id)) r.removedLiveIds.push(target.id);
              return;
            }
            setActive(r, t.id, now);
            t.lastActivityAt = now.toISOString();
          },
          busy: write ? `Codex now uses ${describeAccount(target)}, but the registry was busy; the next codex-auth command records the switch` : undefined,
        });
        if (!recorded) app.report.debug('the switch was not recorded in the registry (busy)');
        return { switched: write, from, to: target, backup };
      });
    });
    if (outcome !== 'changed') return outcome;
    if (attempt >= 5) throw new CliError('live_changing', "Codex's credentials kept changing while switching (Codex is logging in or refreshing); nothing was changed. Try again in a moment.");
  }
}

/** In ephemeral mode Codex reads no stored login: a switch would claim what does not happen. */
export function refuseEphemeral(app: Pick<Deps, 'paths'>, live: LiveCredentials): void {
  if (live.mode !== 'ephemeral') return;
  throw new CliError('ephemeral_store', `${ephemeralReason(app.paths.configToml)}; nothing was changed. To switch accounts, ${ephemeralFix(app.paths.configToml)}.`);
}

/** An account that needs a new login is not switched to, unless forced. */
export function refuseLoginRequired(target: Account, force: boolean | undefined): void {
  if (!target.loginRequired || force) return;
  throw new CliError(
    'login_required',
    `${describeAccount(target)} needs a new login (${target.loginRequired}); nothing was changed. Log in to it again with "codex-auth login" (or import a fresh auth.json of it with "codex-auth import PATH"); to switch to it anyway, use --force.`,
  );
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
function backupPrevious(app: Deps, reg: Registry, previous: string, now: Date): string | null {
  if (isPlaceholderText(previous)) return null; // the gateway's placeholder: no login to keep
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
export async function switchWarnings(app: Deps, procs?: ProcessInfo[]): Promise<string[]> {
  const warnings: string[] = [];
  procs ??= await app.codexProcesses().catch(() => []);
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

