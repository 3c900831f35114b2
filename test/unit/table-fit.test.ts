/** Fitting `list` to a terminal's width: display widths of wide characters and emoji, shortening with `…`. */
import { describe, expect, it } from 'vitest';
import { paletteFor, terminalText } from '../../src/ui/output.js';
import { fitWidths, renderColumns, truncateCell, visibleWidth } from '../../src/ui/table.js';

const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

describe('visibleWidth of emoji sequences and wide characters', () => {
  it.each([
    ['👨‍👩‍👧', 2], // a ZWJ family: one glyph
    ['❤️', 2], // VS16: emoji presentation
    ['❤', 1], // without it: a text symbol
    ['👍🏽', 2], // a skin tone joins its emoji
    ['🇯🇵', 2], // a flag: two regional indicators, one glyph
    ['🏳️‍🌈', 2],
    ['⌚x', 3], // a BMP emoji with emoji presentation
    ['1️⃣', 2], // a keycap
    ['🌡', 1], // text presentation by default
    ['ｆｕｌｌ', 8], // fullwidth forms
    ['한글', 4],
    ['각', 2], // precomposed Hangul
    ['각', 2], // conjoining jamo: one syllable
    ['Ame\u0301lie', 6],
  ])('%j is %i columns wide', (s, w) => {
    expect(visibleWidth(s)).toBe(w);
  });
});

describe('truncateCell', () => {
  it('leaves a cell that fits alone', () => {
    expect(truncateCell('alice@example.com', 17)).toBe('alice@example.com');
  });
  it('cuts ASCII and ends with …, in exactly the width', () => {
    const t = truncateCell('alice.very.long.name@example.com', 12);
    expect(t).toBe('alice.very.…');
    expect(visibleWidth(t)).toBe(12);
  });
  it('never cuts a wide character or an emoji sequence in half', () => {
    expect(truncateCell('日本語テキスト', 6)).toBe('日本…'); // 5 columns: a third 日 would need 7
    expect(visibleWidth(truncateCell('日本語テキスト', 6))).toBeLessThanOrEqual(6);
    expect(truncateCell('ab👨‍👩‍👧cd👍🏽ef', 6)).toBe('ab👨‍👩‍👧c…');
    expect(truncateCell('ab👨‍👩‍👧cd👍🏽ef', 4)).toBe('ab…'); // the family does not fit in the 2 columns before …
    expect(truncateCell('🇯🇵🇯🇵🇯🇵', 5)).toBe('🇯🇵🇯🇵…');
  });
  it('keeps the palette\'s colour codes, so a colour opened before the cut is closed', () => {
    const c = paletteFor(1);
    const out = terminalText(truncateCell(c.bold(`long-name@example.com ${c.cyan('[fallback]')}`), 10));
    expect(strip(out)).toBe('long-name…');
    expect(out.endsWith('\x1b[22m')).toBe(true);
    expect(out).toContain('\x1b[39m'); // the cyan after the cut is closed too
  });
});

describe('fitWidths', () => {
  it('takes the excess from the shrinkable columns, in order, down to their minimum', () => {
    // 4 + 40 + 10 + 30 + 3 gaps of 2 = 90 → 80: the first shrinkable column loses 10.
    expect(fitWidths([4, 40, 10, 30], { width: 80, shrink: [1, 3], gap: 2, minWidth: 12 })).toEqual([4, 30, 10, 30]);
    // → 50: the first goes down to 12, the second gives the rest.
    expect(fitWidths([4, 40, 10, 30], { width: 50, shrink: [1, 3], gap: 2, minWidth: 12 })).toEqual([4, 12, 10, 18]);
    // Too narrow for anything: every shrinkable column at its minimum, the others untouched.
    expect(fitWidths([4, 40, 10, 30], { width: 20, shrink: [1, 3], gap: 2, minWidth: 12 })).toEqual([4, 12, 10, 12]);
    // A column already narrower than the minimum is left as it is.
    expect(fitWidths([4, 8, 90], { width: 60, shrink: [1], gap: 2, minWidth: 12 })).toEqual([4, 8, 90]);
    // Fits: unchanged.
    expect(fitWidths([4, 40], { width: 80, shrink: [1], gap: 2, minWidth: 12 })).toEqual([4, 40]);
  });
});

describe('renderColumns with a width', () => {
  const rows = [
    ['#', 'ACCOUNT', 'PLAN', '5H'],
    ['1', { text: 'a-really-long-email-address-for-testing@some-company.example.com', tail: ' [fallback]' }, 'plus', '82% · 14:30'],
    ['2', '  日本語のとても長いワークスペースの名前です', 'team', '-'],
    ['3', 'bob@example.com', 'pro', '100%'],
  ];

  it('fits every line in the width, shortening only the shrinkable column, tags kept', () => {
    const out = renderColumns(rows, { width: 50, shrink: [1] });
    const lines = out.split('\n');
    for (const l of lines) expect(visibleWidth(l), l).toBeLessThanOrEqual(50);
    // ACCOUNT: 74 columns wide in full, 28 to fit 50 (1 + 28 + 4 + 11 + three gaps of 2).
    expect(lines[1]).toBe('1  a-really-long-em… [fallback]  plus  82% · 14:30');
    expect(lines[2]).toBe('2    日本語のとても長いワーク…   team  -'); // 27 columns: a 13th wide character would make 29
    expect(lines[3]).toBe('3  bob@example.com               pro   100%');
    expect(visibleWidth(lines[1] as string)).toBe(50);
  });

  it('without a width, or when it fits, every value in full', () => {
    const full = renderColumns(rows);
    expect(full).toContain('a-really-long-email-address-for-testing@some-company.example.com [fallback]');
    expect(renderColumns(rows, { width: 500, shrink: [1] })).toBe(full);
  });
});
