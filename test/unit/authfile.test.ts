import { describe, expect, it } from 'vitest';
import { apiKeyAccountId, AuthFileError, chatgptIdentity, credentialFingerprint, parseAuthJson, serializeAuth, sha256Hex } from '../../src/domain/authfile.js';
import { decodeJwtPayload, jwtExpiry } from '../../src/domain/jwt.js';
import { normalizePlan } from '../../src/domain/plans.js';
import { AUTH_CLAIM, apiKeyAuth, chatgptAuth, fakeApiKey, makeJwt } from '../support/jwt.js';

const alice = { email: 'alice@example.com', userId: 'user-alice', accountId: 'acc-personal', plan: 'plus' };

describe('parseAuthJson', () => {
  it('parses a ChatGPT auth.json and keeps unknown fields through a round trip', () => {
    const doc = chatgptAuth({ ...alice, extra: { agent_identity: { x: 1 }, future_field: 'keep me' } });
    const parsed = parseAuthJson(JSON.stringify(doc));
    expect(parsed.mode).toBe('chatgpt');
    expect(parsed.tokens?.refresh_token).toBe(doc.tokens.refresh_token);
    expect(parsed.lastRefresh).toBe(doc.last_refresh);
    expect(JSON.parse(serializeAuth(parsed.raw))).toEqual(doc);
  });

  it('parses an API-key auth.json', () => {
    const key = fakeApiKey('a');
    const parsed = parseAuthJson(JSON.stringify(apiKeyAuth(key)));
    expect(parsed.mode).toBe('apikey');
    expect(parsed.apiKey).toBe(key);
  });

  it('infers the mode when auth_mode is missing, as Codex does', () => {
    const key = fakeApiKey('b');
    expect(parseAuthJson(JSON.stringify({ OPENAI_API_KEY: key })).mode).toBe('apikey');
    const { auth_mode: _omit, ...rest } = chatgptAuth(alice);
    expect(parseAuthJson(JSON.stringify({ ...rest, OPENAI_API_KEY: null })).mode).toBe('chatgpt');
  });

  it.each([
    ['', 'is empty'],
    ['   \n', 'is empty'],
    ['{not json', 'is not valid JSON'],
    ['[]', 'must be a JSON object, found an array'],
    ['42', 'must be a JSON object, found a number'],
    ['{"OPENAI_API_KEY": 5}', '"OPENAI_API_KEY" must be a string or null, found a number'],
    ['{"auth_mode": 3}', '"auth_mode" must be a string'],
    ['{"tokens": "x"}', '"tokens" must be an object, found a string'],
    ['{"tokens": {"id_token": "a", "access_token": "b"}}', '"tokens.refresh_token" must be a string, found nothing'],
    ['{"tokens": {"id_token": "a", "access_token": "b", "refresh_token": "c", "account_id": 7}}', '"tokens.account_id" must be a string or null'],
    ['{"OPENAI_API_KEY": "sk-x", "last_refresh": ""}', '"last_refresh" must be an RFC 3339 timestamp'],
    ['{"auth_mode": "apikey", "OPENAI_API_KEY": null}', 'API-key mode but "OPENAI_API_KEY" is empty'],
    ['{}', 'has neither an API key nor ChatGPT "tokens"'],
  ])('rejects %j with a message naming the problem', (text, message) => {
    expect(() => parseAuthJson(text)).toThrow(AuthFileError);
    expect(() => parseAuthJson(text)).toThrow(message);
  });
});

