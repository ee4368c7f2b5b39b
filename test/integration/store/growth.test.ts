/**
 * The store stays small: 100 builds of one notebook whose only change is one metric (in an
 * output and in the metadata) are stored as deltas, not as 100 copies. The figures are printed
 * and written to test-output/store-growth.json for the README.
 *
 * Git's own floor per extra build is about 545 bytes: the commit (~157, never a delta: too
 * small), its tree (~86, ditto), two blob deltas (~120), 4 entries of the pack index (112) and
 * the tag's line in packed-refs (~69). With this notebook (~27 KB stored) that makes 99 extra
 * builds grow the store by about 2.0x one build. The bounds below sit ~10% above that floor, so
 * any regression fails: loose objects (~100x), a second full copy per pack (~3x).
 */
import fs from 'node:fs';
import path from 'node:path';
import { openVersionStore } from '../../../server/store/git-version-store';
import { cleanupDirs, tempDir } from '../../helpers/notebooks';
import { git, realisticNotebook, runRecord, treeBlocks, treeBytes } from './fixtures';

const BUILDS = 100;

function storeBytes(home: string): { bytes: number; blocks: number } {
  const dirs = [path.join(home, 'history.git'), path.join(home, 'artifacts')];
  return {
    bytes: dirs.reduce((sum, d) => sum + treeBytes(d), 0),
    blocks: dirs.reduce((sum, d) => sum + treeBlocks(d), 0),
  };
}

describe('version store growth', () => {
  afterAll(cleanupDirs);

  it(`stores ${BUILDS} builds with a changing metric as deltas, near git's floor per build`, async () => {
    const home = tempDir();
    const job = 'team/ml/train';
    const version = (build: number) => {
      const accuracy = 0.9 + build / 10_000;
      return {
        job,
        build: String(build),
        runId: `run-${build}`,
        notebook: realisticNotebook({ accuracy, build: String(build) }),
        run: runRecord({
          accuracy,
          start: new Date(Date.UTC(2026, 0, 1, 10, build)).toISOString(),
        }),
      };
    };

    const started = Date.now();
    let store = await openVersionStore(home);
    await store.commitRun(version(1));
    await store.close();
    const one = storeBytes(home);
    const notebookBytes = Buffer.byteLength(JSON.stringify(realisticNotebook(), null, 1));

    store = await openVersionStore(home);
    for (let build = 2; build <= BUILDS; build++) {
      await store.commitRun(version(build));
    }
    await store.close();
    const all = storeBytes(home);
    const seconds = (Date.now() - started) / 1000;

    const figures = {
      builds: BUILDS,
      notebookBytes,
      growthBytes: all.bytes - one.bytes,
      singleBuild: one,
      afterBuilds: all,
      ratio: Number((all.bytes / one.bytes).toFixed(3)),
      ratioBlocks: Number((all.blocks / one.blocks).toFixed(3)),
      bytesPerExtraBuild: Math.round((all.bytes - one.bytes) / (BUILDS - 1)),
      seconds,
    };
    console.log(`version store growth: ${JSON.stringify(figures)}`);
    const out = path.resolve(__dirname, '../../../test-output');
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, 'store-growth.json'), `${JSON.stringify(figures, null, 2)}\n`);

    const gitDir = path.join(home, 'history.git');
    expect(git(gitDir, ['rev-list', '--count', 'jobs/team/ml/train']).trim()).toBe(String(BUILDS));
    expect(git(gitDir, ['fsck', '--strict', '--no-dangling'])).toBe('');
    expect(figures.bytesPerExtraBuild).toBeLessThan(600);
    // The bar: 99 more builds grow the store by less than 2x the size of one build
    // (what a build produces: its executed notebook and run.json). Copies would be 99x.
    const buildBytes = notebookBytes + Buffer.byteLength(JSON.stringify(version(1).run, null, 2));
    expect(all.bytes - one.bytes).toBeLessThan(2 * buildBytes);
    // And against the first build as stored (compressed), it stays near git's floor per commit.
    expect(all.bytes - one.bytes).toBeLessThan(2.2 * one.bytes);
  });
});
