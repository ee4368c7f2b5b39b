import { ParameterError } from '../../../../pipelines/errors';
import {
  cellTags,
  joinSource,
  newCodeCell,
  type Cell,
  type Notebook,
} from '../../../../pipelines/notebook/model';
import { validateNotebook } from '../../../../pipelines/notebook/validate';
import { parametersCellDefaults } from '../../../../pipelines/parameters/defaults';
import { injectParameters } from '../../../../pipelines/parameters/inject';

function markdown(text: string): Cell {
  return { cell_type: 'markdown', id: 'md', metadata: {}, source: text };
}

function nbOf(cells: Cell[], minor = 5): Notebook {
  return { nbformat: 4, nbformat_minor: minor, metadata: {}, cells };
}

function sources(nb: Notebook): string[] {
  return nb.cells.map((c) => joinSource(c.source));
}

describe('injectParameters', () => {
  it('inserts a tagged cell right after the first parameters cell', () => {
    const nb = nbOf([
      newCodeCell('import os'),
      newCodeCell('a = 1', ['parameters']),
      newCodeCell('b = 2', ['parameters']),
      newCodeCell('print(a)'),
    ]);
    const out = injectParameters(nb, { a: 5, s: 'x' }, 'python');
    expect(sources(out)).toEqual([
      'import os',
      'a = 1',
      '# Parameters\na = 5\ns = "x"\n',
      'b = 2',
      'print(a)',
    ]);
    expect(cellTags(out.cells[2] as Cell)).toEqual(['injected-parameters']);
    expect(() => validateNotebook(JSON.parse(JSON.stringify(out)), 'out')).not.toThrow();
  });

  it('inserts at the top when there is no parameters cell', () => {
    const nb = nbOf([markdown('# Title'), newCodeCell('print(a)')]);
    const out = injectParameters(nb, { a: 1 }, 'bash');
    expect(sources(out)).toEqual(['# Parameters\na=1\n', '# Title', 'print(a)']);
  });

  it('replaces earlier injected cells', () => {
    const nb = nbOf([
      newCodeCell('a = 1', ['parameters']),
      newCodeCell('print(a)'),
      newCodeCell('# Parameters\na = 2\n', ['injected-parameters']),
    ]);
    const out = injectParameters(nb, { a: 3 }, 'python');
    expect(sources(out)).toEqual(['a = 1', '# Parameters\na = 3\n', 'print(a)']);
  });

  it('returns an unchanged copy when there are no parameters', () => {
    const nb = nbOf([newCodeCell('x', ['injected-parameters'])]);
    const out = injectParameters(nb, {}, 'python');
    expect(out).toEqual(nb);
    expect(out).not.toBe(nb);
  });

  it('never modifies its input', () => {
    const nb = nbOf([newCodeCell('a = 1', ['parameters'])]);
    const before = JSON.stringify(nb);
    injectParameters(nb, { a: 2 }, 'python');
    expect(JSON.stringify(nb)).toBe(before);
  });

  it('gives the new cell an id only from nbformat 4.5 on', () => {
    expect(injectParameters(nbOf([], 5), { a: 1 }, 'python').cells[0]?.id).toMatch(/^[0-9a-f]{8}$/);
    const old = injectParameters(nbOf([], 4), { a: 1 }, 'python');
    expect(old.cells[0]).not.toHaveProperty('id');
    expect(() => validateNotebook(JSON.parse(JSON.stringify(old)), 'old')).not.toThrow();
  });

  it('fails for unknown languages', () => {
    expect(() => injectParameters(nbOf([]), { a: 1 }, 'cobol')).toThrow(ParameterError);
  });
});

