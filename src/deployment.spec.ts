import { readFileSync } from 'node:fs';

// The service runs with the same Node flags however it is started: `npm start`, the Docker image,
// and the benchmark (bench/lib/procs.js reads them from `npm start`).
describe('how the service is started', () => {
  const root = new URL('../', import.meta.url);
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> };
  const dockerfile = readFileSync(new URL('Dockerfile', root), 'utf8');

  it('uses the same Node flags in npm start and in the Docker image', () => {
    const start = (pkg.scripts.start ?? '').split(/\s+/);
    expect(start[0]).toBe('node');
    expect(start.at(-1)).toBe('dist/main.js');
    const cmd = /^CMD (\[.*\])$/m.exec(dockerfile);
    expect(cmd).not.toBeNull();
    expect(JSON.parse(cmd![1]!)).toEqual(start);
    expect(start).toContain('--max-semi-space-size=32');
  });
});
