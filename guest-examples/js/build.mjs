// Builds a JavaScript module into a component with ComponentizeJS, used as a
// library (the jco CLI is not needed).
//
//   node build.mjs <source.js> <world> <out.wasm>
//
// The WIT is the repository's wit/ folder. The engine's `http` feature
// (fetch) is disabled: a transform has no wasi:http import.
import { componentize } from '@bytecodealliance/componentize-js';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const [source, world, out] = process.argv.slice(2);
if (!source || !world || !out) {
  console.error('usage: node build.mjs <source.js> <world> <out.wasm>');
  process.exit(2);
}

const { component } = await componentize({
  sourcePath: resolve(source),
  witPath: resolve(here, '../../wit'),
  worldName: world,
  disableFeatures: ['http', 'fetch-event'],
});
await mkdir(dirname(resolve(out)), { recursive: true });
await writeFile(resolve(out), component);
console.log(`wrote ${out} (${component.length} bytes)`);
