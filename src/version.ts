declare const __VERSION__: string;
/** Set at build time from package.json (tsup `define`). */
export const VERSION: string = typeof __VERSION__ === 'string' ? __VERSION__ : '0.0.0-dev';
