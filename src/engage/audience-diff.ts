import { createHash } from 'node:crypto';
import type { KableEvent } from '../segment/kable-event.js';
import { toRfc3339 } from '../segment/mapping.js';

/**
 * How membership is kept in Redis (pure encoding, shared by the store and the sync):
 * - a user's state, in `members` and in the window snapshots (`dirty`, `syncing`): `1|<ms>` or `0|<ms>`,
 *   the membership and the time of the message that decided it;
 * - what Kable last received, in `sent`: `1|<n>` or `0|<n>`, the membership and how many
 *   changes of this user in this audience were sent so far (it numbers the transactionIds).
 */
export interface MemberState {
  member: boolean;
  at: number;
}

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

/**
 * The transactionId of the `change`-th membership change sent for a user in an audience
 * (1 = first entry). Deterministic, so a retried or resumed sync sends the same id and Kable
 * counts it once; a later change has a higher number, so a re-entry is a new event.
 */
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
 * Compares the membership each user had when the window closed with what Kable last received,
 * and returns the events to send. A user Kable never heard of counts as not a member: an exit
 * of such a user (or an entry and exit inside one window) sends nothing. Same input, same
 * output: a resumed sync recomputes exactly the events of the interrupted one.
 */
export function diffMembership(audience: string, users: string[], states: MemberState[], sent: Array<SentState | undefined>): Diff {
  const diff: Diff = { events: [], sent: [] };
  users.forEach((user, i) => {
    const state = states[i];
    const last = sent[i];
    if (state.member === (last?.member ?? false)) return;
    const change = (last?.changes ?? 0) + 1;
    diff.events.push(membershipEvent(audience, user, state, change));
    diff.sent.push([user, encodeSent({ member: state.member, changes: change })]);
  });
  return diff;
}
