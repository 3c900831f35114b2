/**
 * Making untrusted text safe to show. Pure; used by src/ui/output.ts (the choke point every line to a
 * terminal passes through) and by the helpers that build one-line descriptions and table cells.
 *
 * - Control characters — C0, DEL, C1 (Unicode's Cc: U+0000–U+001F, U+007F–U+009F) — and the bidi
 *   controls (Unicode's Bidi_Control: U+061C, U+200E, U+200F, the embeddings and overrides
 *   U+202A–U+202E, the isolates U+2066–U+2069), which can clear the screen, retitle the terminal or
 *   disguise text, are shown escaped: `\x1b`, `\x9b`, `\u202e`; `\n`, `\r` and `\t` as such.
 *   Backslashes are not escaped, so escaping twice changes nothing.
 * - A password in a URL (`http://user:pass@proxy:8080`) is shown as `http://user:***@proxy:8080`.
 */

/**
 * Unicode's Cc and Bidi_Control, spelled out as ranges (test/unit/display.test.ts checks them against
 * `\p{Cc}` and `\p{Bidi_Control}` over every code point): a `\p{…}` class is built from ICU's tables
 * the first time a run uses it, which costs more than the rest of the check.
 */
export const CONTROL_CHARS = '\\u0000-\\u001f\\u007f-\\u009f';
export const BIDI_CONTROLS = '\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069';

const UNSAFE = new RegExp(`[${CONTROL_CHARS}${BIDI_CONTROLS}]`, 'g');
/** The same, but a line break is kept: for whole messages, whose own lines are ours. */
const UNSAFE_BUT_NEWLINE = new RegExp(`(?!\\n)[${CONTROL_CHARS}${BIDI_CONTROLS}]`, 'g');

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const cp = ch.charCodeAt(0);
  return cp < 0x100 ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
}

/** One line of untrusted text (an email, a title, a path, a cell): every control character escaped, line breaks too. */
export function oneLine(s: string): string {
  return s.replace(UNSAFE, escapeChar);
}

/** A whole message: every control character escaped except its line breaks. */
export function safeText(s: string): string {
  return s.replace(UNSAFE_BUT_NEWLINE, escapeChar);
}

/** Characters JSON.stringify leaves raw that a terminal may act on: DEL, C1, bidi controls (C0 it escapes itself). */
const JSON_RAW = new RegExp(`[\\u007f-\\u009f${BIDI_CONTROLS}\\u2028\\u2029]`, 'g');

/** JSON text with those characters written as `\uXXXX`: the same JSON value, nothing raw for a terminal. */
export function escapeJsonText(json: string): string {
  return json.replace(JSON_RAW, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * `scheme://user:password@` → `scheme://user:***@`. The password runs to the last `@` before the end of
 * the authority (`/`, `?`, `#`, whitespace), as URL parsers read `http://u:p@ss@host`.
 */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*):[^\s/?#]*@/gi;

export function maskUrlCredentials(s: string): string {
  return s.includes('://') ? s.replace(URL_PASSWORD, '$1:***@') : s;
}
