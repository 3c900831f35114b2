/**
 * `codex-auth watch`: applies the fallback policy. A foreground loop (one per CODEX_HOME) or, with
 * --once, a single evaluation; --install-service / --uninstall-service manage a per-user service.
 */
import path from 'node:path';
import type { Services, Uses } from '../cli/app.js';
import { describeAccount } from '../domain/accounts.js';
import { CliError, usageError } from '../errors.js';
import type { Evaluation } from '../services/fallback.js';
import { acquireFileLock } from '../store/lock.js';

/** What this command gets of the factory: its `needs` in src/cli/commands.ts. */
type Needs = Uses<Services | 'ctx' | 'opts' | 'out'>;

export interface WatchOptions {
  once?: boolean;
  interval?: string;
  json?: boolean;
  installService?: boolean;
  uninstallService?: boolean;
}

const MAX_BACKOFF_S = 900;

function parseInterval(v: string | undefined): number {
  if (v === undefined) return 60;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 5 || n > 86_400) throw usageError('invalid_interval', `--interval must be a number of seconds from 5 to 86400, not "${v}".`);
  return n;
}

class Reporter {
  private lastWarn = '';
  constructor(private readonly app: Needs) {}

  /** Through Output: JSON lines stay JSON; a person's lines are made safe (names come from tokens). */
  emit(event: string, fields: Record<string, unknown>, text: string): void {
    const at = this.app.now().toISOString();
    if (this.app.out.json) this.app.out.record({ at, event, ...fields });
    else this.app.out.data(`${at.slice(0, 19).replace('T', ' ')}  ${text}`);
  }

  evaluation(ev: Evaluation): void {
    const d = ev.decision;
    const name = (id: string | null | undefined) => {
      const a = ev.input.accounts.find((x) => x.id === id);
      return a ? a.label : (id ?? 'none');
    };
    for (const p of [...ev.polled, ...ev.checked]) if (!p.ok) this.emit('error', { account: p.id, reason: p.short ?? 'error', message: p.message ?? null }, `usage of ${name(p.id)} could not be fetched: ${p.message ?? p.short}`);
    if (d.action === 'switch' && ev.switched?.switched) {
      this.lastWarn = '';
      this.emit('switch', { kind: d.kind, from: ev.switched.from?.id ?? null, to: d.to, reason: d.reason, until: d.state?.until ?? null }, `switched to ${name(d.to)} (${d.kind}): ${d.reason}`);
    } else if (d.action === 'warn' && d.reason !== this.lastWarn) {
      this.lastWarn = d.reason;
      this.emit('warn', { reason: d.reason }, `warning: ${d.reason}`);
    }
  }
}

/**
 * What one evaluation did, as the one document of `watch --once --json`: `action` is `switch` (it
 * switched), `warn`, or `none` (including a switch that did not happen), with its reason, the
 * switch's details and the usage requests that failed.
 */
function onceDocument(ev: Evaluation): Record<string, unknown> {
  const d = ev.decision;
  const errors = [...ev.polled, ...ev.checked].filter((p) => !p.ok).map((p) => ({ account: p.id, reason: p.short ?? 'error', message: p.message ?? null }));
  if (d.action === 'switch' && ev.switched?.switched) {
    return { action: 'switch', kind: d.kind, from: ev.switched.from?.id ?? null, to: d.to, reason: d.reason, until: d.state?.until ?? null, errors };
  }
  return { action: d.action === 'switch' ? 'none' : d.action, reason: d.reason, errors };
}

async function serviceCommand(app: Needs, opts: WatchOptions): Promise<number> {
  const svc = await import('../codex/service.js');
  const interval = opts.interval !== undefined ? parseInterval(opts.interval) : null;
  const spec = svc.serviceSpecFor('watch', app, interval);
  if (opts.installService) {
    const f = svc.installService(spec);
    if (app.out.json) app.out.document({ installed: f.file, environmentFile: f.environment?.file ?? null, name: f.name, start: f.start });
    app.out.success(f.environment ? `Wrote ${f.file} and its environment, ${f.environment.file} (0600).` : `Wrote ${f.file} (0600: it holds the environment).`);
    app.out.info(`Start it now and at every login:\n${f.start.map((l) => `  ${l}`).join('\n')}`);
    return 0;
  }
  const f = svc.uninstallService(spec);
  if (app.out.json) app.out.document({ removed: f.removed ? f.file : null, name: f.name, stop: f.stop });
  if (f.removed) app.out.success(`Removed ${f.file}.`);
  else app.out.info(`No service file at ${f.file}; nothing to remove.`);
  app.out.info(`If it is still running, stop it:\n${f.stop.map((l) => `  ${l}`).join('\n')}`);
  return 0;
}

