/**
 * The tree's structure rules, checked on the sources: the domain (pipelines/) imports nothing
 * from kernels/ or server/, kernels/ nothing from server/, the CLI reaches the service only
 * through the modules it loads for the commands that need them, run-end events are made only in
 * the executor, and no source file holds more than 500 lines.
 */
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const SOURCE_DIRS = ['cli', 'client', 'kernels', 'pipelines', 'server', 'jenkins-plugin-bridge'];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      out.push(...sources(rel));
    } else if (entry.name.endsWith('.ts')) {
      out.push(rel);
    }
  }
  return out;
}

const FILES = SOURCE_DIRS.flatMap(sources);

/** The top-level folders a file imports from (static and dynamic imports, type-only included). */
function importedFolders(file: string): Set<string> {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const folders = new Set<string>();
  for (const m of text.matchAll(/(?:from|import\()\s*'(\.[^']+)'/g)) {
    const target = path.relative(ROOT, path.resolve(ROOT, path.dirname(file), m[1]));
    folders.add(target.split(path.sep)[0]);
  }
  return folders;
}

function importing(dirs: string[], forbidden: string[]): string[] {
  return FILES.filter((f) => dirs.includes(f.split(path.sep)[0])).filter((f) =>
    forbidden.some((d) => importedFolders(f).has(d)),
  );
}

describe('the structure of the tree', () => {
  it('finds the sources it checks', () => {
    expect(FILES.length).toBeGreaterThan(100);
    expect(importedFolders(path.join('cli', 'run-command.ts')).has('pipelines')).toBe(true);
  });

  it('pipelines/ imports nothing from kernels/, server/, cli/ or client/', () => {
    expect(importing(['pipelines'], ['kernels', 'server', 'cli', 'client'])).toEqual([]);
  });

  it('kernels/ imports nothing from server/, cli/ or client/', () => {
    expect(importing(['kernels'], ['server', 'cli', 'client'])).toEqual([]);
  });

  it('the service imports nothing from the command line', () => {
    expect(importing(['server', 'client'], ['cli'])).toEqual([]);
  });

  it('makes run-end events only in pipelines/executor/', () => {
    const makers = FILES.filter((f) =>
      /type:\s*'run-end'/.test(fs.readFileSync(path.join(ROOT, f), 'utf8')),
    );
    expect(makers.length).toBeGreaterThan(0);
    expect(makers.filter((f) => !f.startsWith(path.join('pipelines', 'executor')))).toEqual([]);
  });

  it('has no source file over 500 lines but the OpenAPI document', () => {
    const long = FILES.filter(
      (f) => fs.readFileSync(path.join(ROOT, f), 'utf8').split('\n').length > 500,
    ).filter((f) => f !== path.join('server', 'http', 'openapi.ts'));
    expect(long).toEqual([]);
  });
});
