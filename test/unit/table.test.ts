/** Column layout for `list`: widths by what a terminal shows, not by string length. */
import { describe, expect, it } from 'vitest';
import { paletteFor, terminalText } from '../../src/ui/output.js';
import { renderColumns, visibleWidth } from '../../src/ui/table.js';

describe('visibleWidth', () => {
  it.each([
    ['', 0],
    ['alice@example.com', 17],
    ['\x1b[1m\x1b[32mplus\x1b[39m\x1b[22m', 4], // colors take no room
    ['83% · 05:25', 11], // a middle dot is one column
    ['日本語', 6], // wide East Asian characters take two
    ['한국', 4],
    ['🙂x', 3], // an emoji outside the BMP: two columns, one code point
    ['e\u0301', 1], // a combining accent takes none
    ['a\u200bb', 2], // nor does a zero-width space
  ])('%j is %i columns wide', (s, w) => {
    expect(visibleWidth(s)).toBe(w);
  });
});

describe('renderColumns', () => {
  it('pads every column but the last to its widest cell, two spaces apart, no trailing blanks', () => {
    const c = paletteFor(1);
    const out = renderColumns([
      ['#', 'ACCOUNT', 'PLAN'],
      ['1', '日本@example.com', 'plus'],
      ['12', c.bold('bob@example.com'), ''],
    ]);
    // The palette's colours take no room, and Output writes them as SGR sequences.
    expect(terminalText(out).split('\n')).toEqual(['#   ACCOUNT           PLAN', '1   日本@example.com  plus', '12  \x1b[1mbob@example.com\x1b[22m']);
  });

  it('shows control and bidi characters in cells escaped, measured as shown, one line per row', () => {
    const c = paletteFor(1);
    const out = terminalText(
      renderColumns([
        ['ACCOUNT', 'PLAN'],
        [c.bold('eve\x1b]0;pwned\x07@x\u202e'), 'team'],
        ['line\nbreak\x1b[8m', 'plus'],
      ]),
    );
    expect(out.split('\n')).toEqual([
      'ACCOUNT                      PLAN',
      '\x1b[1meve\\x1b]0;pwned\\x07@x\\u202e\x1b[22m  team',
      'line\\nbreak\\x1b[8m           plus',
    ]);
  });
});
