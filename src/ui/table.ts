/**
 * Plain aligned columns for `list`: two spaces between columns, widths by what a terminal shows
 * (colours take no room, East Asian wide characters and emoji take two columns, combining marks and
 * the joiners of an emoji sequence none), fitted to the terminal's width by shortening the cells of
 * chosen columns with `…`. Hand-written because it is on the hottest path: a table or width library
 * costs more start-up time than the whole command may take.
 */
import { oneLine } from '../domain/display.js';
import { splitStyles, withoutStyles } from './output.js';

const ANSI = /\x1b\[[0-9;]*m/g;
/** Takes no column of its own: combining and enclosing marks, format characters (ZWJ, ZWSP, bidi marks). */
const ZERO_WIDTH = /[\p{Mn}\p{Me}\p{Cf}]/u;
const EMOJI_PRESENTATION = /\p{Emoji_Presentation}/u;
const EMOJI = /\p{Emoji}/u;

/** Columns one code point takes on its own. */
function charWidth(cp: number): number {
  if (cp < 0x300) return cp === 0 ? 0 : 1;
  const ch = String.fromCodePoint(cp);
  if (ZERO_WIDTH.test(ch) || (cp >= 0x1160 && cp <= 0x11ff)) return 0; // Hangul medial/final jamo join the syllable
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0xa4cf) ||
    (cp >= 0xa960 && cp <= 0xa97f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe10 && cp <= 0xfe19) ||
    (cp >= 0xfe30 && cp <= 0xfe6f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x16fe0 && cp <= 0x18aff) ||
    (cp >= 0x1b000 && cp <= 0x1b2ff) ||
    (cp >= 0x1f200 && cp <= 0x1f2ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) {
    return 2;
  }
  return EMOJI_PRESENTATION.test(ch) ? 2 : 1;
}

const isRegionalIndicator = (cp: number) => cp >= 0x1f1e6 && cp <= 0x1f1ff;

/**
 * The text cut where a terminal puts one character (a base and whatever joins it: combining marks,
 * VS16, skin tones, ZWJ sequences, flag pairs), with the columns each takes.
 */
export function clusters(t: string): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  let i = 0;
  while (i < t.length) {
    const cp = t.codePointAt(i) as number;
    let j = i + (cp > 0xffff ? 2 : 1);
    let w = charWidth(cp);
    while (j < t.length) {
      const nx = t.codePointAt(j) as number;
      const len = nx > 0xffff ? 2 : 1;
      if (nx === 0x200d) {
        // A zero-width joiner: the next character is drawn into this one.
        j += 1;
        if (j < t.length) j += (t.codePointAt(j) as number) > 0xffff ? 2 : 1;
        continue;
      }
      if (nx === 0xfe0f) {
        if (w === 1 && EMOJI.test(String.fromCodePoint(cp))) w = 2; // emoji presentation: ❤️
        j += len;
        continue;
      }
      if (nx >= 0x1f3fb && nx <= 0x1f3ff && w === 2) {
        j += len; // a skin tone
        continue;
      }
      if (isRegionalIndicator(cp) && isRegionalIndicator(nx) && j === i + 2) {
        j += len; // the second letter of a flag
        continue;
      }
      if (nx >= 0x300 && charWidth(nx) === 0) {
        j += len;
        continue;
      }
      break;
    }
    out.push([t.slice(i, j), w]);
    i = j;
  }
  return out;
}

/** Printable ASCII only: as wide as it is long (the common case, answered without a loop). */
const PLAIN = /^[\x20-\x7e]*$/;

export function visibleWidth(s: string): number {
  if (PLAIN.test(s)) return s.length;
  let w = 0;
  for (const [, cw] of clusters(withoutStyles(s).replace(ANSI, ''))) w += cw;
  return w;
}

/**
 * `s` (already escaped, perhaps coloured) in at most `max` columns: cut at a character boundary and
 * ended with `…`. The palette's colour codes after the cut are kept, so every colour is closed.
 */
