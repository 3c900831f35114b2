/**
 * The gateway's edits of Codex's config.toml, as text → text (no I/O): the few keys CODEX-FACTS.md
 * §10 requires are set, every other byte of the file stays (comments, order, formatting, CRLF).
 * Each edited line is recorded — what it was before (null: inserted) and what was written — so that
 * `gateway disable` puts back exactly what was there, and keeps a line the user changed since.
 *
 * Where a key goes: a top-level key replaces its top-level line, or is inserted at the very start of
 * the file (always outside any table or multi-line value). `features.x` replaces its line in
 * `[features]` or a top-level `features.x = …` line, or goes right after the `[features]` header,
 * or else is inserted at the start as a dotted key. The caller checks the result with a TOML parser.
 */

/** One key the gateway sets: `path` is `chatgpt_base_url` or `features.enable_request_compression`. */
export interface WantedKey {
  path: string;
  /** A TOML value literal, e.g. `"http://127.0.0.1:47310/backend-api/"` or `false`. */
  value: string;
}

/** What enable did to one key. */
export interface EditRecord {
  path: string;
  /** The line written (without its line ending). */
  line: string;
  /** The line it replaced (without its line ending), or null when it was inserted. */
  previous: string | null;
}

export interface ConfigEdit {
  text: string;
  records: EditRecord[];
}

const MARK = '# codex-auth gateway';

interface Line {
  body: string;
  eol: string;
}

function splitLines(text: string): Line[] {
  const out: Line[] = [];
  const re = /([^\r\n]*)(\r\n|\n|$)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (m[0] === '') break;
    out.push({ body: m[1] ?? '', eol: m[2] ?? '' });
  }
  return out;
}

const join = (lines: Line[]) => lines.map((l) => l.body + l.eol).join('');

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `key`, `"key"` or `'key'`, dotted parts with optional spaces around the dots. */
function keyPattern(parts: string[]): string {
  return parts.map((p) => `(?:${escapeRe(p)}|"${escapeRe(p)}"|'${escapeRe(p)}')`).join('\\s*\\.\\s*');
}

function isHeader(body: string): boolean {
  return /^\s*\[/.test(body);
}

function headerName(body: string): string | null {
  const m = /^\s*\[\s*([^[\]]+?)\s*\]\s*(#.*)?$/.exec(body);
  return m ? (m[1] ?? '').replace(/\s*\.\s*/g, '.').replace(/["']/g, '') : null;
}

/** Index of the line assigning `parts` in lines [from, to), or -1. */
function findKey(lines: Line[], from: number, to: number, parts: string[]): number {
  const re = new RegExp(`^\\s*${keyPattern(parts)}\\s*=`);
  for (let i = from; i < to; i++) if (re.test(lines[i]!.body)) return i;
  return -1;
}

/** [start, end) of the top-level region (before the first table header). */
function topRegion(lines: Line[]): [number, number] {
  const first = lines.findIndex((l) => isHeader(l.body));
  return [0, first === -1 ? lines.length : first];
}

/** [start, end) of the body of table `[name]`, or null when there is no such header. */
function tableRegion(lines: Line[], name: string): [number, number] | null {
  const h = lines.findIndex((l) => headerName(l.body) === name);
  if (h === -1) return null;
  let end = lines.length;
  for (let i = h + 1; i < lines.length; i++) {
    if (isHeader(lines[i]!.body)) {
      end = i;
      break;
    }
  }
  return [h + 1, end];
}

/** Where `path`'s line is, or where a new one goes and how it is spelled. */
function locate(lines: Line[], path: string): { index: number; found: boolean; key: string } {
  const parts = path.split('.');
  const [t0, t1] = topRegion(lines);
  if (parts.length === 1) {
    const i = findKey(lines, t0, t1, parts);
    return { index: i === -1 ? 0 : i, found: i !== -1, key: path };
  }
  const dotted = findKey(lines, t0, t1, parts);
  if (dotted !== -1) return { index: dotted, found: true, key: path };
  const table = parts.slice(0, -1).join('.');
  const leaf = parts[parts.length - 1]!;
  const region = tableRegion(lines, table);
  if (region) {
    const i = findKey(lines, region[0], region[1], [leaf]);
    return { index: i === -1 ? region[0] : i, found: i !== -1, key: leaf };
  }
  return { index: 0, found: false, key: path };
}

function eolOf(text: string): string {
  return text.includes('\r\n') ? '\r\n' : '\n';
}

/**
 * Set the wanted keys in `text` (null: no file). `prior`: the records of an earlier enable — a line
 * that is still the one written then keeps its original `previous`, so a second enable changes
 * nothing and disable still restores what the user had.
 */
export function applyGatewayConfig(text: string | null, wanted: readonly WantedKey[], prior: readonly EditRecord[] = []): ConfigEdit {
  const src = text ?? '';
  const lines = splitLines(src);
  const eol = eolOf(src);
  const records: EditRecord[] = [];
  for (const w of wanted) {
    const at = locate(lines, w.path);
    const line = `${at.key} = ${w.value} ${MARK}`;
    const old = prior.find((r) => r.path === w.path);
    if (at.found) {
      const current = lines[at.index]!.body;
      const previous = old && old.line === current ? old.previous : current;
      lines[at.index] = { body: line, eol: lines[at.index]!.eol };
      records.push({ path: w.path, line, previous });
    } else {
      const before = at.index > 0 ? lines[at.index - 1]! : null;
      if (before && before.eol === '') {
        // After a last line without a line ending (a `[features]` header at the end of the file).
        before.eol = eol;
        lines.splice(at.index, 0, { body: line, eol: '' });
      } else lines.splice(at.index, 0, { body: line, eol });
      records.push({ path: w.path, line, previous: null });
    }
  }
  return { text: join(lines), records };
}

export interface ConfigRevert {
  text: string;
  /** Keys whose line the user changed since enable: kept as the user has them. */
  kept: string[];
}

/** Undo `records` in `text`: each line still as written goes back to what it was (or away). */
export function revertGatewayConfig(text: string, records: readonly EditRecord[]): ConfigRevert {
  const lines = splitLines(text);
  const kept: string[] = [];
  for (const r of [...records].reverse()) {
    const at = locate(lines, r.path);
    if (!at.found) continue; // the user removed it: nothing to put back
    const current = lines[at.index]!;
    if (current.body !== r.line) {
      kept.push(r.path);
      continue;
    }
    if (r.previous === null) {
      lines.splice(at.index, 1);
      if (current.eol === '' && at.index > 0) lines[at.index - 1]!.eol = '';
    }
    else lines[at.index] = { body: r.previous, eol: current.eol };
  }
  return { text: join(lines), kept: kept.reverse() };
}

/** A TOML basic string literal. */
export function tomlString(s: string): string {
  return JSON.stringify(s);
}
