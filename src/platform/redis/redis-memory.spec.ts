import { isOutOfMemory, parseMemoryInfo } from './redis-memory.js';

describe('parseMemoryInfo', () => {
  it('reads used_memory and maxmemory, not the fields whose names start the same', () => {
    const info = [
      '# Memory',
      'used_memory:8405184',
      'used_memory_human:8.02M',
      'used_memory_rss:15343616',
      'maxmemory:67108864',
      'maxmemory_human:64.00M',
      'maxmemory_policy:noeviction',
      '',
    ].join('\r\n');
    expect(parseMemoryInfo(info)).toEqual({ usedBytes: 8_405_184, maxBytes: 67_108_864 });
  });

  it('reads a maxmemory of 0 (no limit) as 0', () => {
    expect(parseMemoryInfo('used_memory:1000\r\nmaxmemory:0\r\n')).toEqual({ usedBytes: 1000, maxBytes: 0 });
  });

  it('says which field is missing', () => {
    expect(() => parseMemoryInfo('used_memory:1000\r\n')).toThrow('INFO memory has no maxmemory');
  });
});

describe('isOutOfMemory', () => {
  it("recognises Redis's answer to a write past maxmemory, from a command or a script", () => {
    expect(isOutOfMemory(new Error("OOM command not allowed when used memory > 'maxmemory'."))).toBe(true);
    expect(isOutOfMemory(new Error("OOM command not allowed when used memory > 'maxmemory'. script: 66d0c1f0, on @user_script:2."))).toBe(
      true,
    );
    expect(isOutOfMemory(new Error('Connection is closed.'))).toBe(false);
    expect(isOutOfMemory('OOM ')).toBe(false);
  });
});
