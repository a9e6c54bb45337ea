import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { createApp } from './app.setup.js';
import { ConfigError, loadConfig, type AppConfig } from './platform/config/config.js';

async function main(): Promise<void> {
  // A local .env is read if present; real environment variables win.
  if (existsSync('.env')) process.loadEnvFile('.env');
  let config: AppConfig;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      console.error('See .env.example and the settings table in README.md.');
      process.exit(1);
    }
    throw error;
  }
  const app = await createApp(config);
  exitIfStopHangs(2 * config.kable.requestTimeoutMs + 5000);
  await app.listen({ port: config.http.port, host: config.http.host });
  console.log(
    `kable-destination (${config.role}) listening on http://${config.http.host}:${config.http.port}, delivering to ${config.kable.baseUrl}`,
  );
}

/** Closing the worker waits for Redis, forever if it is gone: exit 1 after `deadlineMs` (unfinished jobs stay in Redis). */
function exitIfStopHangs(deadlineMs: number): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      setTimeout(() => {
        console.error(`${signal}: the service did not stop within ${deadlineMs} ms (is Redis reachable?); exiting anyway`);
        process.exit(1);
      }, deadlineMs).unref();
    });
  }
}

void main();