describe('chatgptIdentity', () => {
  it('derives the account id from user id and workspace id', () => {
    const id = chatgptIdentity(parseAuthJson(JSON.stringify(chatgptAuth(alice))));
    expect(id.id).toBe('chatgpt::user-alice::acc-personal');
    expect(id.email).toBe('alice@example.com');
    expect(id.plan).toBe('plus');
    expect(id.accessTokenExpiresAt).toBeGreaterThan(Date.now() / 1000);
  });

  it('tells two workspaces of one person apart', () => {
    const a = chatgptIdentity(parseAuthJson(JSON.stringify(chatgptAuth(alice))));
    const b = chatgptIdentity(parseAuthJson(JSON.stringify(chatgptAuth({ ...alice, accountId: 'acc-team', plan: 'team' }))));
    expect(a.id).not.toBe(b.id);
    expect(b.plan).toBe('team');
  });

  it('falls back to the profile email, user_id and the default organization', () => {
    const idToken = makeJwt({
      'https://api.openai.com/profile': { email: 'p@example.com' },
      [AUTH_CLAIM]: {
        user_id: 'user-p',
        chatgpt_plan_type: 'self_serve_business_usage_based',
        organizations: [
          { id: 'org-1', is_default: false, title: 'Other' },
          { id: 'org-2', is_default: true, title: 'Main Co' },
        ],
      },
    });
    const doc = { tokens: { id_token: idToken, access_token: makeJwt({}), refresh_token: 'r', account_id: null } };
    const id = chatgptIdentity(parseAuthJson(JSON.stringify(doc)));
    expect(id).toMatchObject({ id: 'chatgpt::user-p::org-2', email: 'p@example.com', plan: 'business', workspaceTitle: 'Main Co', accessTokenExpiresAt: null });
  });

  it.each([
    ['not-a-jwt', 'is not a JWT (expected three dot-separated parts)'],
    ['a.!!!.c', 'payload is not base64url'],
    [`a.${Buffer.from('nope').toString('base64url')}.c`, 'payload is not JSON'],
  ])('rejects an undecodable id_token %s', (idToken, message) => {
    const doc = { tokens: { id_token: idToken, access_token: 'x', refresh_token: 'r' } };
    expect(() => chatgptIdentity(parseAuthJson(JSON.stringify(doc)))).toThrow(message);
  });

  it('rejects tokens without the ids it needs', () => {
    const noUser = { tokens: { id_token: makeJwt({ [AUTH_CLAIM]: { chatgpt_account_id: 'a' } }), access_token: 'x', refresh_token: 'r' } };
    expect(() => chatgptIdentity(parseAuthJson(JSON.stringify(noUser)))).toThrow('no chatgpt_user_id');
    const noAccount = { tokens: { id_token: makeJwt({ [AUTH_CLAIM]: { chatgpt_user_id: 'u' } }), access_token: 'x', refresh_token: 'r' } };
    expect(() => chatgptIdentity(parseAuthJson(JSON.stringify(noAccount)))).toThrow('no chatgpt_account_id');
  });
});

describe('ids, fingerprints, plans, JWTs', () => {
  it('builds API-key ids from /v1/me id and the key hash', () => {
    const key = fakeApiKey('k');
    expect(apiKeyAccountId('user-1', key)).toBe(`apikey::user-1::${sha256Hex(key)}`);
    expect(apiKeyAccountId('user-1', key)).not.toContain(key);
  });

  it('changes the fingerprint when tokens rotate, not otherwise', () => {
    const doc = chatgptAuth(alice);
    const a = parseAuthJson(JSON.stringify(doc));
    const same = parseAuthJson(JSON.stringify({ ...doc, last_refresh: new Date(0).toISOString() }));
    const rotated = parseAuthJson(JSON.stringify({ ...doc, tokens: { ...doc.tokens, refresh_token: 'rt_new' } }));
    expect(credentialFingerprint(a)).toBe(credentialFingerprint(same));
    expect(credentialFingerprint(a)).not.toBe(credentialFingerprint(rotated));
    expect(credentialFingerprint(a)).not.toContain(doc.tokens.refresh_token);
  });

  it.each([
    ['plus', 'plus'],
    ['PRO', 'pro'],
    ['prolite', 'prolite'],
    ['self_serve_business_usage_based', 'business'],
    ['enterprise_cbp_usage_based', 'enterprise'],
    ['hc', 'enterprise'],
    ['education', 'edu'],
    ['go', 'go'],
    ['weird', 'unknown'],
    [undefined, 'unknown'],
    [3, 'unknown'],
  ])('normalizes plan %j to %s', (raw, plan) => {
    expect(normalizePlan(raw)).toBe(plan);
  });

  it('reads JWT expiry and rejects non-objects', () => {
    expect(jwtExpiry(makeJwt({ exp: 123 }))).toBe(123);
    expect(jwtExpiry('garbage')).toBeNull();
    expect(() => decodeJwtPayload(`a.${Buffer.from('[1]').toString('base64url')}.c`)).toThrow('not a JSON object');
  });
});