export async function watchCommand(app: Needs, _args: unknown, opts: WatchOptions): Promise<number> {
  if (opts.installService && opts.uninstallService) throw usageError('usage', 'Use either --install-service or --uninstall-service.');
  if (opts.installService || opts.uninstallService) return serviceCommand(app, opts);
  const interval = parseInterval(opts.interval);
  const sessions = await import('../codex/sessions.js');
  const { evaluate } = await import('../services/fallback.js');
  const reporter = new Reporter(app);

  if (opts.once) {
    const reg = (await app.registry.load());
    const since = reg.activeSince ? new Date(reg.activeSince) : undefined;
    const events = sessions.readRecentEvents(app.paths.codexHome, { maxFiles: 8, ...(since ? { since } : {}), initialTailBytes: 1024 * 1024 });
    const ev = await evaluate(app, { poll: true, events });
    if (app.out.json) {
      // --once --json: exactly one document, also when nothing happened (the loop prints JSON lines).
      app.out.document(onceDocument(ev));
      return 0;
    }
    reporter.evaluation(ev);
    if (ev.decision.action === 'none') app.out.info(`No switch: ${ev.decision.reason}.`);
    return 0;
  }

  let release: () => void;
  try {
    const { ensurePrivateDir } = await import('../store/atomic.js');
    ensurePrivateDir(app.paths.home);
    release = await acquireFileLock(path.join(app.paths.home, 'watch.lock'), { timeoutMs: 0, what: 'the watch lock' });
  } catch (e) {
    if (e instanceof CliError && e.code === 'locked') {
      throw new CliError('watch_running', `Another "codex-auth watch" is already running for ${app.paths.codexHome}; one is enough.`);
    }
    throw e;
  }

  let stopping = false;
  let wake: (() => void) | null = null;
  const stop = () => {
    stopping = true;
    wake?.();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });

  try {
    const reg0 = (await app.registry.load());
    const active = reg0.accounts.find((a) => a.id === reg0.activeId);
    reporter.emit('start', { codexHome: app.paths.codexHome, interval, active: reg0.activeId, fallback: reg0.fallback.enabled }, `watching ${app.paths.codexHome} every ${interval}s (active: ${active ? describeAccount(active) : 'none'}; fallback ${reg0.fallback.enabled ? 'enabled' : 'disabled'})`);
    const since = reg0.activeSince ? new Date(reg0.activeSince) : undefined;
    let cursor = sessions.emptyCursor();
    let first = true;
    let lastPoll = 0;
    let pollEvery = interval;
    const tickMs = Math.min(interval, 5) * 1000;
    while (!stopping) {
      let events: readonly import('../codex/sessions.js').SessionEvent[] = [];
      try {
        const r = sessions.readNewEvents(app.paths.codexHome, cursor, first ? { maxFiles: 8, ...(since ? { since } : {}), initialTailBytes: 256 * 1024 } : { maxFiles: 8 });
        cursor = r.cursor;
        events = r.events;
      } catch (e) {
        app.out.debug(`reading session logs failed: ${(e as Error).message}`);
      }
      const due = Date.now() - lastPoll >= pollEvery * 1000;
      if (first || due || events.length > 0) {
        try {
          const ev = await evaluate(app, { poll: due, events });
          if (due) {
            lastPoll = Date.now();
            const failed = ev.polled.some((p) => !p.ok);
            pollEvery = failed ? Math.min(pollEvery * 2, MAX_BACKOFF_S) : interval;
          }
          reporter.evaluation(ev);
        } catch (e) {
          reporter.emit('error', { message: (e as Error).message }, `error: ${(e as Error).message}`);
          pollEvery = Math.min(pollEvery * 2, MAX_BACKOFF_S);
          lastPoll = Date.now();
        }
      }
      first = false;
      if (!stopping) await sleep(tickMs);
    }
    reporter.emit('stop', {}, 'stopped');
    return 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    release();
  }
}
