import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { applyGatewayConfig, revertGatewayConfig, type WantedKey } from '../../src/gateway/config-toml.js';

const WANTED: WantedKey[] = [
  { path: 'chatgpt_base_url', value: '"http://127.0.0.1:47310/backend-api/"' },
  { path: 'openai_base_url', value: '"http://127.0.0.1:47311/v1"' },
  { path: 'features.enable_request_compression', value: 'false' },
];

const SHAPES: Array<[string, string | null]> = [
  ['no file', null],
  ['an empty file', ''],
  ['comments and a model', '# my settings\nmodel = "gpt-5" # the best\n\n[profiles.work]\nmodel = "o3"\n'],
  ['our keys already at top level', 'chatgpt_base_url = "https://proxy.example/backend-api/"\nopenai_base_url="https://proxy.example/v1"\nmodel = "gpt-5"\n'],
  ['a [features] table', 'model = "gpt-5"\n\n[features]\n# on by default\nweb_search = true\n\n[tui]\nnotifications = true\n'],
  ['a [features] table setting the key', '[features]\nenable_request_compression = true # mine\n'],
  ['dotted keys at top level', 'features.web_search = true\nanalytics.enabled = false\n'],
  ['the dotted key itself', 'features.enable_request_compression = true\n'],
  ['CRLF line endings', '# windows\r\nmodel = "gpt-5"\r\n\r\n[features]\r\nweb_search = true\r\n'],
  ['no final newline', 'model = "gpt-5"\n[features]'],
  ['a key in another table only', '[profiles.x]\nchatgpt_base_url = "https://elsewhere/"\n'],
];

describe('gateway config.toml edits (text → text)', () => {
  it.each(SHAPES)('%s: sets the keys, keeps every other byte, and disable restores the original bytes', (_name, original) => {
    const { text, records } = applyGatewayConfig(original, WANTED);
    const doc = parse(text) as Record<string, any>;
    expect(doc.chatgpt_base_url).toBe('http://127.0.0.1:47310/backend-api/');
    expect(doc.openai_base_url).toBe('http://127.0.0.1:47311/v1');
    expect(doc.features.enable_request_compression).toBe(false);
    // Every line of the original is still there, unless it set one of our keys.
    const ours = /^\s*(chatgpt_base_url|openai_base_url|features\.enable_request_compression|enable_request_compression)\s*=/;
    for (const line of (original ?? '').split(/\r?\n/)) if (!ours.test(line)) expect(text).toContain(line);
    if (original?.includes('\r\n')) expect(text.replace(/\r\n/g, '')).not.toContain('\n');
    if (original !== null && original.includes('model')) expect((parse(text) as Record<string, unknown>).model ?? (doc.profiles as any)?.work?.model).toBeDefined();
    // Round trip.
    expect(revertGatewayConfig(text, records)).toEqual({ text: original ?? '', kept: [] });
    // Enabling twice changes nothing, and still reverts to the original.
    const again = applyGatewayConfig(text, WANTED, records);
    expect(again.text).toBe(text);
    expect(again.records).toEqual(records);
    expect(revertGatewayConfig(again.text, again.records).text).toBe(original ?? '');
  });

  it('a port change on a second enable still reverts to what the user had', () => {
    const original = 'chatgpt_base_url = "https://proxy.example/backend-api/"\n';
    const first = applyGatewayConfig(original, WANTED);
    const moved = applyGatewayConfig(first.text, [{ path: 'chatgpt_base_url', value: '"http://127.0.0.1:5000/backend-api/"' }, ...WANTED.slice(1)], first.records);
    expect(moved.text).toContain('127.0.0.1:5000');
    expect(revertGatewayConfig(moved.text, moved.records).text).toBe(original);
  });

  it('keeps a key the user changed since enable (and says which), removes the others, keeps the user\'s new lines', () => {
    const original = '# top\nmodel = "gpt-5"\n';
    const { text, records } = applyGatewayConfig(original, WANTED);
    const edited = `${text.replace(/^openai_base_url = .*$/m, 'openai_base_url = "https://mine.example/v1"')}approval_policy = "never"\n`;
    const r = revertGatewayConfig(edited, records);
    expect(r.kept).toEqual(['openai_base_url']);
    expect(r.text).toBe('openai_base_url = "https://mine.example/v1"\n# top\nmodel = "gpt-5"\napproval_policy = "never"\n');
  });

  it('a key the user removed since enable is left removed', () => {
    const { text, records } = applyGatewayConfig('model = "x"\n', WANTED);
    const edited = text.replace(/^chatgpt_base_url = .*\n/m, '');
    const r = revertGatewayConfig(edited, records);
    expect(r).toEqual({ text: 'model = "x"\n', kept: [] });
  });
});
