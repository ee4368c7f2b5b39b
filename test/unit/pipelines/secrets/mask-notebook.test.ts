import type { CodeCell, MarkdownCell, Notebook } from '../../../../pipelines/notebook/model';
import { MASK, Masker } from '../../../../pipelines/secrets/mask';

const SECRET = 'Pw-9f3k2';

describe('Masker on cells and notebooks', () => {
  const masker = new Masker([SECRET]);

  it('masks sources, metadata, outputs and attachment names, not binary attachments', () => {
    const png = Buffer.from(`png ${SECRET}`).toString('base64');
    const markdown: MarkdownCell = {
      cell_type: 'markdown',
      source: [`# ${SECRET}\n`, 'text'],
      metadata: { tags: [SECRET] },
      attachments: {
        [`${SECRET}.png`]: { 'image/png': png },
        'note.txt': { 'text/plain': `is ${SECRET}` },
      },
    };
    const code: CodeCell = {
      cell_type: 'code',
      source: `x = "${SECRET}"`,
      metadata: { custom: { k: SECRET } },
      execution_count: 1,
      outputs: [{ output_type: 'stream', name: 'stdout', text: `${SECRET}\n` }],
    };
    const nb: Notebook = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { authors: [{ name: SECRET }] },
      cells: [markdown, code],
    };
    const masked = masker.maskNotebook(nb);
    expect(JSON.stringify(masked).includes(SECRET)).toBe(false);
    expect(masked.metadata).toEqual({ authors: [{ name: MASK }] });
    expect(masked.cells[0]).toEqual({
      cell_type: 'markdown',
      source: [`# ${MASK}\n`, 'text'],
      metadata: { tags: [MASK] },
      attachments: {
        [`${MASK}.png`]: { 'image/png': png },
        'note.txt': { 'text/plain': `is ${MASK}` },
      },
    });
    expect(masked.cells[1]).toMatchObject({
      source: `x = "${MASK}"`,
      metadata: { custom: { k: MASK } },
      outputs: [{ text: `${MASK}\n` }],
    });
    // The notebook given is left as it was.
    expect(JSON.stringify(nb).includes(SECRET)).toBe(true);
  });

  it('leaves outputs alone when asked to', () => {
    const cell: CodeCell = {
      cell_type: 'code',
      source: SECRET,
      metadata: {},
      execution_count: null,
      outputs: [{ output_type: 'stream', name: 'stdout', text: SECRET }],
    };
    const masked = masker.maskCell(cell, { outputs: false });
    expect(masked.source).toBe(MASK);
    expect(masked.outputs).toBe(cell.outputs);
  });

  it('says whether a text holds a secret, in any form it masks', () => {
    expect(masker.reveals(`job-${SECRET}`)).toBe(true);
    expect(masker.reveals(encodeURIComponent(`${SECRET}@`))).toBe(true);
    expect(masker.reveals('job-Pw-9f3k')).toBe(false);
    expect(new Masker([]).reveals(SECRET)).toBe(false);
  });
});