export function truncateCell(s: string, max: number): string {
  if (visibleWidth(s) <= max) return s;
  const room = Math.max(0, max - 1);
  let used = 0;
  let cut = false;
  let out = '';
  splitStyles(s).forEach((part, k) => {
    if (k % 2 === 1) {
      out += part; // a colour code: no room taken
      return;
    }
    if (cut) return;
    for (const [ch, w] of clusters(part)) {
      if (used + w > room) {
        cut = true;
        break;
      }
      out += ch;
      used += w;
    }
    if (cut) out += '…';
  });
  return out;
}

/** A cell in a shrinkable column: `text` is shortened first, `tail` (tags) kept while it fits. */
export interface SplitCell {
  text: string;
  tail: string;
}
export type Cell = string | SplitCell;

export interface ColumnOptions {
  /** The width to fit in (a terminal's columns); none: every value in full. */
  width?: number;
  /** The columns whose cells may be shortened, in order: the first is shortened first. */
  shrink?: readonly number[];
  /** A shrinkable column is never made narrower than this (default 12). */
  minWidth?: number;
  gap?: string;
}

/**
 * The widths columns get to fit `width`: the shrinkable ones, in order, lose what is too much,
 * each down to minWidth at most. Pure.
 */
export function fitWidths(natural: readonly number[], opts: { width: number; shrink: readonly number[]; gap: number; minWidth: number }): number[] {
  const widths = natural.slice();
  const total = () => widths.reduce((a, b) => a + b, 0) + opts.gap * Math.max(0, widths.length - 1);
  for (const col of opts.shrink) {
    const excess = total() - opts.width;
    if (excess <= 0) break;
    const w = widths[col] ?? 0;
    widths[col] = Math.max(Math.min(w, opts.minWidth), w - excess);
  }
  return widths;
}

function fitCell(cell: Cell, max: number): string {
  if (typeof cell === 'string') return truncateCell(cell, max);
  const tw = visibleWidth(cell.tail);
  if (visibleWidth(cell.text) + tw <= max) return cell.text + cell.tail;
  // The text is shortened to leave room for the tags; if even a little of it cannot stay, the whole is.
  if (max - tw >= 6) return truncateCell(cell.text, max - tw) + cell.tail;
  return truncateCell(cell.text + cell.tail, max);
}

/**
 * Cells hold text from tokens and files (emails, workspace titles): each is escaped whole with
 * oneLine() before it is measured, so a control character or a line break can neither reach the
 * terminal nor break the table (src/ui/output.ts, "Output safety"). Colours come from the palette.
 * With `width`, the `shrink` columns are narrowed (their widest cells shortened with `…`) until
 * the table fits, or they reach minWidth.
 */
export function renderColumns(rows: readonly (readonly Cell[])[], opts: ColumnOptions = {}): string {
  const gap = opts.gap ?? '  ';
  const safe: Cell[][] = rows.map((r) => r.map((c) => (typeof c === 'string' ? oneLine(c) : { text: oneLine(c.text), tail: oneLine(c.tail) })));
  const joined = (c: Cell) => (typeof c === 'string' ? c : c.text + c.tail);
  let cells: string[][] = safe.map((r) => r.map(joined));
  let cellWidths = cells.map((r) => r.map(visibleWidth));
  const widths: number[] = [];
  for (const r of cellWidths) r.forEach((w, i) => (widths[i] = Math.max(widths[i] ?? 0, w)));
  if (opts.width !== undefined && opts.shrink && opts.shrink.length > 0) {
    const fitted = fitWidths(widths, { width: opts.width, shrink: opts.shrink, gap: visibleWidth(gap), minWidth: opts.minWidth ?? 12 });
    if (fitted.some((w, i) => w < (widths[i] ?? 0))) {
      cells = safe.map((r) => r.map((c, i) => ((fitted[i] ?? 0) < (widths[i] ?? 0) ? fitCell(c, fitted[i] ?? 0) : joined(c))));
      cellWidths = cells.map((r) => r.map(visibleWidth));
      fitted.forEach((w, i) => (widths[i] = w));
    }
  }
  return cells
    .map((r, k) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat(Math.max(0, (widths[i] ?? 0) - (cellWidths[k]?.[i] ?? 0)))))
        .join(gap)
        .trimEnd(),
    )
    .join('\n');
}
