/** Artifacts a worker hands back are named with the run's secrets masked. */
import fs from 'node:fs';
import path from 'node:path';
import { MASK, Masker } from '../../../pipelines/secrets/mask';
import { collectArtifacts } from '../../../server/runs/run-job';
import { tempDir } from '../../helpers/notebooks';

const SECRET = 'Qx4-s3cr3t';

describe('artifacts a worker hands back', () => {
  it('are named with secrets masked; a name that then is another one is skipped', () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, `${SECRET}.txt`), 'a');
    fs.writeFileSync(path.join(dir, `${MASK}.txt`), 'b');
    fs.writeFileSync(path.join(dir, 'sub', `model-${SECRET}.bin`), 'c');
    const { artifacts, skipped } = collectArtifacts(dir, 1024, 'out/', new Masker([SECRET]));
    expect(artifacts.map((a) => [a.name, Buffer.from(a.base64, 'base64').toString()])).toEqual([
      [`out/${MASK}.txt`, 'b'],
      [`out/sub/model-${MASK}.bin`, 'c'],
    ]);
    expect(skipped).toEqual([
      {
        name: `out/${MASK}.txt`,
        reason: 'with its secrets masked, its name is that of another artifact',
      },
    ]);
  });
});
