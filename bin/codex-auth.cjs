#!/usr/bin/env node
'use strict';
// Launcher: loads dist/cli.cjs (and, for the commands it hands on, dist/program.cjs) through V8's
// code cache — the same idea as Node 22's module.enableCompileCache, which Node 20 lacks — so
// repeated runs skip compiling the bundles. The caches live in $XDG_CACHE_HOME/codex-auth (or
// ~/.cache/codex-auth), one per bundle, kind of run (list, switch, status, --version, anything else:
// each compiles different functions) and installation, keyed by Node's version and the bundle's
// size and mtime; V8 itself rejects a cache that does not match the source. A cache holds what the
// run that wrote it compiled, so the first few runs of a kind each write a next generation holding
// their own functions too (a switch that was a no-op, then a real one); from the third on it is only
// read. Set NODE_DISABLE_COMPILE_CACHE=1 to load the bundles the ordinary way.
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');

const dist = path.join(__dirname, '..', 'dist');
const GENERATIONS = 3;

/** Which kind of run this is, for the cache's name only (dist/cli.cjs parses the command line). */
function kindOf(argv) {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) return 'version';
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    if (a === '--codex-home') i += 1;
    else if (a.startsWith('-')) continue;
    else return a === 'list' || a === 'ls' ? 'list' : a === 'switch' || a === 'status' ? a : 'other';
  }
  return 'other';
}

let dirPath;
/** $XDG_CACHE_HOME/codex-auth, else ~/.cache/codex-auth. */
function cacheDir() {
  return (dirPath ??= path.join(process.env.XDG_CACHE_HOME || path.join(process.env.HOME || require('node:os').homedir(), '.cache'), 'codex-auth'));
}

// Compiled code is code: trust the cache only in a real directory of ours that nobody else can
// write to, and only a regular file of ours in it.
function trusted(p, isDir) {
  try {
    const s = fs.lstatSync(p);
    const mine = typeof process.getuid !== 'function' || s.uid === process.getuid();
    return mine && (isDir ? s.isDirectory() : s.isFile()) && (s.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

let dirOk;
/** Whether the cache directory can be trusted, asked once a run (it is created only at exit). */
function dirTrusted() {
  return (dirOk ??= trusted(cacheDir(), true));
}

/** require(file), through the compiled-code cache `<prefix>-<kind>-…` unless that is turned off. */
function load(file, prefix, kind) {
  if (process.env.NODE_DISABLE_COMPILE_CACHE) return require(file);
  const vm = require('node:vm');
  let src;
  let st;
  try {
    src = fs.readFileSync(file, 'utf8');
    st = fs.statSync(file);
  } catch {
    return require(file); // let require produce its usual error
  }
  const dir = cacheDir();
  // Each installation (the bundle's path) has caches of its own: two installations must not
  // keep deleting each other's.
  let h = 0x811c9dc5;
  for (let i = 0; i < file.length; i += 1) h = Math.imul(h ^ file.charCodeAt(i), 0x01000193) >>> 0;
  const install = h.toString(16).padStart(8, '0');
  const key = `${process.version}-${process.arch}-${st.size}-${Math.floor(st.mtimeMs)}`;
  const name = `${prefix}-${kind}-${install}-${key}`;
  const cacheFile = (gen) => path.join(dir, `${name}.${gen}.v8`);
  let cachedData;
  let gen = 0;
  if (dirTrusted()) {
    for (let g = GENERATIONS; g >= 1 && cachedData === undefined; g -= 1) {
      if (!trusted(cacheFile(g), false)) continue;
      try {
        cachedData = fs.readFileSync(cacheFile(g));
        gen = g;
      } catch {
        cachedData = undefined;
      }
    }
  }
  const script = new vm.Script(Module.wrap(src), { filename: file, cachedData });
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  // In require's cache, so that a require() of this file elsewhere gets this very module.
  Module._cache[file] = mod;
  script.runInThisContext().call(mod.exports, mod.exports, (id) => mod.require(id), mod, file, path.dirname(file));
  mod.loaded = true;
  const rejected = cachedData !== undefined && script.cachedDataRejected;
  if (gen < GENERATIONS || rejected) {
    const next = rejected ? 1 : gen + 1;
    process.once('exit', () => {
      try {
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        if (!trusted(dir, true)) return;
        const target = cacheFile(next);
        const tmp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
        const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW = 0 } = fs.constants;
        const fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
        try {
          fs.writeSync(fd, script.createCachedData());
        } finally {
          fs.closeSync(fd);
        }
        fs.renameSync(tmp, target);
        // Older generations of this kind; caches of this installation for another Node or another
        // build of the bundle; and any cache nobody has rewritten for 60 days (a removed installation).
        const stale = Date.now() - 60 * 24 * 3600 * 1000;
        for (const old of fs.readdirSync(dir)) {
          if (!old.startsWith(`${prefix}-`) || old === path.basename(target)) continue;
          const p = path.join(dir, old);
          const ours = old.includes(`-${install}-`);
          if (old.startsWith(`${name}.`) || (ours && !old.includes(`-${key}.`)) || (!ours && fs.lstatSync(p).mtimeMs < stale)) fs.rmSync(p, { force: true });
        }
      } catch {
        // A cache is an optimisation only.
      }
    });
  }
  return mod.exports;
}

const kind = kindOf(process.argv.slice(2));
// The commander program (dist/program.cjs, required by cli.cjs for everything but the commonest
// commands) goes through the cache too, when that is what this run needs.
if (kind === 'other') load(path.join(dist, 'program.cjs'), 'program', kind);
const cli = load(path.join(dist, 'cli.cjs'), 'cli', kind);
cli.runCli(process.argv.slice(2)).then((code) =>
  // Exit as soon as output is flushed: a keyring call cut off by its timeout must not keep us alive.
  // (Output to files and pipes is written synchronously; only streams need flushing.)
  cli.flushStreams().then(() => process.exit(code)),
);
