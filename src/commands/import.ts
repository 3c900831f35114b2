/** `codex-auth import [PATH...]`: register Codex auth.json files (or Codex's current login). */
import { type Stats, closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Services, Uses } from '../cli/app.js';
import { validateAlias } from '../domain/accounts.js';
import { describeError, errnoCode, usageError } from '../errors.js';
import { importSources, NotRegular, type Result, type Source } from '../services/import.js';
import { reportImport } from '../ui/import-report.js';

/** What this command gets of the factory: its `needs` in src/cli/commands.ts. */
type Needs = Uses<Services | 'ctx' | 'out'>;

export interface ImportOptions {
  alias?: string;
  recursive?: boolean;
  json?: boolean;
}

/** How standard input (`import -`) is named in results. */
const STDIN = '(standard input)';

/** What a file that is not a regular file is, for "not a regular file: a FIFO". */
function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/**
 * Read a regular file, never blocking on anything else: opened with O_NONBLOCK (a FIFO swapped in
 * after the stat would otherwise wait for a writer forever) and checked with fstat before reading.
 */
function readRegular(p: string): string {
  const fd = openSync(p, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new NotRegular(kindOf(st));
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}


/** A *.json found in a directory: a file to read, or a reason it is skipped. */
type Found = { path: string; linkTo?: string } | { path: string; skip: string };

/**
 * The *.json files in `dir` (below it with `recursive`), sorted. Links to regular files are followed
 * (and said so); a link to a directory is never followed (so -r cannot loop), a broken link and
 * anything that is not a regular file are skipped with their reason.
 */
function collectJson(dir: string, recursive: boolean, out: Found[]): void {
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (recursive) collectJson(p, recursive, out);
      else if (e.name.endsWith('.json')) out.push({ path: p, skip: 'a directory (use -r to search subdirectories)' });
    } else if (e.isSymbolicLink()) {
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) {
        if (e.name.endsWith('.json')) out.push({ path: p, skip: 'a broken symbolic link' });
      } else if (st.isDirectory()) {
        if (recursive) out.push({ path: p, skip: 'a symbolic link to a directory: not followed' });
      } else if (e.name.endsWith('.json')) {
        if (st.isFile()) out.push({ path: p, linkTo: realpathSync(p) });
        else out.push({ path: p, skip: `not a regular file: ${kindOf(st)}` });
      }
    } else if (e.name.endsWith('.json')) {
      if (e.isFile()) out.push({ path: p });
      else out.push({ path: p, skip: `not a regular file: ${e.isFIFO() ? 'a FIFO' : e.isSocket() ? 'a socket' : e.isCharacterDevice() ? 'a character device' : e.isBlockDevice() ? 'a block device' : 'unknown type'}` });
    }
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
  if (paths.filter((p) => p === '-').length > 1) throw usageError('usage', '"-" (standard input) can be given only once.');
  for (const raw of paths) {
    if (raw === '-') {
      sources.push({
        path: STDIN,
        live: false,
        scanned: false,
        read: async () => {
          const { readAllStdin } = await import('../ui/stdin.js');
          return readAllStdin(app.ctx.stdin, { maxBytes: 1024 * 1024 });
        },
      });
      continue;
    }
    const p = path.resolve(app.ctx.cwd, raw);
    let st: Stats;
    try {
      st = statSync(p);
    } catch (e) {
      const code = errnoCode(e);
      const broken = code === 'ENOENT' && lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink();
      results.push({ path: p, status: 'skipped', error: true, reason: broken ? 'a broken symbolic link' : code === 'ENOENT' ? 'no such file or directory' : `cannot read it (${code})` });
      continue;
    }
    if (st.isDirectory()) {
      const found: Found[] = [];
      try {
        collectJson(p, Boolean(opts.recursive), found);
      } catch (e) {
        results.push({ path: p, status: 'skipped', error: true, reason: `cannot read the directory (${errnoCode(e) ?? describeError(e)})` });
        continue;
      }
      if (found.length === 0) {
        results.push({ path: p, status: 'skipped', error: true, reason: `no *.json files in it${opts.recursive ? '' : ' (use -r to search subdirectories)'}` });
      }
      for (const f of found) {
        if ('skip' in f) results.push({ path: f.path, status: 'skipped', error: true, reason: f.skip });
        else sources.push({ path: f.path, live: false, scanned: true, ...(f.linkTo ? { note: `a link to ${f.linkTo}` } : {}), read: async () => readRegular(f.path) });
      }
    } else if (!st.isFile()) {
      results.push({ path: p, status: 'skipped', error: true, reason: `not a regular file: ${kindOf(st)}` });
    } else {
      sources.push({ path: p, live: false, scanned: false, read: async () => readRegular(p) });
    }
  }
  if (opts.alias !== undefined && sources.length + results.length > 1) {
    throw usageError('alias_needs_one_file', '--alias names one account: import one file at a time when you use it.');
  }

  return reportImport(app.out, await importSources(app, sources, results, { ...(opts.alias !== undefined ? { alias: opts.alias } : {}), syncFirst: paths.length > 0 }));
}
