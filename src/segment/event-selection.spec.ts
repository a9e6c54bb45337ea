import fc from 'fast-check';
import { compileEventSelection, parseEventNameKey, parseEventSelection } from './event-selection.js';

function parsed<T>(parse: (text: string | undefined, problems: string[]) => T, text: string | undefined): { value: T; problems: string[] } {
  const problems: string[] = [];
  return { value: parse(text, problems), problems };
}

describe('parseEventSelection (KABLE_EVENTS)', () => {
  it('reads comma-separated names, spaces around the commas ignored; unset selects every event', () => {
    expect(parsed(parseEventSelection, 'API Call, Storage * ,Export')).toEqual({
      value: ['API Call', 'Storage *', 'Export'],
      problems: [],
    });
    expect(parsed(parseEventSelection, undefined)).toEqual({ value: undefined, problems: [] });
  });

  it.each([
    [',', 'KABLE_EVENTS must list at least one event name, such as API Call,Storage * (unset it to bill every track event)'],
    [' , ,', 'KABLE_EVENTS must list at least one event name'],
    ['API Call,,Storage *', 'KABLE_EVENTS has an empty event name at position 2; list names separated by single commas'],
    ['API Call,', 'KABLE_EVENTS has an empty event name at position 2'],
  ])('refuses %j with one line naming the variable', (text, problem) => {
    const { value, problems } = parsed(parseEventSelection, text);
    expect(value).toBeUndefined();
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(problem);
  });
});

describe('parseEventNameKey (KABLE_EVENT_NAME_KEY)', () => {
  it('reads a dot path', () => {
    expect(parsed(parseEventNameKey, ' meta.event ')).toEqual({ value: 'meta.event', problems: [] });
    expect(parsed(parseEventNameKey, undefined)).toEqual({ value: undefined, problems: [] });
  });

  it.each([
    ['__proto__', 'KABLE_EVENT_NAME_KEY has the segment "__proto__", which could reach an object\'s prototype'],
    ['meta.constructor', 'KABLE_EVENT_NAME_KEY has the segment "constructor"'],
    ['a..b', 'KABLE_EVENT_NAME_KEY is not a dot path like "a" or "a.b"; it is where the event name goes in data'],
    ['my event', 'KABLE_EVENT_NAME_KEY is not a dot path'],
  ])('refuses %j', (text, problem) => {
    const { value, problems } = parsed(parseEventNameKey, text);
    expect(value).toBeUndefined();
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(problem);
  });
});

describe('compileEventSelection', () => {
  it('matches names exactly and case-sensitively, * as any run of characters', () => {
    const selected = compileEventSelection(['API Call', 'Storage *', '*.export', 'a*b*c'])!;
    for (const name of ['API Call', 'Storage ', 'Storage Used', 'Storage  *', 'x.export', '.export', 'abc', 'aXbYc', 'abbc']) {
      expect([name, selected(name)]).toEqual([name, true]);
    }
    for (const name of [
      'api call',
      'API Call ',
      ' API Call',
      'API',
      'Storage',
      'storage used',
      'xexport',
      'ab',
      'acb',
      'Audience Entered',
    ]) {
      expect([name, selected(name)]).toEqual([name, false]);
    }
  });

  it('takes regular-expression characters literally', () => {
    const selected = compileEventSelection(['a.b', 'c+(d)*', '[x]?', '^$|\\'])!;
    expect(['a.b', 'c+(d)', 'c+(d)zz', '[x]?', '^$|\\'].map(selected)).toEqual([true, true, true, true, true]);
    expect(['axb', 'ccd', 'x', 'c+(d', ''].map(selected)).toEqual([false, false, false, false, false]);
  });

  it('selects every event when unset or when a pattern is *', () => {
    expect(compileEventSelection(undefined)).toBeUndefined();
    expect(compileEventSelection(['API Call', '*'])).toBeUndefined();
    expect(compileEventSelection(['**'])!('anything')).toBe(true);
  });

  it('stays linear on a long name that nearly matches many stars', () => {
    const selected = compileEventSelection(['*a*a*a*a*a*a*b'])!;
    const started = process.hrtime.bigint();
    expect(selected('a'.repeat(30_000))).toBe(false);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(50);
  });

  it('property: answers what a regular expression built from the pattern answers', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'b', '.', ' ', '*'), maxLength: 8 });
    const toRegExp = (pattern: string) =>
      new RegExp(
        `^${pattern
          .split('*')
          .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
          .join('[\\s\\S]*')}$`,
      );
    fc.assert(
      fc.property(fc.array(text, { minLength: 1, maxLength: 3 }), text, (patterns, name) => {
        const selected = compileEventSelection(patterns);
        const expected = patterns.some((pattern) => toRegExp(pattern).test(name));
        expect(selected === undefined ? true : selected(name)).toBe(expected);
      }),
      { numRuns: 20_000 },
    );
  });
});
