import fs from 'node:fs';
import { STACK_FILE } from './paths';

/** .data/stack.json: what `npm start` is running, for the benchmark and for a second start. */
export interface StackFile {
  /** the stack runner itself */
  pid: number;
  startedAt: string;
  api: { pid: number; url: string };
  worker: { pid: number };
  /** the AI proxy (proxy/main.ts) */
  proxy: { pid: number; url: string };
  openApiUrl: string;
  temporal: { address: string; namespace: string; uiUrl: string | null; taskQueue: string };
  databaseUrl: string;
  demoKeyFile: string;
}

export function readStackFile(): StackFile | null {
  try {
    return JSON.parse(fs.readFileSync(STACK_FILE, 'utf8')) as StackFile;
  } catch {
    return null;
  }
}
