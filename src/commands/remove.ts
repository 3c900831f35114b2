/** `codex-auth remove QUERY...`: forget accounts and delete their stored secrets. */
import type { Services, Uses } from '../cli/app.js';
import { describeAccount } from '../domain/accounts.js';
import { Cancelled, CliError, usageError } from '../errors.js';
import type { Account } from '../domain/types.js';
import { selectAccount } from '../services/select.js';
import { readPending, removePending } from '../store/pending.js';
import { applySync, setActive, syncedView } from '../services/sync.js';

/** What this command gets of the factory: its `needs` in src/cli/commands.ts. */
type Needs = Uses<Services | 'ctx' | 'out'>;

export interface RemoveOptions {
  yes?: boolean;
  json?: boolean;
}

export async function removeCommand(app: Needs, args: { query: string[] }, opts: RemoveOptions): Promise<number> {
  const queries = args.query;
  // The sync (and its I/O) first; the registry lock below is held only to remove (src/store/registry.ts).
  const view = await syncedView(app);
  const reg = view.reg;
  // Every selector is resolved before anything is deleted.
  const chosen = new Map<string, Account>();
  for (const q of queries) {
    const a = await selectAccount(app, reg, q, { verb: 'remove', command: 'codex-auth remove' });
    chosen.set(a.id, a);
  }
  const targets = [...chosen.values()];
  if (!opts.yes) {
    const { canPrompt, confirm } = await import('../ui/prompts.js');
    if (!canPrompt(app.ctx)) {
      throw usageError('confirmation_required', `remove deletes stored credentials; without a terminal to confirm on, pass --yes. It would remove:\n${targets.map((a) => `  ${describeAccount(a)}`).join('\n')}`);
    }
    app.out.info(`${targets.length === 1 ? 'This account' : `These ${targets.length} accounts`}:\n${targets.map((a) => `  ${describeAccount(a)}`).join('\n')}`);
    const ok = await confirm(app.ctx, `Remove ${targets.length === 1 ? 'it' : 'them'} and delete the stored credentials?`);
    if (!ok) throw new Cancelled('Cancelled; nothing was removed.');
  }
  const notes: string[] = [];
  const removed = await app.registry.update((r) => {
    applySync(r, view.live, app.now());
    const out: Account[] = [];
    for (const t of targets) {
      const idx = r.accounts.findIndex((a) => a.id === t.id);
      if (idx < 0) continue;
      const [acc] = r.accounts.splice(idx, 1) as [Account];
      out.push(acc);
      if (r.activeId === acc.id) {
        setActive(r, null, app.now());
        if (!r.removedLiveIds.includes(acc.id)) r.removedLiveIds.push(acc.id);
        notes.push(`${describeAccount(acc)} is still Codex's current login; Codex keeps using it until you switch or log in again.`);
      }
      if (r.previousId === acc.id) r.previousId = null;
      if (r.fallback.keyId === acc.id) {
        r.fallback.keyId = null;
        if (r.fallback.enabled) {
          r.fallback.enabled = false;
          notes.push(`${describeAccount(acc)} was the fallback API key: automatic fallback is now disabled.`);
        }
      }
    }
    return out;
  });
  // Secrets go after the registry no longer points at them: a crash in between leaves an orphan, not a hole.
  const failed: string[] = [];
  for (const acc of removed) {
    try {
      await app.secrets.delete(acc.secret);
      // Its tokens waiting in the pending journal go too.
      removePending(readPending(app.paths.home, acc.secret.ref).filter((e) => e.accountId === acc.id).map((e) => e.file));
    } catch (e) {
      failed.push(`${describeAccount(acc)}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (app.out.json) app.out.document({ removed: removed.map((a) => ({ id: a.id, email: a.email, alias: a.alias })) });
  for (const a of removed) app.out.success(`Removed ${describeAccount(a)}.`);
  for (const n of notes) app.out.warn(n);
  if (failed.length > 0) {
    throw new CliError('secret_delete_failed', `Some stored credentials could not be deleted:\n${failed.join('\n')}`);
  }
  return 0;
}
