import { describeJsonError, nestedDeeperThan } from './json-depth.js';

const bytes = (text: string) => Buffer.from(text, 'utf8');

describe('nestedDeeperThan', () => {
  it('counts object and array nesting', () => {
    expect(nestedDeeperThan(bytes('{"a":{"b":[1,{"c":2}]}}'), 4)).toBe(false);
    expect(nestedDeeperThan(bytes('{"a":{"b":[1,{"c":2}]}}'), 3)).toBe(true);
    expect(nestedDeeperThan(bytes('[]'.repeat(1000)), 1)).toBe(false);
    expect(nestedDeeperThan(bytes('['.repeat(65) + ']'.repeat(65)), 64)).toBe(true);
    expect(nestedDeeperThan(bytes('['.repeat(64) + ']'.repeat(64)), 64)).toBe(false);
    // Unclosed: still refused as soon as it goes too deep, before any parsing.
    expect(nestedDeeperThan(bytes('['.repeat(100_000)), 64)).toBe(true);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(nestedDeeperThan(bytes(JSON.stringify({ s: '[[[[[[{{{{{{' })), 1)).toBe(false);
    expect(nestedDeeperThan(bytes(JSON.stringify({ s: 'say \\"[[[[" and \\\\', t: '[[[' })), 1)).toBe(false);
    expect(nestedDeeperThan(bytes(JSON.stringify({ s: '"', t: { u: [] } })), 2)).toBe(true);
  });
});

describe('describeJsonError', () => {
  const errorOf = (text: string) => {
    try {
      JSON.parse(text);
    } catch (error) {
      return error;
    }
    throw new Error('parsed');
  };

  it('never repeats the input', () => {
    for (const text of ['sk_live_secret', '{"writeKey":"wk_secret_value" x}', `{"k":"${'wk_secret '.repeat(20)}" x}`, '[wk_secret]', '']) {
      const message = describeJsonError(errorOf(text));
      expect(message).toMatch(/^body is not valid JSON/);
      expect(message).not.toMatch(/secret/);
    }
    expect(describeJsonError(errorOf('{"a":'))).toBe('body is not valid JSON: Unexpected end of JSON input');
  });
});
