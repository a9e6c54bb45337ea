import { ingestRoute, singleCallType } from './tracking-api.js';

describe('ingestRoute', () => {
  it('names the endpoint from the matched route, whatever the spelling of the path', () => {
    expect(ingestRoute('/v1/:type', { type: 'track' })).toEqual({ kind: 'single', type: 'track' });
    expect(ingestRoute('/v1/:type', { type: 't' })).toEqual({ kind: 'single', type: 'track' });
    expect(ingestRoute('/v1/:type', { type: 'a' })).toEqual({ kind: 'single', type: 'alias' });
    for (const path of ['/v1/batch', '/v1/import', '/v1/b']) expect(ingestRoute(path, {})).toEqual({ kind: 'batch' });
    expect(ingestRoute('/v1/webhook', {})).toEqual({ kind: 'webhook' });
  });

  it('is undefined for anything else, prototype names included', () => {
    expect(ingestRoute('/v1/:type', { type: 'foo' })).toBeUndefined();
    expect(ingestRoute('/v1/:type', { type: 'constructor' })).toBeUndefined();
    expect(ingestRoute('/v1/:type', { type: '__proto__' })).toBeUndefined();
    expect(ingestRoute('/v1/dead-letters', {})).toBeUndefined();
    expect(ingestRoute(undefined, undefined)).toBeUndefined();
    expect(singleCallType('toString')).toBeUndefined();
  });
});
