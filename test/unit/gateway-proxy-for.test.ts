/** proxyFor(): when a proxy applies to an upstream, by undici's EnvHttpProxyAgent rules (the gateway loads undici only then). */
import { describe, expect, it } from 'vitest';
import { proxyFor } from '../../src/platform/http.js';

const P = 'http://proxy.internal:3128';

describe('proxyFor', () => {
  it.each<[string, Record<string, string>, string, string | null]>([
    ['no proxy set', {}, 'https://chatgpt.com/backend-api', null],
    ['HTTPS_PROXY for https', { HTTPS_PROXY: P }, 'https://chatgpt.com/backend-api', P],
    ['HTTPS_PROXY not for http', { HTTPS_PROXY: P }, 'http://127.0.0.1:8080/v1', null],
    ['HTTP_PROXY for https too', { HTTP_PROXY: P }, 'https://api.openai.com/v1', P],
    ['lower case', { https_proxy: P }, 'https://api.openai.com/v1', P],
    ['NO_PROXY *', { HTTPS_PROXY: P, NO_PROXY: '*' }, 'https://api.openai.com/v1', null],
    ['NO_PROXY a parent domain', { HTTPS_PROXY: P, NO_PROXY: 'localhost,.openai.com' }, 'https://api.openai.com/v1', null],
    ['NO_PROXY *.domain', { HTTPS_PROXY: P, no_proxy: '*.openai.com' }, 'https://api.openai.com/v1', null],
    ['NO_PROXY another host', { HTTPS_PROXY: P, NO_PROXY: 'example.com openai.co' }, 'https://api.openai.com/v1', P],
    ['NO_PROXY with the right port', { HTTPS_PROXY: P, NO_PROXY: 'api.openai.com:443' }, 'https://api.openai.com/v1', null],
    ['NO_PROXY with another port', { HTTPS_PROXY: P, NO_PROXY: 'api.openai.com:8443' }, 'https://api.openai.com/v1', P],
    ['an empty HTTPS_PROXY falls to HTTP_PROXY', { HTTPS_PROXY: '', HTTP_PROXY: P }, 'https://api.openai.com/v1', P],
  ])('%s', (_name, env, url, expected) => {
    expect(proxyFor(env, url)).toBe(expected);
  });
});
