/**
 * No private Node API in what ships or builds it: src/, bin/, tsup.config.ts and (when built) dist/
 * must not use process.binding / internalBinding, underscore members of node:module (Module._cache,
 * _load, _resolveFilename, _nodeModulePaths…), Module.wrap or a Module built by hand, V8 code caches
 * through node:vm (cachedData, createCachedData), nor rewrite esbuild's output (renderChunk) in
 * tsup.config.ts. Such APIs change inside a Node line without notice (process_wrap's did within 24,
 * and its native assertion killed every `switch`).
 *
 * Comments are not code: they are blanked first (with TypeScript's parser, so a `//` inside a string
 * or a regular expression is not mistaken for one), and everything else — strings included — is
 * searched. The first block tests the patterns themselves on small snippets, so that a pattern that
 * stops matching fails here rather than letting everything pass.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/codex.js';

interface Hit {
  file: string;
  line: number;
  rule: string;
  text: string;
}

/** The text with every comment (and the shebang) replaced by spaces; newlines and offsets kept. */
function blankComments(text: string, file: string): string {
  const kind = /\.[cm]?tsx?$/.test(file) ? ts.ScriptKind.TS : ts.ScriptKind.JS;
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, kind);
  const out = text.split('');
  const blank = (from: number, to: number): void => {
    for (let i = from; i < to; i += 1) if (out[i] !== '\n' && out[i] !== '\r') out[i] = ' ';
  };
  // Every character belongs to some token or to the trivia (whitespace, comments) before it.
  const visit = (node: ts.Node): void => {
    if (node.kind >= ts.SyntaxKind.FirstJSDocNode && node.kind <= ts.SyntaxKind.LastJSDocNode) return;
    const children = node.getChildren(sf);
    if (children.length === 0) {
      blank(node.pos, node.getStart(sf, false));
      return;
    }
    for (const child of children) visit(child);
  };
  visit(sf);
  return out.join('');
}

const MODULE_SPEC = String.raw`['"\x60](?:node:)?module['"\x60]`;
/** `._name` or `['_name']` right after what came before. */
const UNDERSCORE_MEMBER = String.raw`\s*(?:\.\s*_[A-Za-z$][\w$]*|\[\s*['"\x60]_[\w$]*['"\x60]\s*\])`;
const esc = (s: string): string => s.replace(/[$]/g, '\\$');

/** The names a file binds to node:module (besides `Module`), and `_` names it imports from it. */
function moduleBindings(code: string): { aliases: string[]; imported: Array<{ index: number; name: string }> } {
  const aliases = new Set<string>(['Module']);
  const imported: Array<{ index: number; name: string }> = [];
  const specifiers = (list: string, index: number, sep: RegExp): void => {
    for (const spec of list.split(',')) {
      const [orig, local] = spec.split(sep).map((s) => s.trim());
      if (!orig) continue;
      if (orig.startsWith('_')) imported.push({ index, name: orig });
      else if ((orig === 'Module' || orig === 'default') && local) aliases.add(local);
    }
  };
  const source = String.raw`(?:await\s+import|(?:__)?require)\s*\(\s*${MODULE_SPEC}\s*\)`;
  for (const m of code.matchAll(new RegExp(String.raw`\bimport\s+([\w$]+)\s*(?:,\s*\{[^}]*\}\s*)?from\s*${MODULE_SPEC}`, 'g'))) aliases.add(m[1] as string);
  for (const m of code.matchAll(new RegExp(String.raw`\bimport\s*\*\s*as\s+([\w$]+)\s+from\s*${MODULE_SPEC}`, 'g'))) aliases.add(m[1] as string);
  for (const m of code.matchAll(new RegExp(String.raw`\bimport\s*(?:[\w$]+\s*,\s*)?\{([^}]*)\}\s*from\s*${MODULE_SPEC}`, 'g'))) specifiers(m[1] as string, m.index, /\s+as\s+/);
  for (const m of code.matchAll(new RegExp(String.raw`\b(?:const|let|var)\s+([\w$]+)\s*=\s*(?:__toESM\(\s*)?${source}`, 'g'))) aliases.add(m[1] as string);
  for (const m of code.matchAll(new RegExp(String.raw`\b(?:const|let|var)\s*\{([^}]*)\}\s*=\s*${source}`, 'g'))) specifiers(m[1] as string, m.index, /\s*:\s*/);
  return { aliases: [...aliases], imported };
}

