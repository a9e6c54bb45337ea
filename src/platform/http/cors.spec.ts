import { originAllowed } from './cors.js';
import { parseCorsOrigins } from '../config/config.js';

describe('CORS origins', () => {
  it('allows exactly the listed origins, or any with *', () => {
    const allowed = parseCorsOrigins('https://app.example.com, http://localhost:8080')!;
    expect(allowed).toEqual(['https://app.example.com', 'http://localhost:8080']);
    expect(originAllowed(allowed, 'https://app.example.com')).toBe(true);
    expect(originAllowed(allowed, 'https://APP.example.com')).toBe(true);
    expect(originAllowed(allowed, 'https://app.example.com.evil.io')).toBe(false);
    expect(originAllowed(allowed, 'http://app.example.com')).toBe(false);
    expect(originAllowed(allowed, 'null')).toBe(false);
    expect(originAllowed(parseCorsOrigins('*')!, 'https://anything.example')).toBe(true);
    expect(originAllowed(parseCorsOrigins(undefined)!, 'https://app.example.com')).toBe(false);
  });

  it('refuses what is not an origin', () => {
    for (const bad of ['app.example.com', 'https://app.example.com/', 'https://app.example.com/path', ',', 'ftp://x.io', 'https://a b']) {
      expect(parseCorsOrigins(bad)).toBeUndefined();
    }
  });
});
