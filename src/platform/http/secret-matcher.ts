import { createHash, timingSafeEqual } from 'node:crypto';

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
