import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Compares secrets in constant time (hashing first, so lengths do not leak either). */
export class SecretMatcher {
  private readonly digests: Buffer[];

  constructor(secrets: string[]) {
    this.digests = secrets.map(digest);
  }

  matches(candidate: string | undefined): boolean {
    if (candidate === undefined || candidate === '') return false;
    const d = digest(candidate);
    let found = false;
    for (const known of this.digests) found = timingSafeEqual(known, d) || found;
    return found;
  }
}

/** The write key of an HTTP Basic header (`base64("KEY:")`), as Segment's SDKs send it. */
export function writeKeyFromBasic(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? decoded : decoded.slice(0, colon);
}

/** Verifies Segment's `X-Signature`: hex HMAC-SHA1 of the raw body keyed by the shared secret. */
export function verifySignature(secret: string, payload: Buffer | string, signature: string | undefined): boolean {
  if (!signature || !/^[0-9a-f]{40}$/i.test(signature.trim())) return false;
  const expected = createHmac('sha1', secret).update(payload).digest();
  return timingSafeEqual(expected, Buffer.from(signature.trim(), 'hex'));
}
