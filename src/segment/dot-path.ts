/** Reads the value at a dot path (`context.groupId`) in a JSON value; undefined when any step is missing. */
export function getPath(source: unknown, path: string): unknown {
  // The common case (`userId`): one key, no array from split.
  if (!path.includes('.')) {
    return source !== null && typeof source === 'object' && Object.hasOwn(source, path)
      ? (source as Record<string, unknown>)[path]
      : undefined;
  }
  let current: unknown = source;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/**
 * Writes `value` at a dot path, creating (or replacing non-object) intermediate objects. Objects
 * along the path are copied before they are written (copy on write), so an object `target`
 * shares with the caller's input is never changed. Only own properties are followed and every
 * key is written as an own data property, so no path (`__proto__.x`) reaches a prototype.
 */
export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  const last = keys.pop() ?? path;
  let current = target;
  for (const key of keys) {
    const next = ownValue(current, key);
    const copy: Record<string, unknown> = next !== null && typeof next === 'object' && !Array.isArray(next) ? { ...next } : {};
    setOwn(current, key, copy);
    current = copy;
  }
  setOwn(current, last, value);
}

/**
 * Removes the value at a dot path. Objects along the path are copied first (copy on write), so
 * the caller's input is never changed; `target` itself must already be a copy. Only own
 * properties are followed.
 */
export function deletePath(target: Record<string, unknown>, path: string): void {
  const keys = path.split('.');
  const last = keys.pop() ?? path;
  let current = target;
  for (const key of keys) {
    const next = ownValue(current, key);
    if (next === null || typeof next !== 'object') return;
    const copy = Array.isArray(next) ? [...(next as unknown[])] : { ...(next as Record<string, unknown>) };
    setOwn(current, key, copy);
    current = copy as Record<string, unknown>;
  }
  delete current[last]; // `delete` touches own properties only
}

/** `object[key]` when it is an own property; an inherited `__proto__` or `constructor` is not data. */
export function ownValue(object: object, key: string): unknown {
  return Object.hasOwn(object, key) ? (object as Record<string, unknown>)[key] : undefined;
}

/**
 * `object[key] = value` as an own data property. Plain assignment to `__proto__` would set the
 * prototype instead (the only such key of a plain object), so that key is defined, as JSON.parse does.
 */
export function setOwn(object: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
  else object[key] = value;
}
