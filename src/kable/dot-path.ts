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

/** Writes `value` at a dot path, creating (or replacing non-object) intermediate objects. */
export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let current = target;
  for (const key of keys.slice(0, -1)) {
    const next = current[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) current[key] = {};
    current = current[key] as Record<string, unknown>;
  }
  current[keys[keys.length - 1]] = value;
}

/**
 * Removes the value at a dot path. Objects along the path are copied first (copy on write), so
 * the caller's input is never changed; `target` itself must already be a copy.
 */
export function deletePath(target: Record<string, unknown>, path: string): void {
  const keys = path.split('.');
  let current = target;
  for (const key of keys.slice(0, -1)) {
    const next = current[key];
    if (next === null || typeof next !== 'object') return;
    const copy = Array.isArray(next) ? [...(next as unknown[])] : { ...(next as Record<string, unknown>) };
    current[key] = copy;
    current = copy as Record<string, unknown>;
  }
  delete current[keys[keys.length - 1]];
}
