#!/usr/bin/env node
// The `runway` command. Runs the compiled CLI when the project was built (production image), and the
// TypeScript sources through tsx otherwise, so `npx runway` works straight after `npm ci`.
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

const built = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
