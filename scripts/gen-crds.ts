/**
 * Writes Runway's CRDs to deploy/crds/ from src/cluster/kube/crds.ts (their single source of truth):
 *   npx tsx scripts/gen-crds.ts          write the files
 *   npx tsx scripts/gen-crds.ts --check  exit 1 if a file differs from what would be written
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runwayCrdFiles } from '../src/cluster/kube/crds.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'deploy', 'crds');
const check = process.argv.includes('--check');

const read = (p: string): string | undefined => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
};

let stale = 0;
mkdirSync(outDir, { recursive: true });
for (const { file, content } of runwayCrdFiles()) {
  const path = join(outDir, file);
  const rel = relative(root, path);
  if (read(path) === content) {
    console.log(`unchanged ${rel}`);
  } else if (check) {
    console.error(`stale     ${rel}`);
    stale++;
  } else {
    writeFileSync(path, content);
    console.log(`wrote     ${rel}`);
  }
}
if (stale > 0) {
  console.error(`${stale} file(s) out of date: run npx tsx scripts/gen-crds.ts`);
  process.exit(1);
}
