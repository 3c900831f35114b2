/**
 * A synchronous require for Node's built-in modules that only some runs need (node:tty,
 * node:child_process…): loaded where used, not at start-up.
 */
import { createRequire } from 'node:module';

export const nodeRequire: NodeJS.Require = createRequire(import.meta.url);
