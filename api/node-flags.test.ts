import fs from 'node:fs';
import path from 'node:path';
import { API_NODE_FLAGS, nodeArgs } from './node-flags';

const ROOT = path.join(__dirname, '..');
const read = (file: string): string => fs.readFileSync(path.join(ROOT, file), 'utf8');

describe('the API runs with its Node flags however it is started', () => {
  it('nodeArgs gives them to the API entry point only (npm start and the test harness spawn through it)', () => {
    expect(nodeArgs('/x/api/main.ts')).toEqual([...API_NODE_FLAGS, '--import', 'tsx', '/x/api/main.ts']);
    expect(nodeArgs('api/main.ts').slice(0, API_NODE_FLAGS.length)).toEqual(API_NODE_FLAGS);
    expect(nodeArgs('C:\\ledgerflow\\api\\main.ts').slice(0, API_NODE_FLAGS.length)).toEqual(API_NODE_FLAGS);
    expect(nodeArgs('worker/main.ts')).toEqual(['--import', 'tsx', 'worker/main.ts']);
    expect(nodeArgs('proxy/api/main.tsx')).toEqual(['--import', 'tsx', 'proxy/api/main.tsx']);
  });

  it.each([
    ['package.json (npm run api)', (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts.api!],
    ['the Docker image', /^CMD (.*)$/m.exec(read('Dockerfile'))![1]!],
    ['docker compose', /^ {2}api:\n[\s\S]*?^ {4}command: (.*)$/m.exec(read('docker-compose.yml'))![1]!],
  ])('%s starts the API with them, before the entry point', (_where, command) => {
    const flagsAt = API_NODE_FLAGS.map((flag) => command.indexOf(flag));
    expect(flagsAt.every((at) => at >= 0)).toBe(true);
    expect(Math.max(...flagsAt)).toBeLessThan(command.indexOf('api/main.ts'));
  });
});
