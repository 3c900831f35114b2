/** HTTPS through a proxy and with a custom CA: HTTPS_PROXY, NO_PROXY, CODEX_CA_CERTIFICATE, SSL_CERT_FILE. */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { findSecrets, makeSandbox, type Sandbox } from '../support/inprocess.js';
import { tunnelConnects } from '../support/tunnel.js';
import { fakeApiKey } from '../support/jwt.js';

const TLS = path.join(__dirname, '..', 'fixtures', 'tls');
const CA = path.join(TLS, 'ca.pem');
const KEY = fakeApiKey('tls-proxy');

let server: https.Server;
let proxy: http.Server;
let serverPort = 0;
let proxyPort = 0;
const connects: string[] = [];
const meCalls: string[] = [];
let sb: Sandbox;

beforeAll(async () => {
  server = https.createServer({ key: fs.readFileSync(path.join(TLS, 'server.key')), cert: fs.readFileSync(path.join(TLS, 'server.pem')) }, (req, res) => {
    meCalls.push(`${req.method} ${req.url}`);
    if (req.url === '/v1/me' && req.headers.authorization === `Bearer ${KEY}`) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'user', id: 'user-tls', email: 'tls@example.com', name: 'TLS', orgs: { data: [] } }));
    } else res.writeHead(401).end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  serverPort = (server.address() as net.AddressInfo).port;
  // A CONNECT proxy that records where it tunnels to.
  proxy = http.createServer((_req, res) => res.writeHead(405).end());
  tunnelConnects(proxy, (target) => connects.push(target));
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyPort = (proxy.address() as net.AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  proxy.closeAllConnections?.();
  await new Promise((r) => server.close(r));
  await new Promise((r) => proxy.close(r));
});
beforeEach(() => {
  sb = makeSandbox();
  sb.env.CODEX_AUTH_OPENAI_BASE_URL = `https://127.0.0.1:${serverPort}/v1`;
  sb.env.CODEX_AUTH_HTTP_TIMEOUT_MS = '3000';
  connects.length = 0;
  meCalls.length = 0;
});
afterEach(() => {
  expect(findSecrets(sb.transcript, [KEY])).toEqual([]);
  sb.cleanup();
});

describe('TLS and proxies', () => {
  it('refuses an untrusted certificate with a message that names the fix', async () => {
    const r = await sb.run(['add-api-key', '-'], { input: KEY });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/TLS certificate of https:\/\/127\.0\.0\.1:\d+ is not trusted .*CODEX_CA_CERTIFICATE/);
    expect(meCalls).toEqual([]);
  });

  it.each(['CODEX_CA_CERTIFICATE', 'SSL_CERT_FILE'])('trusts the CA in %s', async (variable) => {
    const r = await sb.run(['add-api-key', '-', '--json'], { input: KEY, env: { [variable]: CA } });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ email: 'tls@example.com', verified: true });
  });

  it('goes through HTTPS_PROXY, and around it for hosts in NO_PROXY', async () => {
    const viaProxy = await sb.run(['add-api-key', '-', '--json'], { input: KEY, env: { CODEX_CA_CERTIFICATE: CA, HTTPS_PROXY: `http://127.0.0.1:${proxyPort}` } });
    expect(viaProxy.code).toBe(0);
    expect(connects).toEqual([`127.0.0.1:${serverPort}`]);
    connects.length = 0;
    const direct = await sb.run(['add-api-key', '-', '--json'], { input: KEY, env: { CODEX_CA_CERTIFICATE: CA, HTTPS_PROXY: `http://127.0.0.1:${proxyPort}`, NO_PROXY: '127.0.0.1' } });
    expect(direct.code).toBe(0);
    expect(connects).toEqual([]);
    expect(meCalls).toHaveLength(2);
  });
});
