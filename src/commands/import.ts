/** `codex-auth import [PATH...]`: register Codex auth.json files (or Codex's current login). */
import fs from 'node:fs';
import path from 'node:path';
import type { Services, Uses } from '../cli/app.js';
import { validateAlias } from '../domain/accounts.js';
import { describeError, errnoCode, usageError } from '../errors.js';
import { importSources, type Result, type Source } from '../services/import.js';
import { reportImport } from '../ui/import-report.js';

/** What this command gets of the factory: its `needs` in src/cli/commands.ts. */
type Needs = Uses<Services | 'ctx' | 'out'>;

export interface ImportOptions {
  alias?: string;
  recursive?: boolean;
  json?: boolean;
}

function collectJson(dir: string, recursive: boolean, out: string[]): void {
  const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (recursive) collectJson(p, recursive, out);
    } else if (e.isFile() && e.name.endsWith('.json')) out.push(p);
  }
}

export async function importCommand(app: Needs, args: { path: string[] }, opts: ImportOptions): Promise<number> {
  const paths = args.path;
  if (opts.alias !== undefined) {
    const bad = validateAlias(opts.alias);
    if (bad) throw usageError('invalid_alias', `Invalid alias ${JSON.stringify(opts.alias)}: ${bad}.`);
  }
  const results: Result[] = [];
  const sources: Source[] = [];
  if (paths.length === 0) {
    const live = await app.live();
    sources.push({ path: live.location, live: true, scanned: false, read: () => live.read() });
  }
  for (const raw of paths) {
    const p = path.resolve(app.ctx.cwd, raw);
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch (e) {
      results.push({ path: p, status: 'skipped', error: true, reason: errnoCode(e) === 'ENOENT' ? 'no such file or directory' : `cannot read it (${errnoCode(e)})` });
      continue;
    }
    if (st.isDirectory()) {
      const found: string[] = [];
      try {
        collectJson(p, Boolean(opts.recursive), found);
      } catch (e) {
        results.push({ path: p, status: 'skipped', error: true, reason: `cannot read the directory (${errnoCode(e) ?? describeError(e)})` });
        continue;
      }
      if (found.length === 0) {
        results.push({ path: p, status: 'skipped', error: true, reason: `no *.json files in it${opts.recursive ? '' : ' (use -r to search subdirectories)'}` });
      }
      for (const f of found) sources.push({ path: f, live: false, scanned: true, read: async () => fs.readFileSync(f, 'utf8') });
    } else {
      sources.push({ path: p, live: false, scanned: false, read: async () => fs.readFileSync(p, 'utf8') });
    }
  }
  if (opts.alias !== undefined && sources.length + results.length > 1) {
    throw usageError('alias_needs_one_file', '--alias names one account: import one file at a time when you use it.');
  }

  return reportImport(app.out, await importSources(app, sources, results, { ...(opts.alias !== undefined ? { alias: opts.alias } : {}), syncFirst: paths.length > 0 }));
}
