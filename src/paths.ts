// Locates files shipped with the package (templates, examples), whether running from src/ (tsx)
// or from the compiled dist/src/.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PackageLayoutError } from './errors.js';

function findPackageRoot(start: string): string {
  let dir = start;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new PackageLayoutError(`paas-router: package.json not found above ${start}`);
    dir = parent;
  }
  return dir;
}

export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
export const SHIPPED_TEMPLATES_DIR = join(PACKAGE_ROOT, 'templates');
export const EXAMPLES_DIR = join(PACKAGE_ROOT, 'examples');
