import { readFileSync } from 'node:fs';
import path from 'node:path';
import { NotebookInvalidError } from '../../../../pipelines/errors';
import {
  DEFAULT_INTERPRETERS,
  formatZeppelinDate,
  notebookToZeppelin,
  validateZeppelinNote,
  zeppelinToNotebook,
  type ZeppelinNote,
} from '../../../../pipelines/formats/zeppelin';
import { cellTags, joinSource, type CodeCell } from '../../../../pipelines/notebook/model';
import { validateNotebook } from '../../../../pipelines/notebook/validate';

const FIXTURE = path.join(__dirname, '../../../fixtures/zeppelin/mixed-interpreters.zpln');

function loadNote(): ZeppelinNote {
  return validateZeppelinNote(JSON.parse(readFileSync(FIXTURE, 'utf8')), FIXTURE);
}

function code(nb: ReturnType<typeof zeppelinToNotebook>, index: number): CodeCell {
  const cell = nb.cells[index];
  if (cell === undefined || cell.cell_type !== 'code') {
    throw new Error(`cell ${index} is not a code cell`);
  }
  return cell;
}

describe('zeppelinToNotebook', () => {
  const note = loadNote();
  const nb = zeppelinToNotebook(note);

  it('produces a schema-valid nbformat 4.5 notebook', () => {
    expect(() => validateNotebook(JSON.parse(JSON.stringify(nb)), 'converted')).not.toThrow();
    expect(nb.nbformat_minor).toBe(5);
    expect(nb.cells.map((c) => c.cell_type)).toEqual([
      'markdown',
      'code',
      'code',
      'code',
      'code',
      'raw',
    ]);
  });

  it('strips the interpreter prefix and maps paragraphs to kernels', () => {
    expect(joinSource(nb.cells[0]?.source ?? '')).toBe('# Sales report\n\nRuns *python* and *sh*.');
    expect(joinSource(code(nb, 2).source)).toBe('echo "extracting"\nls /nonexistent');
    expect(code(nb, 2).metadata.nbstage).toEqual({
      paragraph_id: 'paragraph_1700000000000_333333333',
      title: 'stage:extract',
      interpreter: 'sh',
      language: 'bash',
      kernel: 'bash',
      agent: 'cpu',
      timeout: 60,
    });
  });

  it('handles sub-interpreters with local properties and strips leading blanks', () => {
    const cell = code(nb, 3);
    expect(joinSource(cell.source)).toBe('import sys\nprint(sys.version)');
    expect(cell.metadata.nbstage).toMatchObject({
      interpreter: 'python.ipython',
      kernel: 'python3',
      interpreter_properties: { parallel: 'false' },
    });
  });

  it("uses the note's default interpreter for paragraphs without a prefix", () => {
    const cell = code(nb, 4);
    expect(joinSource(cell.source)).toBe("print('default interpreter')");
    expect(cell.metadata.nbstage?.interpreter).toBe('python');
    expect(cellTags(cell)).toEqual(['skip-execution']); // disabled paragraph
  });

  it('turns tags, stage titles and titles into metadata', () => {
    expect(cellTags(code(nb, 1))).toEqual(['parameters']);
    expect(cellTags(code(nb, 2))).toEqual(['stage:extract']);
    expect(nb.cells[0]?.metadata.nbstage?.title).toBe('About');
  });

  it('names the kernel of the first code paragraph and the note', () => {
    expect(nb.metadata.kernelspec).toEqual({
      name: 'python3',
      display_name: 'Python 3 (ipykernel)',
      language: 'python',
    });
    expect(nb.metadata.nbstage).toEqual({ zeppelin: { id: '2KABCDEF1', name: 'Sales report' } });
  });

  it('keeps paragraph ids as cell ids', () => {
    expect(nb.cells[1]?.id).toBe('paragraph_1700000000000_222222222');
  });

  it('uses the default interpreter group of the note', () => {
    const shNote: ZeppelinNote = {
      defaultInterpreterGroup: 'sh',
      paragraphs: [{ text: 'echo hi' }],
    };
    const converted = zeppelinToNotebook(shNote);
    expect(code(converted, 0).metadata.nbstage).toEqual({
      paragraph_index: 0,
      interpreter: 'sh',
      language: 'bash',
      kernel: 'bash',
    });
    expect(converted.metadata.kernelspec?.name).toBe('bash');
  });

  it('rejects unknown interpreters, naming the paragraph', () => {
    const bad: ZeppelinNote = {
      paragraphs: [{ text: '%md hi' }, { id: 'p2', text: '%jdbc\nselect 1' }],
    };
    expect(() => zeppelinToNotebook(bad)).toThrow(NotebookInvalidError);
    expect(() => zeppelinToNotebook(bad)).toThrow(/paragraph 2 \(p2\): unknown interpreter %jdbc/);
  });

  it('accepts a custom interpreter table', () => {
    const table = { ...DEFAULT_INTERPRETERS, jdbc: { kernel: 'sql', language: 'sql' } };
    const converted = zeppelinToNotebook({ paragraphs: [{ text: '%jdbc\nselect 1' }] }, table);
    expect(code(converted, 0).metadata.nbstage?.kernel).toBe('sql');
  });

  it('treats %md text on the prefix line as markdown', () => {
    const converted = zeppelinToNotebook({ paragraphs: [{ text: '%md **bold**' }] });
    expect(converted.cells[0]).toMatchObject({ cell_type: 'markdown', source: ['**bold**'] });
    expect(converted.metadata.kernelspec).toBeUndefined();
  });
});

