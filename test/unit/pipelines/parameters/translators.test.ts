import { spawnSync } from 'node:child_process';
import { ParameterError } from '../../../../pipelines/errors';
import type { JSONValue } from '../../../../pipelines/notebook/model';
import {
  envSetupCode,
  normalizeLanguage,
  translateParameters,
} from '../../../../pipelines/parameters/translators';

function has(command: string): boolean {
  return spawnSync(command, ['--version'], { encoding: 'utf8' }).status === 0;
}
const HAS_PYTHON = has('python3');
const HAS_BASH = has('bash');

function run(command: string, args: string[], input: string): string {
  const result = spawnSync(command, args, { input, encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`${command} failed: ${result.stderr}`);
  }
  return result.stdout;
}

// Strings that break naive quoting.
const NASTY = `it's "quoted" \\ back\\slash \n newline \t tab $HOME \`cmd\` é 😀 \u202e \u2028 end`;

describe('normalizeLanguage', () => {
  it('accepts languages and kernel names case-insensitively', () => {
    expect(normalizeLanguage('Python')).toBe('python');
    expect(normalizeLanguage('python3')).toBe('python');
    expect(normalizeLanguage('IPython')).toBe('python');
    expect(normalizeLanguage('R')).toBe('r');
    expect(normalizeLanguage('ir')).toBe('r');
    expect(normalizeLanguage('sh')).toBe('bash');
    expect(normalizeLanguage('Bash')).toBe('bash');
  });

  it('rejects unknown languages, naming them', () => {
    expect(() => normalizeLanguage('cobol')).toThrow(ParameterError);
    expect(() => normalizeLanguage('cobol')).toThrow(/"cobol"/);
  });
});

describe('translateParameters: python', () => {
  it('writes papermill-style assignments', () => {
    expect(
      translateParameters('python3', {
        a: null,
        b: true,
        c: false,
        n: 3,
        x: 0.1,
        s: 'hi',
        l: [1, 'two', null],
        d: { k: [true], 'q"uote': 1.5 },
      }),
    ).toBe(
      '# Parameters\n' +
        'a = None\n' +
        'b = True\n' +
        'c = False\n' +
        'n = 3\n' +
        'x = 0.1\n' +
        's = "hi"\n' +
        'l = [1, "two", None]\n' +
        'd = {"k": [True], "q\\"uote": 1.5}\n',
    );
  });

  it('writes non-finite floats and negative zero', () => {
    expect(translateParameters('python', { a: NaN, b: Infinity, c: -Infinity, z: -0 })).toBe(
      "# Parameters\na = float('nan')\nb = float('inf')\nc = float('-inf')\nz = -0.0\n",
    );
  });

  it('uses the comment given', () => {
    expect(translateParameters('python', { a: 1 }, 'Injected')).toBe('# Injected\na = 1\n');
    expect(translateParameters('python', {}, '')).toBe('#\n');
  });

  it('rejects names that are keywords or not identifiers', () => {
    expect(() => translateParameters('python', { class: 1 })).toThrow(/Python keyword/);
    expect(() => translateParameters('python', { 'a-b': 1 })).toThrow(ParameterError);
  });

  (HAS_PYTHON ? it : it.skip)('round-trips every value through a real Python', () => {
    const params: Record<string, JSONValue> = {
      s: NASTY,
      ctrl: '\x00\x01\x7f\x85\ufeff',
      astral: '\u{1F600}\u{E0001}',
      nested: { list: [1, 2.5, -3, 'x', null, true, { deep: NASTY }], empty: {}, none: [] },
      big: 1e21,
      small: 1e-7,
    };
    const code =
      translateParameters('python', params) +
      'import json, sys\n' +
      'sys.stdout.write(json.dumps({k: globals()[k] for k in ' +
      JSON.stringify(Object.keys(params)) +
      '}, ensure_ascii=True))\n';
    expect(JSON.parse(run('python3', ['-'], code))).toEqual(params);
  });
});

