import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { NotebookInvalidError } from '../../../../pipelines/errors';
import {
  readNotebookFile,
  serializeNotebook,
  writeFileAtomic,
  writeNotebookFile,
} from '../../../../pipelines/notebook/io';
import { newCodeCell, type Notebook } from '../../../../pipelines/notebook/model';
import { useTempDir } from '../../../helpers/temp-dirs';

const ZEPPELIN_FIXTURE = path.join(__dirname, '../../../fixtures/zeppelin/mixed-interpreters.zpln');

function sample(): Notebook {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3' }, zeta: 1, alpha: 'é' },
    cells: [newCodeCell('print(1)\n', ['parameters'])],
  };
}

describe('notebook io', () => {
  const dir = useTempDir();

  describe('serializeNotebook', () => {
    it('uses a one-space indent, keeps key order and ends with a newline', () => {
      const nb = sample();
      const text = serializeNotebook(nb);
      expect(text.endsWith('}\n')).toBe(true);
      expect(text.split('\n')[1]).toBe(' "nbformat": 4,');
      expect(text.indexOf('"zeta"')).toBeLessThan(text.indexOf('"alpha"'));
      expect(text).toContain('"alpha": "é"');
      expect(JSON.parse(text)).toEqual(nb);
    });
  });

  describe('writeFileAtomic', () => {
    it('creates parent directories and leaves no temporary file', async () => {
      const file = path.join(dir(), 'a', 'b', 'out.txt');
      await writeFileAtomic(file, 'hello');
      await writeFileAtomic(file, Buffer.from('again'));
      expect(await readFile(file, 'utf8')).toBe('again');
      expect(await readdir(path.dirname(file))).toEqual(['out.txt']);
    });

    it('removes its temporary file when the write fails', async () => {
      // Renaming a file over a non-empty directory fails after the data was written.
      const target = path.join(dir(), 'isdir');
      await mkdir(path.join(target, 'child'), { recursive: true });
      await expect(writeFileAtomic(target, 'new')).rejects.toThrow();
      expect(await readdir(dir())).toEqual(['isdir']);
      expect(await readdir(target)).toEqual(['child']);
    });
  });

  describe('readNotebookFile', () => {
    it('round-trips an ipynb file', async () => {
      const file = path.join(dir(), 'nb.ipynb');
      const nb = sample();
      await writeNotebookFile(file, nb);
      const loaded = await readNotebookFile(file);
      expect(loaded.format).toBe('ipynb');
      expect(loaded.zeppelin).toBeUndefined();
      expect(loaded.notebook).toEqual(nb);
      expect(serializeNotebook(loaded.notebook)).toBe(await readFile(file, 'utf8'));
    });

    it('names the path of a missing file', async () => {
      const file = path.join(dir(), 'missing.ipynb');
      await expect(readNotebookFile(file)).rejects.toThrow(NotebookInvalidError);
      await expect(readNotebookFile(file)).rejects.toThrow(
        `${file}: cannot read notebook: no such file`,
      );
    });

    it('names the path of a file that is not JSON or not valid', async () => {
      const file = path.join(dir(), 'bad.ipynb');
      await writeFile(file, '{ nope');
      await expect(readNotebookFile(file)).rejects.toThrow(
        new RegExp(`^${escape(file)}: not valid JSON`),
      );
      await writeFile(file, JSON.stringify({ ...sample(), nbformat: 3 }));
      await expect(readNotebookFile(file)).rejects.toThrow(
        `${file}: nbformat 3 is not supported (need 4)`,
      );
    });

    it('reads .zpln notes as Zeppelin', async () => {
      const loaded = await readNotebookFile(ZEPPELIN_FIXTURE);
      expect(loaded.format).toBe('zeppelin');
      expect(loaded.zeppelin?.name).toBe('Sales report');
      expect(loaded.notebook.cells).toHaveLength(6);
    });

    it('detects note.json by name and other notes by content', async () => {
      const noteDir = path.join(dir(), '2KABCDEF1');
      await mkdir(noteDir);
      await copyFile(ZEPPELIN_FIXTURE, path.join(noteDir, 'note.json'));
      expect((await readNotebookFile(path.join(noteDir, 'note.json'))).format).toBe('zeppelin');
      const other = path.join(dir(), 'exported.json');
      await writeFile(other, JSON.stringify({ paragraphs: [{ text: '%sh\necho hi' }] }));
      const loaded = await readNotebookFile(other);
      expect(loaded.format).toBe('zeppelin');
      expect(loaded.notebook.metadata.kernelspec?.name).toBe('bash');
    });

    it('uses the interpreter table given and names the file on unknown interpreters', async () => {
      const file = path.join(dir(), 'spark.zpln');
      await writeFile(
        file,
        JSON.stringify({ paragraphs: [{ id: 'p1', text: '%spark\nval x = 1' }] }),
      );
      await expect(readNotebookFile(file)).rejects.toThrow(
        new RegExp(`^${escape(file)}: paragraph 1 \\(p1\\): unknown interpreter %spark`),
      );
      const loaded = await readNotebookFile(file, {
        interpreters: { spark: { kernel: 'scala', language: 'scala' } },
      });
      expect(loaded.notebook.metadata.kernelspec?.name).toBe('scala');
    });
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