describe('parametersCellDefaults', () => {
  function defaults(
    source: string,
    language = 'python',
  ): ReturnType<typeof parametersCellDefaults> {
    return parametersCellDefaults(
      nbOf([newCodeCell('x = 0'), newCodeCell(source, ['parameters'])]),
      language,
    );
  }

  it('is empty without a parameters cell', () => {
    expect(parametersCellDefaults(nbOf([newCodeCell('a = 1')]), 'python')).toEqual([]);
  });

  it('reads python literals, types and comments', () => {
    const source = [
      '# defaults',
      'import os',
      'epochs = 10  # number of epochs',
      'lr: float = 1e-3',
      'name = "run \\"one\\""  # quoted',
      "raw = r'C:\\new'",
      'debug = False',
      'nothing = None',
      'layers = [64, 32,',
      '          16]  # sizes',
      'cfg = {"a": (1, 2), "b": {"c": -0.5}}',
      'hexed = 0xFF',
      'paren = (3)',
      'joined = "a" "b"',
      'path = os.path.join("a", "b")  # computed',
      'url = "http://x/#frag"  # has # in it',
      'if epochs > 5:',
      '    inner = 1',
      'epochs += 1',
    ].join('\n');
    expect(defaults(source)).toEqual([
      { name: 'epochs', default: 10, type: 'integer', comment: 'number of epochs' },
      { name: 'lr', default: 0.001, type: 'float', comment: null },
      { name: 'name', default: 'run "one"', type: 'string', comment: 'quoted' },
      { name: 'raw', default: 'C:\\new', type: 'string', comment: null },
      { name: 'debug', default: false, type: 'boolean', comment: null },
      { name: 'nothing', default: null, type: 'null', comment: null },
      { name: 'layers', default: [64, 32, 16], type: 'list', comment: 'sizes' },
      { name: 'cfg', default: { a: [1, 2], b: { c: -0.5 } }, type: 'dict', comment: null },
      { name: 'hexed', default: 255, type: 'integer', comment: null },
      { name: 'paren', default: 3, type: 'integer', comment: null },
      { name: 'joined', default: 'ab', type: 'string', comment: null },
      { name: 'path', default: 'os.path.join("a", "b")', type: 'expression', comment: 'computed' },
      { name: 'url', default: 'http://x/#frag', type: 'string', comment: 'has # in it' },
    ]);
  });

  it('keeps the last assignment of a name', () => {
    expect(defaults('a = 1\nb = 2\na = 3')).toEqual([
      { name: 'b', default: 2, type: 'integer', comment: null },
      { name: 'a', default: 3, type: 'integer', comment: null },
    ]);
  });

  it('reads bash assignments', () => {
    const source = [
      'epochs=10 # number of epochs',
      "name='my run'",
      'greeting="hello \\"you\\""',
      'ratio=0.5',
      'flag=true',
      'export region=emea',
      'sizes=(1 two "three four")',
      'home=$HOME/data  # computed',
      'empty=',
      'echo done',
    ].join('\n');
    expect(defaults(source, 'bash')).toEqual([
      { name: 'epochs', default: 10, type: 'integer', comment: 'number of epochs' },
      { name: 'name', default: 'my run', type: 'string', comment: null },
      { name: 'greeting', default: 'hello "you"', type: 'string', comment: null },
      { name: 'ratio', default: 0.5, type: 'float', comment: null },
      { name: 'flag', default: true, type: 'boolean', comment: null },
      { name: 'region', default: 'emea', type: 'string', comment: null },
      { name: 'sizes', default: [1, 'two', 'three four'], type: 'list', comment: null },
      { name: 'home', default: '$HOME/data', type: 'expression', comment: 'computed' },
      { name: 'empty', default: '', type: 'string', comment: null },
    ]);
  });

  it('reads R assignments', () => {
    const source = [
      'epochs <- 10L  # count',
      'lr = 0.01',
      'name <- "x"',
      'flag <- TRUE',
      'v <- c(1, 2, 3)',
      'opts <- list(a = 1, "b c" = "d")',
      'nothing <- NULL',
      'now <- Sys.time()',
    ].join('\n');
    expect(defaults(source, 'R')).toEqual([
      { name: 'epochs', default: 10, type: 'integer', comment: 'count' },
      { name: 'lr', default: 0.01, type: 'float', comment: null },
      { name: 'name', default: 'x', type: 'string', comment: null },
      { name: 'flag', default: true, type: 'boolean', comment: null },
      { name: 'v', default: [1, 2, 3], type: 'list', comment: null },
      { name: 'opts', default: { a: 1, 'b c': 'd' }, type: 'dict', comment: null },
      { name: 'nothing', default: null, type: 'null', comment: null },
      { name: 'now', default: 'Sys.time()', type: 'expression', comment: null },
    ]);
  });

  it('reads the parameters cell a notebook got from injection round-trips', () => {
    const nb = injectParameters(
      nbOf([newCodeCell('a = 1\ns = "x"', ['parameters'])]),
      { a: 2 },
      'python',
    );
    expect(parametersCellDefaults(nb, 'python').map((d) => d.default)).toEqual([1, 'x']);
  });
});
