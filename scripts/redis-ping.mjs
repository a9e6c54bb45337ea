// Exits 0 when a Redis answers PING at REDIS_URL (default redis://127.0.0.1:6379), 1 otherwise.
import { connect } from 'node:net';

const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const socket = connect({ host: url.hostname || '127.0.0.1', port: Number(url.port || 6379) });
const fail = () => process.exit(1);
socket.setTimeout(1000, fail);
socket.on('error', fail);
socket.on('connect', () => {
  if (url.password) {
    socket.write(`AUTH ${url.username ? `${decodeURIComponent(url.username)} ` : ''}${decodeURIComponent(url.password)}\r\n`);
  }
  socket.write('PING\r\n');
});
socket.on('data', (data) => {
  const text = data.toString();
  if (text.includes('+PONG')) process.exit(0);
  if (text.startsWith('-') && !text.startsWith('-NOAUTH')) fail();
});
