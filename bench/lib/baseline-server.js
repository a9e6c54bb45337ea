// The baseline: the floor cost of HTTP + JSON + Redis on this machine. A minimal node:http server
// that reads the body, JSON.parses it and adds one BullMQ job per request to the same Redis.
import { createServer } from 'node:http';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';

const connection = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
const queue = new Queue('baseline', { connection, prefix: process.env.REDIS_PREFIX });

const server = createServer((req, res) => {
  /** @type {Buffer[]} */
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400).end();
      return;
    }
    queue.add('deliver', body).then(
      () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"success":true}');
      },
      () => res.writeHead(503).end(),
    );
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.send?.({ ready: true }));
// If the benchmark dies, do not outlive it.
process.on('disconnect', () => process.exit(0));
process.on('message', (/** @type {{ cmd: string }} */ msg) => {
  if (msg.cmd === 'stop') {
    server.closeAllConnections();
    server.close(() => void queue.close().then(() => connection.quit().then(() => process.exit(0))));
  }
});
