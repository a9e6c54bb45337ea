import { createHmac } from 'node:crypto';
import { webhookSignature } from './write-key.auth.js';

const secret = 'webhook-secret';
const sign = (payload: string | Buffer) => createHmac('sha1', secret).update(payload).digest('hex');
const none = { acceptFirstItem: false };

describe('webhookSignature', () => {
  const items = [
    { type: 'track', event: 'API Call', userId: 'c1' },
    { type: 'track', event: 'API Call', userId: 'c2', properties: { units: 999999 } },
  ];
  const raw = Buffer.from(JSON.stringify(items));

  it('accepts X-Segment-Signature or X-Signature over the whole body as sent', () => {
    expect(webhookSignature(secret, raw, items, { ...none, segmentSignature: sign(raw) })).toBeUndefined();
    expect(webhookSignature(secret, raw, items, { ...none, signature: sign(raw) })).toBeUndefined();
    expect(webhookSignature(secret, raw, items, { ...none, signature: sign(raw).toUpperCase() })).toBeUndefined();
  });

  it('refuses a batch whose X-Signature covers only its first item, unless told to accept it', () => {
    const firstOnly = sign(JSON.stringify(items[0]));
    expect(webhookSignature(secret, raw, items, { ...none, signature: firstOnly })).toBe(
      'X-Signature covers only the first of the 2 items of this batch, so the others are not authenticated: ' +
        'turn on "Use X-Segment-Signature Header" in the Webhooks (Actions) destination, or turn its batching off',
    );
    expect(webhookSignature(secret, raw, items, { signature: firstOnly, acceptFirstItem: true })).toBeUndefined();
    // A one-item array is wholly covered by its item's signature.
    const one = [items[0]];
    expect(webhookSignature(secret, Buffer.from(JSON.stringify(one)), one, { ...none, signature: firstOnly })).toBeUndefined();
  });

  it('refuses a missing, malformed or wrong signature', () => {
    for (const signature of [undefined, '', 'zz', sign(`${raw.toString()} `), sign(raw).slice(1)]) {
      expect(webhookSignature(secret, raw, items, { ...none, signature, segmentSignature: signature })).toMatch(
        /^missing or invalid signature: /,
      );
    }
    // A first-item signature does not stand in X-Segment-Signature, which always covers the whole body.
    expect(webhookSignature(secret, raw, items, { ...none, segmentSignature: sign(JSON.stringify(items[0])) })).toMatch(
      /^missing or invalid signature: /,
    );
  });
});
