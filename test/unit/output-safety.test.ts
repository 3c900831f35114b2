/** Output safety: the escaping and masking rules, and Output as the only writer of escape sequences. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BIDI_CONTROLS, CONTROL_CHARS, escapeJsonText, maskUrlCredentials, oneLine, safeText } from '../../src/domain/display.js';
import { jsonText, Output, paletteFor, terminalText, withoutStyles } from '../../src/ui/output.js';

class Sink {
  data = '';
  constructor(readonly isTTY = false) {}
  write(s: string): boolean {
    this.data += s;
    return true;
  }
}

describe('oneLine and safeText', () => {
  it("escapes exactly Unicode's Cc and Bidi_Control: the spelled-out ranges match \\p{Cc} and \\p{Bidi_Control} at every code point", () => {
    const ours = new RegExp(`^[${CONTROL_CHARS}${BIDI_CONTROLS}]$`, 'u');
    const unicode = /^[\p{Cc}\p{Bidi_Control}]$/u;
    const differ: string[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp += 1) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue; // lone surrogates are not characters
      const ch = String.fromCodePoint(cp);
      if (ours.test(ch) !== unicode.test(ch)) differ.push(cp.toString(16));
    }
    expect(differ).toEqual([]);
    // and every one of them is escaped, in a line and in a message (line breaks kept there)
    for (const cp of [0x0, 0x1f, 0x7f, 0x9f, 0x61c, 0x200e, 0x202a, 0x2069]) {
      const ch = String.fromCodePoint(cp);
      expect(oneLine(`a${ch}b`)).not.toContain(ch);
      expect(safeText(`a${ch}b`)).not.toContain(ch);
    }
    expect(safeText('a\nb')).toBe('a\nb');
  });

  it.each([
    ['plain', 'alice@example.com', 'alice@example.com'],
    ['OSC title and BEL', 'a\x1b]0;pwned\x07b', 'a\\x1b]0;pwned\\x07b'],
    ['CSI clear screen', '\x1b[2J', '\\x1b[2J'],
    ['DEL and C1 CSI', 'x\x7f\u009b2J', 'x\\x7f\\x9b2J'],
    ['bidi override and isolates', 'abc\u202edef\u2066\u2069', 'abc\\u202edef\\u2066\\u2069'],
    ['bidi marks', '\u200e\u200f\u061c', '\\u200e\\u200f\\u061c'],
    ['NUL, tab, CR', '\u0000\t\r', '\\x00\\t\\r'],
    ['non-ASCII text stays', 'José 日本 🙂 e\u0301', 'José 日本 🙂 e\u0301'],
  ])('%s', (_name, input, shown) => {
    expect(oneLine(input)).toBe(shown);
    expect(oneLine(oneLine(input))).toBe(shown); // escaping twice changes nothing
  });

  it('oneLine escapes line breaks; safeText keeps them', () => {
    expect(oneLine('a\nb')).toBe('a\\nb');
    expect(safeText('a\nb\x1b[2J')).toBe('a\nb\\x1b[2J');
  });
});

describe('maskUrlCredentials', () => {
  it.each([
    ['http://user:pass@proxy:8080', 'http://user:***@proxy:8080'],
    ['HTTPS_PROXY=https://u:p%40ss@h.example/x, NO_PROXY=localhost', 'HTTPS_PROXY=https://u:***@h.example/x, NO_PROXY=localhost'],
    ['socks5://:secret@host', 'socks5://:***@host'],
    ['http://u:p@ss@host:1', 'http://u:***@host:1'], // the password runs to the last @ of the authority
    ['http://user@host:8080', 'http://user@host:8080'], // no password: nothing to mask
    ['http://host:8080/a@b', 'http://host:8080/a@b'],
    ['alice@example.com', 'alice@example.com'],
  ])('%s', (input, shown) => {
    expect(maskUrlCredentials(input)).toBe(shown);
  });
});

describe('Output', () => {
  function output(json = false) {
    const stdout = new Sink();
    const stderr = new Sink();
    const out = new Output(stdout, stderr, { json, debug: true }, paletteFor(1), paletteFor(1));
    return { out, stdout, stderr };
  }

  /** Every ESC written starts one of our SGR colour sequences. */
  function onlySgr(text: string): boolean {
    return [...text.matchAll(/\x1b/g)].every((m) => /^\x1b\[[0-9;]*m/.test(text.slice(m.index)));
  }

  it('escapes what it is given in every kind of line, and keeps its own colours', () => {
    const { out, stdout, stderr } = output();
    const evil = 'eve\x1b]0;pwned\x07\x1b[2J\u009b\u202e';
    out.info(`info ${evil}`);
    out.success(`success ${evil}`);
    out.warn(`warn ${evil}`);
    out.debug(`debug ${evil}`);
    out.data(`${out.out.bold('data')} ${evil}`);
    out.failure(new Error(`boom ${evil}`));
    const all = stdout.data + stderr.data;
    expect(onlySgr(all)).toBe(true);
    expect(all).not.toMatch(/[\x07\u009b\u202e]/);
    expect(stdout.data).toBe('\x1b[1mdata\x1b[22m eve\\x1b]0;pwned\\x07\\x1b[2J\\x9b\\u202e\n');
    expect(stderr.data).toContain('\x1b[32m✓\x1b[39m success eve\\x1b');
    expect(stderr.data).toContain('\x1b[33mwarning:\x1b[39m warn eve\\x1b');
  });

  it('writes colour only from its palette: a colour code in a string is escaped, the marker cannot be guessed', () => {
    const { out, stdout } = output();
    out.data('\x1b[8mhidden\x1b[0m');
    expect(stdout.data).toBe('\\x1b[8mhidden\\x1b[0m\n');
    const styled = out.out.red('x');
    expect(styled).not.toContain('\x1b'); // not ESC until Output writes it
    expect(withoutStyles(styled)).toBe('x');
    expect(terminalText(styled)).toBe('\x1b[31mx\x1b[39m');
    // Nested styles re-open the outer one, as util.styleText does.
    expect(terminalText(out.out.bold(`a${out.out.dim('b')}c`))).toBe('\x1b[1ma\x1b[2mb\x1b[22m\x1b[1mc\x1b[22m');
  });

  it('masks URL passwords in lines, --debug and JSON documents', () => {
    const { out, stdout, stderr } = output();
    out.data('HTTPS_PROXY=http://u:hunter2@proxy:3128');
    out.debug('via http://u:hunter2@proxy:3128');
    expect(stdout.data + stderr.data).not.toContain('hunter2');
    const j = output(true);
    j.out.document({ env: { HTTPS_PROXY: 'http://u:hunter2@proxy:3128' }, nested: [{ url: 'https://a:b@c' }] });
    expect(JSON.parse(j.stdout.data)).toEqual({ schemaVersion: 1, env: { HTTPS_PROXY: 'http://u:***@proxy:3128' }, nested: [{ url: 'https://a:***@c' }] });
  });

  it('--json is exact JSON with no raw control character, and no colour', () => {
    const { out, stdout } = output(true);
    const value = 'eve\x1b]0;pwned\x07\u009b\u202e\u2028\x7f';
    out.document({ email: value, styled: out.out.green('ok') });
    expect(stdout.data.trimEnd()).not.toMatch(/[\x00-\x1f\x7f-\x9f\u202e\u2028]/);
    expect(JSON.parse(stdout.data)).toEqual({ schemaVersion: 1, email: value, styled: 'ok' });
    expect(escapeJsonText(JSON.stringify('\u009b'))).toBe('"\\u009b"');
    expect(JSON.parse(jsonText({ v: value }))).toEqual({ v: value });
  });

  it('jsonText is the document with every string masked and unstyled, whether or not it takes the fast path', () => {
    const styled = paletteFor(1).red('x');
    // Strings that need the replacer (a URL with a password, a style) and strings that do not.
    const str = fc.oneof(fc.string(), fc.constantFrom('http://u:pw@proxy:1', 'a://b', styled, `${styled}://`, 'plain', '', ''));
    const doc = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, str, fc.integer(), fc.boolean(), fc.constant(null), tie('array'), tie('object')),
      array: fc.array(tie('value'), { maxLength: 4 }),
      object: fc.dictionary(fc.string(), tie('value'), { maxKeys: 4 }),
    })).value;
    fc.assert(
      fc.property(doc, fc.constantFrom(undefined, 2), (d, indent) => {
        const everyString = (_k: string, v: unknown) => (typeof v === 'string' ? maskUrlCredentials(withoutStyles(v)) : v);
        expect(jsonText(d, indent)).toBe(escapeJsonText(JSON.stringify(d, everyString, indent)));
      }),
      { numRuns: 300 },
    );
    expect(jsonText({ u: 'http://u:pw@h', s: styled })).toBe('{"u":"http://u:***@h","s":"x"}');
  });
});
