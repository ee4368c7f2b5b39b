/** detectFormat: one answer for the CLI and the service on which files are Zeppelin notes. */
import { detectFormat } from '../../../../pipelines/formats/detect';

const note = { paragraphs: [] };
const notebook = { cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 };

describe('detectFormat', () => {
  it.each([
    ['a.zpln', notebook],
    ['A.ZPLN', notebook],
    ['dir/Note.Zpln', {}],
    ['note.json', notebook],
    ['notes/2A94M5J1Z/note.json', {}],
    ['C:\\notes\\note.json', {}],
    ['notebook.ipynb', note],
    [undefined, note],
    ['', note],
  ])('reads %s as a Zeppelin note', (name, parsed) => {
    expect(detectFormat(name, parsed)).toBe('zeppelin');
  });

  it.each([
    ['notebook.ipynb', notebook],
    [undefined, notebook],
    ['both.json', { cells: [], paragraphs: [] }],
    [undefined, { cells: [], paragraphs: [] }],
    ['Note.json', notebook],
    ['my-note.json', notebook],
    ['a.zpln.ipynb', notebook],
    ['x.ipynb', { paragraphs: 'not a list' }],
    ['x.ipynb', null],
    ['x.ipynb', [1, 2]],
  ])('reads %s as an ipynb notebook', (name, parsed) => {
    expect(detectFormat(name, parsed)).toBe('ipynb');
  });
});
