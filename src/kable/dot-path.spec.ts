import { getPath } from './dot-path.js';

describe('getPath', () => {
  const message = { userId: 'u1', zero: 0, empty: null, context: { groupId: 'g1', deep: { id: 7 } }, list: ['a'] };

  it('reads a top-level key and a dotted path', () => {
    expect(getPath(message, 'userId')).toBe('u1');
    expect(getPath(message, 'zero')).toBe(0);
    expect(getPath(message, 'empty')).toBeNull();
    expect(getPath(message, 'context.groupId')).toBe('g1');
    expect(getPath(message, 'context.deep.id')).toBe(7);
    expect(getPath(message, 'list.0')).toBe('a');
  });

  it('is undefined for missing keys, inherited keys and non-objects, with or without dots', () => {
    for (const path of ['missing', 'toString', '__proto__', 'context.missing', 'context.toString', 'userId.length', 'zero.x']) {
      expect(getPath(message, path)).toBeUndefined();
    }
    for (const source of [null, undefined, 'text', 42]) {
      expect(getPath(source, 'userId')).toBeUndefined();
      expect(getPath(source, 'context.groupId')).toBeUndefined();
    }
  });
});
