import { createHash } from 'node:crypto';
import type { KableEvent } from '../segment/kable-event.js';
import { toRfc3339 } from '../segment/mapping.js';

/** A user's state in `members`, `dirty` and `syncing`: `1|<ms>` / `0|<ms>`, membership and the time of the message that decided it. */
export interface MemberState {
  member: boolean;
  at: number;
}

/** What Kable last received, in `sent`: `1|<n>` / `0|<n>`, membership and the changes sent so far (numbering the transactionIds). */
export interface SentState {
  member: boolean;
  changes: number;
}

export function encodeState(state: MemberState): string {
  return `${state.member ? 1 : 0}|${state.at}`;
}

export function decodeState(value: string): MemberState {
  const bar = value.indexOf('|');
  return { member: value.slice(0, bar) === '1', at: Number(value.slice(bar + 1)) };
}

export function encodeSent(state: SentState): string {
  return `${state.member ? 1 : 0}|${state.changes}`;
}

export function decodeSent(value: string | null | undefined): SentState | undefined {
  if (value === null || value === undefined) return undefined;
  const bar = value.indexOf('|');
  return { member: value.slice(0, bar) === '1', changes: Number(value.slice(bar + 1)) };
}

/** The transactionId of a user's `change`-th change (1 = first entry): the same on a resumed sync, new for a re-entry. */
export function membershipTransactionId(audience: string, clientId: string, change: number): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([audience, clientId, change]))
    .digest('hex');
  return `engage-${digest.slice(0, 40)}`;
}

/** The Kable usage event for one membership change. */
export function membershipEvent(audience: string, clientId: string, state: MemberState, change: number): KableEvent {
  return {
    clientId,
    timestamp: toRfc3339(new Date(state.at)),
    transactionId: membershipTransactionId(audience, clientId, change),
    data: { [audience]: state.member },
  };
}

export interface Diff {
  events: KableEvent[];
  /** New `sent` values to store once the events are queued: [user, encoded SentState]. */
  sent: Array<[string, string]>;
}

/**
 * The events to send: each user's state at window close against what Kable last received (unknown: not a member).
 * Pure, so a resumed sync recomputes the same events.
 */
export function diffMembership(audience: string, users: string[], states: MemberState[], sent: Array<SentState | undefined>): Diff {
  const diff: Diff = { events: [], sent: [] };
  users.forEach((user, i) => {
    const state = states[i];
    if (state === undefined) throw new Error(`diffMembership: no membership state for user ${user}`);
    const last = sent[i];
    if (state.member === (last?.member ?? false)) return;
    const change = (last?.changes ?? 0) + 1;
    diff.events.push(membershipEvent(audience, user, state, change));
    diff.sent.push([user, encodeSent({ member: state.member, changes: change })]);
  });
  return diff;
}
