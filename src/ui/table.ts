/**
 * Plain aligned columns for `list`: two spaces between columns, widths by visible length (ANSI
 * colors ignored, wide East Asian characters counted twice). Hand-written because it is on the
 * hottest path: a table library costs more start-up time than the whole command may take.
 */
import { oneLine } from '../domain/display.js';
import { withoutStyles } from './output.js';

const ANSI = /\x1b\[[0-9;]*m/g;

function charWidth(cp: number): number {
  if (cp === 0 || (cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f)) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) {
    return 2;
  }
  return 1;
}

/** Printable ASCII only: as wide as it is long (the common case, answered without a loop). */
const PLAIN = /^[\x20-\x7e]*$/;

export function visibleWidth(s: string): number {
  if (PLAIN.test(s)) return s.length;
  const t = withoutStyles(s).replace(ANSI, '');
  let w = 0;
  for (let i = 0; i < t.length; i += 1) {
    const cp = t.codePointAt(i) ?? 0;
    if (cp > 0xffff) i += 1; // the low half of a surrogate pair
    w += charWidth(cp);
  }
  return w;
}

/**
 * Cells hold text from tokens and files (emails, workspace titles): each is escaped whole with
 * oneLine() before it is measured, so a control character or a line break can neither reach the
 * terminal nor break the table (src/ui/output.ts, "Output safety"). Colours come from the palette.
 */
export function renderColumns(rows: readonly (readonly string[])[], gap = '  '): string {
  const safe = rows.map((r) => r.map(oneLine));
  const cellWidths = safe.map((r) => r.map(visibleWidth));
  const widths: number[] = [];
  for (const r of cellWidths) r.forEach((w, i) => (widths[i] = Math.max(widths[i] ?? 0, w)));
  return safe
    .map((r, k) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - (cellWidths[k]?.[i] ?? 0))))
        .join(gap)
        .trimEnd(),
    )
    .join('\n');
}