/** Every private-API use in one file's text: [offset, rule]. */
function findPrivate(text: string, file: string): Array<{ index: number; rule: string }> {
  const code = blankComments(text, file);
  const found: Array<{ index: number; rule: string }> = [];
  const all = (re: RegExp, rule: string): void => {
    for (const m of code.matchAll(re)) found.push({ index: m.index, rule });
  };
  all(/\bprocess\s*(?:\.\s*(?:binding|_linkedBinding)\b|\[\s*['"`](?:binding|_linkedBinding)['"`]\s*\])/g, 'process.binding');
  // process reached through a cast or another name: `(process as any).binding('x')`, `p['binding']('x')`.
  all(/(?<!\bprocess\s*)(?:\.\s*(?:binding|_linkedBinding)|\[\s*['"`](?:binding|_linkedBinding)['"`]\s*\])\s*\(/g, 'process.binding');
  all(/\binternalBinding\b/g, 'internalBinding');
  const { aliases, imported } = moduleBindings(code);
  const names = aliases.map(esc).join('|');
  all(new RegExp(String.raw`(?<![\w$.])(?:${names})\s*(?:\.\s*(?:default|Module)\s*)?${UNDERSCORE_MEMBER}`, 'g'), 'Module._* (private member of node:module)');
  all(new RegExp(String.raw`\b(?:__)?require\s*\(\s*${MODULE_SPEC}\s*\)\s*(?:\.\s*Module\s*)?${UNDERSCORE_MEMBER}`, 'g'), 'Module._* (private member of node:module)');
  for (const i of imported) found.push({ index: i.index, rule: `Module._* (private member of node:module: ${i.name} imported)` });
  all(/\b(?:constructor|prototype)\s*\.\s*_(?:load|cache|compile|resolveFilename|nodeModulePaths|extensions|findPath|pathCache|initPaths|resolveLookupPaths|preloadModules)\b/g, 'Module._* (private member of node:module)');
  all(new RegExp(String.raw`(?<![\w$.])(?:${names})\s*(?:\.\s*(?:default|Module)\s*)?\.\s*wrap(?:per)?\b`, 'g'), 'Module.wrap');
  all(new RegExp(String.raw`\bnew\s+(?:${names})\s*\(`, 'g'), 'new Module() (hand-made module loading)');
  all(/\b(?:cachedData|createCachedData|produceCachedData|cachedDataRejected)\b/g, 'V8 code cache through node:vm (cachedData / createCachedData)');
  if (path.basename(file) === 'tsup.config.ts') all(/\brenderChunk\b/g, 'renderChunk (rewrites the bundler output)');
  return found.sort((a, b) => a.index - b.index);
}

function scanText(text: string, file: string): Hit[] {
  const lineStarts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  const lineOf = (index: number): number => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((lineStarts[mid] as number) <= index) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const lines = text.split('\n');
  const hits = new Map<string, Hit>(); // one per line and rule
  for (const { index, rule } of findPrivate(text, file)) {
    const line = lineOf(index);
    hits.set(`${line}\0${rule}`, { file, line, rule, text: (lines[line - 1] ?? '').trim().slice(0, 160) });
  }
  return [...hits.values()];
}

/** The rules a snippet trips (file name decides TS or JS, and whether renderChunk counts). */
function rules(snippet: string, file = 'x.ts'): string[] {
  return scanText(snippet, file).map((h) => h.rule);
}

describe('the private-API patterns', () => {
  it.each([
    ["process.binding('process_wrap')", 'process.binding'],
    ["const { Process } = process . binding('process_wrap');", 'process.binding'],
    ["process['binding']('fs')", 'process.binding'],
    ["process._linkedBinding('x')", 'process.binding'],
    ["const b = (process as unknown as { binding(name: string): unknown }).binding('process_wrap');", 'process.binding'],
    ["const p: any = process;\np['binding']('fs');", 'process.binding'],
    ["const b = internalBinding('fs');", 'internalBinding'],
    ['Module._cache[file] = mod;', 'Module._*'],
    ['mod.paths = Module._nodeModulePaths(dir);', 'Module._*'],
    ["Module._load('x', null, false)", 'Module._*'],
    ["Module['_resolveFilename'](r, parent)", 'Module._*'],
    ["const Module = require('node:module');\nModule._extensions['.js']", 'Module._*'],
    ["import M from 'node:module';\nM._resolveFilename('x', null);", 'Module._*'],
    ["import * as nm from 'module';\nnm._cache;", 'Module._*'],
    ["import { Module as Mod } from 'node:module';\nMod._load('x');", 'Module._*'],
    ["import nm from 'node:module';\nnm.Module._cache;", 'Module._*'],
    ["import { _nodeModulePaths } from 'node:module';", 'Module._*'],
    ["const { _load: load } = require('module');", 'Module._*'],
    ["const m = await import('node:module');\nm.default._cache;", 'Module._*'],
    ['var import_node_module = __toESM(require("node:module"), 1);\nimport_node_module.default._cache[f] = m;', 'Module._*'],
    ["require('module')._cache", 'Module._*'],
    ['module.constructor._load(x)', 'Module._*'],
    ['Module.prototype._compile.call(m, src, f);', 'Module._*'],
    ['const script = new vm.Script(Module.wrap(src), { filename: file });', 'Module.wrap'],
    ["import nm from 'node:module';\nconst w = nm.wrapper;", 'Module.wrap'],
    ['const mod = new Module(file, module);', 'new Module()'],
    ['new vm.Script(src, { filename: f, cachedData });', 'V8 code cache'],
    ['fs.writeFileSync(c, script.createCachedData());', 'V8 code cache'],
    ['const src = "process.binding(\'fs\')";', 'process.binding'], // a string is code too (eval, new Function)
  ])('finds %j', (snippet, rule) => {
    expect(rules(snippet).some((r) => r.startsWith(rule))).toBe(true);
  });

  it('finds renderChunk in tsup.config.ts only', () => {
    const cfg = 'const p = { name: "x", renderChunk(code: string) { return code.replace(/a/g, "b"); } };';
    expect(rules(cfg, 'tsup.config.ts')).toEqual(['renderChunk (rewrites the bundler output)']);
    expect(rules(cfg, 'src/other.ts')).toEqual([]);
  });

  it.each([
    "import module from 'node:module';\nmodule.enableCompileCache?.();",
    "import { createRequire, enableCompileCache } from 'node:module';\nconst require = createRequire(import.meta.url);",
    "import { createRequire as _cr } from 'node:module';",
    'module.exports = { a: 1 };',
    'this._cache = new Map(); obj._load(); cache._nodeModulePaths;',
    'class Thing { _cache = 1; wrap() {} }\nconst t = new Thing();\nt.wrap();',
    'const SubModule = 1; SubModule._x; foo.Module._y;',
    "const s = new vm.Script('1 + 1');",
    'interface P { binding(name: string): unknown }\nconst binding = load(); binding.open();',
    'const url = "http://example.com//x"; const ok = 1;',
    '// process.binding is gone\n/* Module._cache, cachedData */\nconst x = 1; // internalBinding',
    '/** Once read Module._cache and process.binding. */\nexport const y = 2;',
    '#!/usr/bin/env node\n// createCachedData was here\n',
    'const re = /\\/\\/ process/; const t = `a ${1} b`;',
    'renderChunk();',
  ])('passes %j', (snippet) => {
    expect(scanText(snippet, 'src/x.ts')).toEqual([]);
  });

  it('keeps line numbers through blanked comments', () => {
    const hits = scanText('/* a\n b */\nconst a = 1;\n\n  process.binding("x") // there\n', 'bin/x.js');
    expect(hits).toEqual([{ file: 'bin/x.js', line: 5, rule: 'process.binding', text: 'process.binding("x") // there' }]);
  });

  it('finds code after a string holding // or a regular expression holding /*', () => {
    expect(rules('const u = "http://x"; process.binding("fs");', 'x.js')).toEqual(['process.binding']);
    expect(rules('const r = /a\\/*b/; internalBinding("fs");', 'x.js')).toEqual(['internalBinding']);
    expect(rules('const t = `//${x}`; Module._load("y");', 'x.ts')).toEqual(['Module._* (private member of node:module)']);
  });
});

const SCANNED_EXT = /\.(?:[cm]?[jt]s|tsx)$/;

/** src/**, bin/** (any file: a launcher may have no extension), tsup.config.ts, dist/** if built. */
function shippedFiles(): string[] {
  const files: string[] = [];
  const walk = (rel: string, anyName: boolean): void => {
    const abs = path.join(REPO_ROOT, rel);
    if (!fs.existsSync(abs)) return;
    for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) walk(r, anyName);
      else if (e.isFile() && (SCANNED_EXT.test(e.name) || (anyName && !e.name.includes('.')))) files.push(r);
    }
  };
  walk('src', false);
  walk('bin', true);
  walk('dist', false);
  if (fs.existsSync(path.join(REPO_ROOT, 'tsup.config.ts'))) files.push('tsup.config.ts');
  return files;
}

describe('the repository', () => {
  it('uses no private Node API in src/, bin/, tsup.config.ts or dist/', () => {
    const files = shippedFiles();
    // A walk that found nothing would pass vacuously: the sources, the build config and every
    // executable package.json names must be among what is read.
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { bin?: string | Record<string, string> };
    const bins = typeof pkg.bin === 'string' ? [pkg.bin] : Object.values(pkg.bin ?? {});
    expect(bins.length).toBeGreaterThan(0);
    for (const b of bins) {
      const rel = path.normalize(b);
      if (!files.includes(rel)) files.push(rel);
      expect(fs.existsSync(path.join(REPO_ROOT, rel)), `package.json's bin ${b} exists`).toBe(true);
    }
    expect(files.some((f) => f.startsWith(`src${path.sep}`))).toBe(true);
    expect(files).toContain('tsup.config.ts');
    const hits = files.flatMap((f) => scanText(fs.readFileSync(path.join(REPO_ROOT, f), 'utf8'), f));
    const report = hits.map((h) => `${h.file}:${h.line}: ${h.rule}: ${h.text}`);
    if (report.length > 0) console.error(`private Node APIs found (${report.length}):\n${report.join('\n')}`);
    expect(report).toEqual([]);
  });
});
