#!/usr/bin/env node
// `npm start`: the one command. Plain Node with no dependencies, because on a
// fresh clone node_modules does not exist yet: install what is missing, then
// hand over to the TypeScript stack runner (which needs tsx from node_modules).
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const setup = spawnSync(process.execPath, [path.join(root, 'scripts', 'setup.mjs')], { cwd: root, stdio: 'inherit' });
if (setup.status !== 0) process.exit(setup.status ?? 1);

// The stack runner owns shutdown: it stops everything it started on SIGINT or
// SIGTERM. We ignore those signals here and exit with its code once it is done.
const stack = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', 'stack.ts'), ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
const forward = (signal) => {
  // A terminal's Ctrl-C reaches the whole process group already; a `kill` of
  // this pid alone must still reach the stack runner.
  if (stack.exitCode === null && stack.signalCode === null) stack.kill(signal);
};
process.on('SIGINT', () => forward('SIGINT'));
process.on('SIGTERM', () => forward('SIGTERM'));
stack.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + 2 : 1)));
