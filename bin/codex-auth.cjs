#!/usr/bin/env node
'use strict';
// codex-auth's launcher. Node 22.1+ keeps the code it compiles for the bundle in a cache of its own
// (module.enableCompileCache: Node checks each entry against the source, so a rebuilt bundle never
// runs stale code) and later runs skip most of the compiling; older Nodes simply run without it.
// The cache lives in the user's cache directory rather than a shared temporary one. Node's own
// NODE_COMPILE_CACHE (another directory) and NODE_DISABLE_COMPILE_CACHE=1 (no cache) are honoured.
const module_ = require('node:module');

if (typeof module_.enableCompileCache === 'function') {
  const path = require('node:path');
  const home = process.env.HOME || require('node:os').homedir();
  const base = process.env.XDG_CACHE_HOME || (home && path.join(home, '.cache'));
  const dir = process.env.NODE_COMPILE_CACHE || (base && path.isAbsolute(base) ? path.join(base, 'codex-auth', 'compile-cache') : '');
  if (dir) module_.enableCompileCache(dir); // no home directory: no cache
}

require('../dist/cli.cjs').main();
