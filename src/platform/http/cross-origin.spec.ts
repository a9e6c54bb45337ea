import { isCrossOriginRequest, type OriginFacts } from './cross-origin.js';

const HOST = 'kable.internal:3000';
const post = (headers: Omit<OriginFacts['headers'], 'host'>, method = 'POST') => ({ method, headers: { host: HOST, ...headers } });

describe('isCrossOriginRequest (Go net/http CrossOriginProtection)', () => {
  it.each(['GET', 'HEAD', 'OPTIONS'])('lets the safe method %s through from anywhere', (method) => {
    expect(isCrossOriginRequest(post({ 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' }, method))).toBe(false);
  });

  it.each(['POST', 'PUT', 'PATCH', 'DELETE'])('refuses %s from another site by Sec-Fetch-Site', (method) => {
    expect(isCrossOriginRequest(post({ 'sec-fetch-site': 'cross-site' }, method))).toBe(true);
  });

  it.each([
    ['same-origin', false],
    ['none', false],
    ['same-site', true],
    ['cross-site', true],
    ['something-new', true],
    ['same-origin, cross-site', true],
  ])('decides by Sec-Fetch-Site %j when a browser sends it', (site, refused) => {
    expect(isCrossOriginRequest(post({ 'sec-fetch-site': site }))).toBe(refused);
  });

  it('trusts Sec-Fetch-Site over Origin', () => {
    expect(isCrossOriginRequest(post({ 'sec-fetch-site': 'same-origin', origin: 'https://evil.example' }))).toBe(false);
    expect(isCrossOriginRequest(post({ 'sec-fetch-site': 'cross-site', origin: `http://${HOST}` }))).toBe(true);
  });

  it('lets requests without Sec-Fetch-Site and Origin through (curl, scripts, server-side tools)', () => {
    expect(isCrossOriginRequest(post({}))).toBe(false);
    expect(isCrossOriginRequest(post({ 'sec-fetch-site': '', origin: '' }))).toBe(false);
  });

  it.each([
    [`http://${HOST}`, false],
    [`https://${HOST.toUpperCase()}`, false],
    ['https://evil.example', true],
    ['http://kable.internal', true],
    ['http://kable.internal:3001', true],
    ['null', true],
    ['not a url', true],
  ])('compares an old browser’s Origin %j with Host', (origin, refused) => {
    expect(isCrossOriginRequest(post({ origin }))).toBe(refused);
  });

  it('refuses an Origin when Host is missing', () => {
    expect(isCrossOriginRequest({ method: 'POST', headers: { origin: `http://${HOST}` } })).toBe(true);
  });
});