describe('validateZeppelinNote', () => {
  it('rejects notes without paragraphs and bad paragraph fields', () => {
    expect(() => validateZeppelinNote({ name: 'x' }, 'n.zpln')).toThrow(
      "n.zpln: invalid Zeppelin note: note must have required property 'paragraphs'",
    );
    expect(() => validateZeppelinNote({ paragraphs: [{ text: 3 }] }, 'n.zpln')).toThrow(
      /n\.zpln: invalid Zeppelin note: \/paragraphs\/0\/text must be string,null/,
    );
  });
});

describe('formatZeppelinDate', () => {
  it('formats like Zeppelin, in UTC', () => {
    expect(formatZeppelinDate(new Date('2026-11-22T11:02:11.123Z'))).toBe(
      'Nov 22, 2026 11:02:11 AM',
    );
    expect(formatZeppelinDate(new Date('2026-01-05T00:07:09Z'))).toBe('Jan 5, 2026 12:07:09 AM');
    expect(formatZeppelinDate(new Date('2026-07-31T12:00:00Z'))).toBe('Jul 31, 2026 12:00:00 PM');
    expect(formatZeppelinDate(new Date('2026-07-31T23:59:59Z'))).toBe('Jul 31, 2026 11:59:59 PM');
  });
});

describe('notebookToZeppelin', () => {
  function executed(): ReturnType<typeof zeppelinToNotebook> {
    const nb = zeppelinToNotebook(loadNote());
    const params = code(nb, 1);
    params.metadata.nbstage = { ...params.metadata.nbstage, status: 'ok' };
    params.metadata.execution = {
      'iopub.status.busy': '2026-11-22T11:02:11.100Z',
      'shell.execute_reply': '2026-11-22T13:02:12.900Z',
    };
    params.outputs = [
      { output_type: 'stream', name: 'stdout', text: ['\x1b[1memea\x1b[0m\n'] },
      { output_type: 'stream', name: 'stderr', text: 'warn\n' },
      {
        output_type: 'display_data',
        data: { 'text/tab-separated-values': 'a\tb\n1\t2\n', 'text/plain': 'table' },
        metadata: {},
      },
      {
        output_type: 'display_data',
        data: { 'image/png': 'iVBORw0K\nGgo=\n', 'text/plain': '<Figure>' },
        metadata: {},
      },
      {
        output_type: 'execute_result',
        execution_count: 1,
        data: { 'text/html': ['<table>', '</table>'], 'text/plain': 'df' },
        metadata: {},
      },
      {
        output_type: 'execute_result',
        execution_count: 2,
        data: { 'text/plain': "'x'" },
        metadata: {},
      },
    ];
    const sh = code(nb, 2);
    sh.metadata.nbstage = { ...sh.metadata.nbstage, status: 'error' };
    sh.outputs = [
      { output_type: 'stream', name: 'stdout', text: 'extracting\n' },
      {
        output_type: 'error',
        ename: 'Error',
        evalue: 'exit 2',
        traceback: ['\x1b[0;31m---\x1b[0m', 'ls: cannot access'],
      },
    ];
    const aborted = code(nb, 3);
    aborted.metadata.nbstage = { ...aborted.metadata.nbstage, status: 'aborted' };
    return nb;
  }

  it('writes outputs back as Zeppelin results with status and dates', () => {
    const original = loadNote();
    const note = notebookToZeppelin(original, executed());
    const params = note.paragraphs[1];
    expect(params?.status).toBe('FINISHED');
    expect(params?.results).toEqual({
      code: 'SUCCESS',
      msg: [
        { type: 'TEXT', data: 'emea\nwarn\n' },
        { type: 'TABLE', data: 'a\tb\n1\t2\n' },
        { type: 'IMG', data: 'iVBORw0KGgo=' },
        { type: 'HTML', data: '<table></table>' },
        { type: 'TEXT', data: "'x'\n" },
      ],
    });
    expect(params?.dateStarted).toBe('Nov 22, 2026 11:02:11 AM');
    expect(params?.dateFinished).toBe('Nov 22, 2026 1:02:12 PM');
    // unknown fields are kept
    expect(params?.jobName).toBe('paragraph_1700000000000_222222222');
    expect(note.version).toBe('0.10.1');
  });

  it('marks failed paragraphs ERROR with the traceback as text, without ANSI escapes', () => {
    const note = notebookToZeppelin(loadNote(), executed());
    expect(note.paragraphs[2]?.status).toBe('ERROR');
    expect(note.paragraphs[2]?.results).toEqual({
      code: 'ERROR',
      msg: [{ type: 'TEXT', data: 'extracting\n---\nls: cannot access\n' }],
    });
  });

  it('marks cells that did not run READY without results', () => {
    const note = notebookToZeppelin(loadNote(), executed());
    expect(note.paragraphs[3]?.status).toBe('READY');
    expect(note.paragraphs[3]?.results).toBeUndefined();
    expect(note.paragraphs[4]?.status).toBe('READY');
  });

  it('renders markdown paragraphs as HTML', () => {
    const note = notebookToZeppelin(loadNote(), executed());
    const md = note.paragraphs[0];
    expect(md?.status).toBe('FINISHED');
    expect(md?.results?.code).toBe('SUCCESS');
    expect(md?.results?.msg[0]?.type).toBe('HTML');
    expect(md?.results?.msg[0]?.data).toContain('<h1>Sales report</h1>');
    expect(md?.results?.msg[0]?.data).toContain('<em>python</em>');
  });

  it('leaves empty paragraphs and the original note untouched', () => {
    const original = loadNote();
    const before = JSON.stringify(original);
    const note = notebookToZeppelin(original, executed());
    expect(JSON.stringify(original)).toBe(before);
    expect(note.paragraphs[5]).toEqual(original.paragraphs[5]);
  });

  it('finds cells by paragraph even when cells were inserted', () => {
    const nb = executed();
    nb.cells.splice(2, 0, {
      cell_type: 'code',
      source: 'injected',
      metadata: { tags: ['injected-parameters'] },
      execution_count: null,
      outputs: [],
    });
    const note = notebookToZeppelin(loadNote(), nb);
    expect(note.paragraphs[2]?.status).toBe('ERROR');
  });
});
