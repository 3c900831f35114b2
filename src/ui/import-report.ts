/** What `import` and `login` print about the sources they imported: a line each (or JSON), a summary. */
import { describeAccount } from '../domain/accounts.js';
import type { Account } from '../domain/types.js';
import type { Output } from './output.js';

export interface ImportRow {
  path: string;
  status: 'imported' | 'updated' | 'unchanged' | 'skipped';
  /** For skips: true when the file was bad (exit 1), false when it simply is not an auth.json. */
  error?: boolean;
  reason?: string;
  /** Said after the result: "a link to /real/path". */
  note?: string;
  account?: Account;
}

/** Prints the results; returns the exit code (1 when a source was bad). */
export function reportImport(out: Output, results: readonly ImportRow[]): number {
  const count = (s: ImportRow['status']) => results.filter((r) => r.status === s).length;
  const summary = { imported: count('imported'), updated: count('updated'), unchanged: count('unchanged'), skipped: count('skipped') };
  const failed = results.some((r) => r.status === 'skipped' && r.error);
  if (out.json) {
    out.document({
      results: results.map((r) => ({
        path: r.path,
        status: r.status,
        id: r.account?.id ?? null,
        email: r.account?.email ?? null,
        reason: r.reason ?? null,
        note: r.note ?? null,
        error: r.status === 'skipped' ? Boolean(r.error) : false,
      })),
      summary,
    });
  } else {
    const c = out.out;
    for (const r of results) {
      const tag = r.status === 'skipped' ? (r.error ? c.red('skipped  ') : c.dim('skipped  ')) : r.status === 'unchanged' ? c.dim('unchanged') : c.green(r.status.padEnd(9));
      const what = r.account ? `  ${describeAccount(r.account)}` : '';
      const said = [r.reason, r.note].filter(Boolean).map((x) => ` (${x})`).join('');
      out.data(`${tag} ${r.path}${what}${said}`);
    }
  }
  out.info(`${summary.imported} imported, ${summary.updated} updated, ${summary.unchanged} unchanged, ${summary.skipped} skipped.`);
  return failed ? 1 : 0;
}
