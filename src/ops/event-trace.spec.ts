import { parseReceived, receivedValue } from './event-trace.js';

describe('dedup key values (received records)', () => {
  const at = new Date('2026-11-29T16:30:00.123Z');

  it('writes the time and the job id, and reads them back', () => {
    expect(receivedValue(at, '4711')).toBe('1795969800123:4711');
    expect(parseReceived(receivedValue(at, '4711'))).toEqual({ r: at.getTime(), j: '4711' });
    expect(receivedValue(at, undefined)).toBe('1795969800123');
    expect(parseReceived(receivedValue(at, undefined))).toEqual({ r: at.getTime() });
  });

  it('keeps job ids that contain colons or letters whole', () => {
    expect(parseReceived(receivedValue(at, 'custom:id-1'))).toEqual({ r: at.getTime(), j: 'custom:id-1' });
  });

  it('reads what earlier versions wrote: a JSON record, or "1"', () => {
    expect(parseReceived('{"r":1795969800123,"j":"12"}')).toEqual({ r: 1795969800123, j: '12' });
    expect(parseReceived('1')).toEqual({ r: 0 });
    expect(parseReceived('garbage')).toEqual({ r: 0 });
  });
});
