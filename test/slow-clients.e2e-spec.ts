import { connect, type Socket } from 'node:net';
import { basicAuth, type Harness, startHarness } from './support/harness.js';
import { waitFor } from './support/wait.js';

/** Opens a connection that sends `head` and then nothing more; resolves when the server closes it, with what it answered. */
function stall(port: number, head: string): { closed: Promise<{ afterMs: number; answer: string }>; socket: Socket } {
  const started = Date.now();
  const socket = connect(port, '127.0.0.1', () => socket.write(head));
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
  const closed = new Promise<{ afterMs: number; answer: string }>((resolve) => {
    socket.on('close', () => resolve({ afterMs: Date.now() - started, answer }));
    socket.on('error', () => undefined);
  });
  return { closed, socket };
}

describe('slow and stalled clients', () => {
  let h: Harness;
  let port: number;
  beforeAll(async () => {
    h = await startHarness({ HTTP_HEADERS_TIMEOUT: '1s', HTTP_REQUEST_TIMEOUT: '2s', HTTP_KEEP_ALIVE_TIMEOUT: '1s' });
    port = Number(new URL(h.url).port);
  });
  afterAll(async () => {
    await h.close();
  });

  it('closes 1,000 connections that never finish their body, and health answers meanwhile', async () => {
    const partialBody =
      `POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${basicAuth()}\r\n` +
      'Content-Type: application/json\r\nContent-Length: 10000\r\n\r\n{"batch":[';
    const stalled = Array.from({ length: 1000 }, () => stall(port, partialBody));
    // While they hang, the health endpoints keep answering.
    for (let i = 0; i < 5; i++) expect((await fetch(`${h.url}/health/live`)).status).toBe(200);
    const results = await Promise.all(stalled.map((s) => s.closed));
    // HTTP_REQUEST_TIMEOUT is 2 s and checked every second; the bound leaves room for a loaded machine.
    expect(Math.max(...results.map((r) => r.afterMs))).toBeLessThan(8000);
    expect(results.every((r) => r.answer === '' || r.answer.startsWith('HTTP/1.1 408'))).toBe(true);
    expect((await fetch(`${h.url}/health/live`)).status).toBe(200);
  }, 20_000); // above the bound asserted, so that the bound is what fails

  it('closes a connection whose headers never end, after HTTP_HEADERS_TIMEOUT', async () => {
    const { closed } = stall(port, 'POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    const { afterMs } = await closed;
    expect(afterMs).toBeGreaterThanOrEqual(900);
    expect(afterMs).toBeLessThan(6000);
  }, 20_000);

  it('closes an idle keep-alive connection after HTTP_KEEP_ALIVE_TIMEOUT', async () => {
    const { closed, socket } = stall(port, 'GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const { afterMs, answer } = await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toMatch(/keep-alive: timeout=1/i);
    expect(afterMs).toBeLessThan(6000);
    expect(socket.destroyed).toBe(true);
  }, 20_000);
});

describe('connection cap', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ HTTP_MAX_CONNECTIONS: '20' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('closes connections past HTTP_MAX_CONNECTIONS at once, and takes new ones when others end', async () => {
    const port = Number(new URL(h.url).port);
    const held = Array.from({ length: 20 }, () => stall(port, 'POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n'));
    const server = h.app.getHttpServer();
    const connections = () => new Promise<number>((resolve, reject) => server.getConnections((e, n) => (e ? reject(e) : resolve(n))));
    await waitFor(connections, (n) => n === 20);
    const extra = stall(port, 'GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n');
    const { answer } = await extra.closed;
    expect(answer).toBe(''); // closed without an answer
    held.forEach((s) => s.socket.destroy());
    await Promise.all(held.map((s) => s.closed));
    expect((await fetch(`${h.url}/health/live`)).status).toBe(200);
  });
});
