import { deletePath, getPath, setPath } from './dot-path.js';

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

describe('setPath / deletePath: no path reaches a prototype', () => {
  afterEach(() => {
    // A failing test must not leave the pollution behind for the next one.
    for (const key of ['polluted', 'y', 'z']) delete (Object.prototype as Record<string, unknown>)[key];
  });

  it.each(['__proto__.polluted', 'x.__proto__.y', 'constructor.prototype.z', '__proto__'])(
    'setPath(%j) writes own properties and leaves Object.prototype alone',
    (path) => {
      const target: Record<string, unknown> = { x: {} };
      setPath(target, path, 'v');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(({} as Record<string, unknown>).y).toBeUndefined();
      expect(({} as Record<string, unknown>).z).toBeUndefined();
      expect(Object.getPrototypeOf(target)).toBe(Object.prototype);
      // The value is data at that path, as JSON shows it.
      expect(getPath(JSON.parse(JSON.stringify(target)), path)).toBe('v');
    },
  );

  it('deletePath through __proto__ changes neither the target nor Object.prototype', () => {
    const target: Record<string, unknown> = { a: 1 };
    deletePath(target, '__proto__.toString');
    deletePath(target, '__proto__');
    expect(Object.getPrototypeOf(target)).toBe(Object.prototype);
    expect(typeof Object.prototype.toString).toBe('function');
    expect(target).toEqual({ a: 1 });
  });

  it('deletes an own "__proto__" property as data', () => {
    const target = JSON.parse('{"__proto__":{"k":1,"j":2},"a":1}') as Record<string, unknown>;
    deletePath(target, '__proto__.k');
    expect(JSON.stringify(target)).toBe('{"__proto__":{"j":2},"a":1}');
  });

  it('setPath copies the objects it writes into, so the source of a shallow copy is not changed', () => {
    const nested = { a: 1 };
    const target: Record<string, unknown> = { ...{ flags: nested } };
    setPath(target, 'flags.b', 2);
    expect(target).toEqual({ flags: { a: 1, b: 2 } });
    expect(nested).toEqual({ a: 1 });
  });
});
