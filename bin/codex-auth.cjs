#!/usr/bin/env node
'use strict';
// Launcher: loads dist/cli.cjs through V8's code cache (the same idea as Node 22's
// module.enableCompileCache, which Node 20 lacks), so repeated runs skip compiling the bundle.
// The cache lives in $XDG_CACHE_HOME/codex-auth (or ~/.cache/codex-auth), keyed by Node's version
// and the bundle's size and mtime; V8 itself rejects a cache that does not match the source.
// Set NODE_DISABLE_COMPILE_CACHE=1 to load the bundle the ordinary way.
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');

const file = path.join(__dirname, '..', 'dist', 'cli.cjs');

function load() {
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
  const home = process.env.HOME || require('node:os').homedir();
  const dir = path.join(process.env.XDG_CACHE_HOME || path.join(home, '.cache'), 'codex-auth');
  const cacheFile = path.join(dir, `cli-${process.version}-${process.arch}-${st.size}-${Math.floor(st.mtimeMs)}.v8`);
  // Compiled code is code: trust the cache only in a real directory of ours that nobody else can
  // write to, and only a regular file of ours in it.
  const trusted = (p, isDir) => {
    try {
      const s = fs.lstatSync(p);
      const mine = typeof process.getuid !== 'function' || s.uid === process.getuid();
      return mine && (isDir ? s.isDirectory() : s.isFile()) && (s.mode & 0o022) === 0;
    } catch {
      return false;
    }
  };
  let cachedData;
  if (trusted(dir, true) && trusted(cacheFile, false)) {
    try {
      cachedData = fs.readFileSync(cacheFile);
    } catch {
      cachedData = undefined;
    }
  }
  const script = new vm.Script(Module.wrap(src), { filename: file, cachedData });
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  script.runInThisContext().call(mod.exports, mod.exports, (id) => mod.require(id), mod, file, path.dirname(file));
  mod.loaded = true;
  if (cachedData === undefined || script.cachedDataRejected) {
    process.once('exit', () => {
      try {
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        if (!trusted(dir, true)) return;
        const tmp = `${cacheFile}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
        const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW = 0 } = fs.constants;
        const fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
        try {
          fs.writeSync(fd, script.createCachedData());
        } finally {
          fs.closeSync(fd);
        }
        fs.renameSync(tmp, cacheFile);
        for (const old of fs.readdirSync(dir)) if (old.startsWith('cli-') && old !== path.basename(cacheFile)) fs.rmSync(path.join(dir, old), { force: true });
      } catch {
        // A cache is an optimisation only.
      }
    });
  }
  return mod.exports;
}

const cli = load();
cli.runCli(process.argv.slice(2)).then((code) =>
  // Exit as soon as output is flushed: a keyring call cut off by its timeout must not keep us alive.
  // (Output to files and pipes is written synchronously; only streams need flushing.)
  cli.flushStreams().then(() => process.exit(code)),
);
