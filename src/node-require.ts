/**
 * A synchronous require for Node's built-in modules that are loaded only when needed. The bundle is
 * CommonJS (`require` exists); the tests run the ESM source (createRequire).
 */
import { createRequire } from 'node:module';

declare const require: NodeJS.Require | undefined;
export const nodeRequire: NodeJS.Require = typeof require === 'function' ? require : createRequire(import.meta.url);