describe('translateParameters: R', () => {
  it('writes papermill-style assignments', () => {
    expect(
      translateParameters('R', {
        a: null,
        b: true,
        n: 3,
        x: NaN,
        i: -Infinity,
        s: 'say "hi"\n',
        l: [1, 'a'],
        d: { k: false },
        _hidden: 1,
      }),
    ).toBe(
      '# Parameters\n' +
        'a = NULL\n' +
        'b = TRUE\n' +
        'n = 3\n' +
        'x = NaN\n' +
        'i = -Inf\n' +
        's = "say \\"hi\\"\\n"\n' +
        'l = list(1, "a")\n' +
        'd = list("k" = FALSE)\n' +
        'hidden = 1\n',
    );
  });

  it('rejects names R cannot use and NUL characters', () => {
    expect(() => translateParameters('r', { if: 1 })).toThrow(ParameterError);
    expect(() => translateParameters('r', { ___: 1 })).toThrow(ParameterError);
    expect(() => translateParameters('r', { s: 'a\0b' })).toThrow(/NUL/);
  });
});

describe('translateParameters: bash', () => {
  it('writes single-quoted assignments, arrays and JSON objects', () => {
    expect(
      translateParameters('bash', {
        s: "it's",
        n: 3,
        f: 0.5,
        b: true,
        z: null,
        l: [1, 'a b', [2]],
        d: { k: 'v' },
      }),
    ).toBe(
      '# Parameters\n' +
        "s='it'\\''s'\n" +
        'n=3\n' +
        'f=0.5\n' +
        'b=true\n' +
        "z=''\n" +
        "l=(1 'a b' '[2]')\n" +
        `d='{"k":"v"}'\n`,
    );
  });

  (HAS_BASH ? it : it.skip)('round-trips strings through a real bash', () => {
    const code =
      translateParameters('bash', { s: NASTY, l: ['x y', "it's"] }) +
      'printf "%s\\0" "$s" "${l[@]}"\n';
    expect(run('bash', [], code).split('\0')).toEqual([NASTY, 'x y', "it's", '']);
  });

  it('rejects NUL characters', () => {
    expect(() => translateParameters('sh', { s: 'a\0b' })).toThrow(ParameterError);
  });
});

describe('envSetupCode', () => {
  const env = { TOKEN: NASTY, EMPTY: '' };

  it('is empty when there is nothing to set', () => {
    expect(envSetupCode('python', {})).toBe('');
  });

  it('writes python that sets the environment and cwd, then cleans up', () => {
    expect(envSetupCode('python', { A: 'x' }, '/tmp')).toBe(
      'import os as _nbstage_os\n' +
        '_nbstage_os.environ.update({"A": "x"})\n' +
        '_nbstage_os.chdir("/tmp")\n' +
        'del _nbstage_os\n',
    );
  });

  it('writes bash exports and cd', () => {
    expect(envSetupCode('bash', { A: "it's" }, '-dir')).toBe("export A='it'\\''s'\ncd -- '-dir'\n");
  });

  it('writes R Sys.setenv and setwd', () => {
    expect(envSetupCode('R', { A: 'x"y' }, 'C:\\work')).toBe(
      'invisible(Sys.setenv("A" = "x\\"y"))\ninvisible(setwd("C:\\\\work"))\n',
    );
  });

  it('rejects names and values the environment cannot hold', () => {
    expect(() => envSetupCode('python', { 'A=B': 'x' })).toThrow(ParameterError);
    expect(() => envSetupCode('python', { A: 'x\0' })).toThrow(ParameterError);
    expect(() => envSetupCode('bash', { 'A-B': 'x' })).toThrow(ParameterError);
    expect(() => envSetupCode('fortran', {})).toThrow(ParameterError);
  });

  (HAS_PYTHON ? it : it.skip)('sets exactly these values in a real Python', () => {
    const code =
      envSetupCode('python', env, '/') +
      'import os, json, sys\n' +
      'sys.stdout.write(json.dumps([os.environ["TOKEN"], os.environ["EMPTY"], os.getcwd(), "_nbstage_os" in globals()]))\n';
    expect(JSON.parse(run('python3', ['-'], code))).toEqual([NASTY, '', '/', false]);
  });

  (HAS_BASH ? it : it.skip)('sets exactly these values in a real bash', () => {
    const code = envSetupCode('bash', env, '/') + 'printf "%s\\0" "$TOKEN" "$EMPTY" "$PWD"\n';
    expect(run('bash', [], code).split('\0')).toEqual([NASTY, '', '/', '']);
  });
});
