#!/usr/bin/env node
'use strict';
// codex-auth's launcher. Node 22.1+ keeps the code it compiles for the bundle in a cache of its own
// (module.enableCompileCache: Node checks each entry against the source, so a rebuilt bundle never
// runs stale code) and later runs skip most of the compiling; older Nodes simply run without it.
// The cache lives in the user's cache directory rather than a shared temporary one. Node's own
// NODE_COMPILE_CACHE (another directory) and NODE_DISABLE_COMPILE_CACHE=1 (no cache) are honoured.
const module_ = require('node:module');

if (typeof module_.enableCompileCache === 'function') {
  if (process.env.NODE_COMPILE_CACHE) module_.enableCompileCache();
  else {
    const dir = privateCacheDir();
    if (dir) module_.enableCompileCache(dir);
  }
}

/**
 * $XDG_CACHE_HOME/codex-auth (or ~/.cache/codex-auth), created 0700: compiled code is code, so
 * nobody else may write there (Node creates its own files inside with the umask's modes). Null —
 * no cache — without a home directory, or when the directory is not ours or others may write to it.
 */
function privateCacheDir() {
  const fs = require('node:fs');
  const path = require('node:path');
  const home = process.env.HOME || require('node:os').homedir();
  const base = process.env.XDG_CACHE_HOME || (home && path.join(home, '.cache'));
  if (!base || !path.isAbsolute(base)) return null;
  const ours = path.join(base, 'codex-auth');
  try {
    let st = fs.lstatSync(ours, { throwIfNoEntry: false });
    if (!st) {
      fs.mkdirSync(ours, { recursive: true, mode: 0o700 });
      st = fs.lstatSync(ours);
    }
    const mine = typeof process.getuid !== 'function' || st.uid === process.getuid();
    if (!st.isDirectory() || !mine || (st.mode & 0o022) !== 0) return null;
  } catch {
    return null;
  }
  return path.join(ours, 'compile-cache');
}

require('../dist/cli.cjs').main();
