import { formatDuration, parseDuration } from './duration.js';

/** What reading one variable gives: its value, or the one line that says what is wrong (naming it, never echoing a secret). */
export type Read<T> = { value: T } | { problem: string };

/** One environment variable: how it is read, and whether it is required or secret. */
export interface Setting<T> {
  /** `text` is undefined when the variable is unset or blank. */
  read(text: string | undefined, name: string): Read<T>;
  required: boolean;
  /** Its problems never quote the value (every secret setting is checked in config.spec.ts). */
  secret: boolean;
}

/** The type a setting reads to. */
export type ValueOf<S> = S extends Setting<infer T> ? T : never;

/** A setting with a default or a required one always has a value; any other may be undefined. */
type Present<O, T> = O extends { default: unknown } | { required: string } ? T : T | undefined;

interface TextOptions {
  default?: string;
  /** The message when the variable is unset: makes it required. */
  required?: string;
  secret?: boolean;
  match?: RegExp;
  minLength?: number;
  /** The message when `match` or `minLength` fails. */
  message?: string;
}

/** A string, as written (only blank counts as unset). */
export function text<const O extends TextOptions>(options: O = {} as O): Setting<Present<O, string>> {
  return {
    required: options.required !== undefined,
    secret: options.secret ?? false,
    read(value, name) {
      if (value === undefined) {
        if (options.required !== undefined) return { problem: `${name} ${options.required}` };
        return { value: options.default as Present<O, string> };
      }
      const fits = (options.match?.test(value) ?? true) && value.length >= (options.minLength ?? 0);
      return fits ? { value } : { problem: `${name} ${options.message ?? 'is not valid'}` };
    },
  };
}

/** One of a few words; the message lists them. */
export function oneOf<const V extends readonly string[], const O extends { default?: V[number] }>(
  values: V,
  options: O = {} as O,
): Setting<Present<O, V[number]>> {
  return {
    required: false,
    secret: false,
    read(value, name) {
      if (value === undefined) return { value: options.default as Present<O, V[number]> };
      return values.includes(value) ? { value } : { problem: `${name} must be one of: ${values.join(', ')}` };
    },
  };
}

/**
 * A whole number within [min, max]. `message` replaces the generic line for text that is not a
 * number at all; out of range always gets the generic one.
 */
export function int(options: { default: number; min: number; max: number; message?: string }): Setting<number> {
  const { min, max } = options;
  return {
    required: false,
    secret: false,
    read(value, name) {
      const range = `${name} must be a whole number from ${min} to ${max}`;
      if (value === undefined) return { value: options.default };
      if (!/^\d+$/.test(value)) return { problem: options.message === undefined ? range : `${name} ${options.message}` };
      const number = Number(value);
      return number >= min && number <= max ? { value: number } : { problem: range };
    },
  };
}

const DURATION = /^(\d+|(\d+(ms|s|m|h|d))+)$/;

/** A duration (`500ms`, `2h30m`, or milliseconds) within [min, max], read as milliseconds. */
export function duration<const O extends { default?: string; min: string; max: string; example: string }>(
  options: O,
): Setting<Present<O, number>> {
  const ms = (text: string): number => parseDuration(text)!;
  const [min, max] = [ms(options.min), ms(options.max)];
  return {
    required: false,
    secret: false,
    read(value, name) {
      if (value === undefined) {
        return { value: (options.default === undefined ? undefined : ms(options.default)) as Present<O, number> };
      }
      if (!DURATION.test(value)) return { problem: `${name} must be a duration such as ${options.example}` };
      const parsed = ms(value);
      if (parsed < min || parsed > max) return { problem: `${name} must be between ${formatDuration(min)} and ${formatDuration(max)}` };
      return { value: parsed };
    },
  };
}

/** A setting with its own parser (mappings, origins, lists), which names the variable in its problem. */
export function parsed<T>(options: {
  parse: (text: string | undefined, name: string) => Read<T>;
  required?: boolean;
  secret?: boolean;
}): Setting<T> {
  return { read: options.parse, required: options.required ?? false, secret: options.secret ?? false };
}
