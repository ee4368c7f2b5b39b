import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../../../../pipelines/errors';
import {
  parseParameterArgs,
  parseSecretArgs,
  readParamsFile,
} from '../../../../pipelines/parameters/parse';
import { useTempDir } from '../../../helpers/temp-dirs';

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('parseParameterArgs', () => {
  it('parses -p values as JSON when they are JSON, else keeps strings', () => {
    expect(
      parseParameterArgs(
        [
          'n=3',
          'x=0.1',
          'b=true',
          's="s"',
          'l=[1,2]',
          'z=null',
          'o={"a":1}',
          'word=hello',
          'empty=',
          'zip=00123',
          'eq=a=b',
        ],
        [],
      ),
    ).toEqual({
      n: 3,
      x: 0.1,
      b: true,
      s: 's',
      l: [1, 2],
      z: null,
      o: { a: 1 },
      word: 'hello',
      empty: '',
      zip: '00123',
      eq: 'a=b',
    });
  });

  it('keeps integers JSON numbers cannot hold exactly as strings', () => {
    expect(parseParameterArgs(['id=12345678901234567890', 'big=1e400', 'f=1e300'], [])).toEqual({
      id: '12345678901234567890',
      big: '1e400',
      f: 1e300,
    });
  });

  it('keeps -r values as strings', () => {
    expect(parseParameterArgs([], ['n=3', 't=true', 'q="x"'])).toEqual({
      n: '3',
      t: 'true',
      q: '"x"',
    });
  });

  it('lets a later -p win and rejects a name given to -p and -r', () => {
    expect(parseParameterArgs(['a=1', 'a=2'], [])).toEqual({ a: 2 });
    expect(usageMessage(() => parseParameterArgs(['a=1'], ['a=2']))).toMatch(/"a".*-p and -r/);
  });

  it('rejects arguments without =', () => {
    expect(usageMessage(() => parseParameterArgs(['foo'], []))).toBe(
      '-p "foo": expected NAME=VALUE',
    );
    expect(usageMessage(() => parseParameterArgs([], ['bar']))).toBe(
      '-r "bar": expected NAME=VALUE',
    );
  });

  it('rejects invalid names, naming them', () => {
    expect(usageMessage(() => parseParameterArgs(['1x=3'], []))).toMatch(/invalid name "1x"/);
    expect(usageMessage(() => parseParameterArgs(['a-b=3'], []))).toMatch(/invalid name "a-b"/);
    expect(usageMessage(() => parseParameterArgs(['=3'], []))).toMatch(/invalid name ""/);
  });

  it('keeps __proto__ as a plain key', () => {
    const params = parseParameterArgs(['__proto__={"polluted":1}'], []);
    expect(Object.keys(params)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('parseSecretArgs', () => {
  it('keeps values as strings', () => {
    expect(parseSecretArgs(['TOKEN=abc=def', 'N=3'])).toEqual({ TOKEN: 'abc=def', N: '3' });
  });

  it('rejects empty values, which could not be masked', () => {
    expect(usageMessage(() => parseSecretArgs(['TOKEN=']))).toMatch(/TOKEN.*empty/);
  });

  it('takes NAME alone from the environment variable NAME', () => {
    expect(parseSecretArgs(['API_KEY', 'N=3'], { API_KEY: 's3cr3t' })).toEqual({
      API_KEY: 's3cr3t',
      N: '3',
    });
    const unset = usageMessage(() => parseSecretArgs(['API_KEY'], {}));
    expect(unset).toMatch(/environment variable NAME, which is not set/);
    expect(unset).not.toContain('API_KEY');
    expect(usageMessage(() => parseSecretArgs(['API_KEY'], { API_KEY: '' }))).toMatch(
      /not set or empty/,
    );
  });

  it('never echoes a value in its errors', () => {
    const noEq = usageMessage(() => parseSecretArgs(['hunter2'], {}));
    expect(noEq).not.toContain('hunter2');
    const notAName = usageMessage(() => parseSecretArgs(['hunter-2!'], {}));
    expect(notAName).not.toContain('hunter-2!');
    const badName = usageMessage(() => parseSecretArgs(['my-token=hunter2']));
    expect(badName).toContain('my-token');
    expect(badName).not.toContain('hunter2');
  });
});

describe('readParamsFile', () => {
  const dir = useTempDir();

  async function file(name: string, text: string): Promise<string> {
    const p = path.join(dir(), name);
    await writeFile(p, text);
    return p;
  }

  it('reads JSON', async () => {
    const p = await file('p.json', '{"epochs": 3, "lr": 0.1, "tags": ["a"], "cfg": {"x": null}}');
    expect(await readParamsFile(p)).toEqual({ epochs: 3, lr: 0.1, tags: ['a'], cfg: { x: null } });
  });

  it('reads YAML (.yaml and .yml)', async () => {
    const text = 'epochs: 3\nname: run one\nflag: yes\nlist:\n  - 1\n  - two\nnested: {a: 1}\n';
    const expected = {
      epochs: 3,
      name: 'run one',
      flag: 'yes',
      list: [1, 'two'],
      nested: { a: 1 },
    };
    expect(await readParamsFile(await file('p.yaml', text))).toEqual(expected);
    expect(await readParamsFile(await file('p.yml', text))).toEqual(expected);
  });

  it('rejects files whose top level is not a mapping', async () => {
    const p = await file('list.yaml', '- 1\n- 2\n');
    await expect(readParamsFile(p)).rejects.toThrow(UsageError);
    await expect(readParamsFile(p)).rejects.toThrow(`${p}: parameters file must hold a mapping`);
    await expect(readParamsFile(await file('empty.yml', ''))).rejects.toThrow(/mapping/);
  });

  it('names the file on parse errors, in one line', async () => {
    const p = await file('bad.yaml', 'a: [1, 2\nb: 3\n');
    const err = await readParamsFile(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message.startsWith(`${p}: invalid YAML: `)).toBe(true);
    expect((err as Error).message).not.toContain('\n');
    await expect(readParamsFile(await file('bad.json', '{'))).rejects.toThrow(
      /bad\.json: invalid JSON/,
    );
    await expect(readParamsFile(await file('dup.yaml', 'a: 1\na: 2\n'))).rejects.toThrow(
      UsageError,
    );
  });

  it('rejects missing files, other extensions and invalid names', async () => {
    await expect(readParamsFile(path.join(dir(), 'none.json'))).rejects.toThrow(
      /none\.json: cannot read/,
    );
    await expect(readParamsFile(await file('p.toml', 'a = 1'))).rejects.toThrow(
      /\.json, \.yaml or \.yml/,
    );
    await expect(readParamsFile(await file('n.json', '{"1a": 1}'))).rejects.toThrow(
      /invalid name "1a"/,
    );
  });

  it('rejects YAML values that are not JSON data', async () => {
    const p = await file('bin.yaml', 'blob: !!binary aGVsbG8=\n');
    await expect(readParamsFile(p)).rejects.toThrow(/blob is not a JSON value/);
  });
});
