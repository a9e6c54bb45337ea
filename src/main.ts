import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { createApp } from './app.setup.js';
import { ConfigError, loadConfig, type AppConfig } from './config/config.js';

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
  await app.listen({ port: config.http.port, host: config.http.host });
  console.log(
    `kable-destination (${config.role}) listening on http://${config.http.host}:${config.http.port}, delivering to ${config.kable.baseUrl}`,
  );
}

void main();
