/**
 * Job and build names to ref paths: readable for ordinary names, escaped so that git accepts
 * any name, reversible, and never the same path for two names (the property test below runs
 * over names built from the pieces git refuses). Validity against the real git is checked in
 * test/integration/store/ref-names-git.test.ts.
 */
import { ValidationError } from '../../../pipelines/errors';
import {
  MAX_COMPONENT_BYTES,
  buildComponent,
  buildOfComponent,
  decodeComponent,
  encodeComponent,
  hashedJobPath,
  isHashedJobPath,
  jobNameOfPath,
  readableJobPath,
  refPathsClash,
  tagName,
} from '../../../server/store/ref-names';
import { trickyNames } from './tricky-names';

describe('encodeComponent', () => {
  it('leaves ordinary names alone', () => {
    expect(encodeComponent('train')).toBe('train');
    expect(encodeComponent('my-job_2.1')).toBe('my-job_2.1');
    expect(encodeComponent('label=linux,jdk=17')).toBe('label=linux,jdk=17');
  });

  it('escapes what git refuses and what could collide', () => {
    expect(encodeComponent('a b')).toBe('a%20b');
    expect(encodeComponent('a_b')).toBe('a_b');
    expect(encodeComponent('..')).toBe('%2E%2E');
    expect(encodeComponent('a..b')).toBe('a.%2Eb');
    expect(encodeComponent('.hidden')).toBe('%2Ehidden');
    expect(encodeComponent('trailing.')).toBe('trailing%2E');
    expect(encodeComponent('x.lock')).toBe('x%2Elock');
    expect(encodeComponent('x.LoCk')).toBe('x%2ELoCk');
    expect(encodeComponent('@')).toBe('%40');
    expect(encodeComponent('a@{1}')).toBe('a%40%7B1%7D');
    expect(encodeComponent('100%')).toBe('100%25');
    expect(encodeComponent('é')).toBe('%C3%A9');
    expect(encodeComponent('a\u0000b\nc')).toBe('a%00b%0Ac');
  });

  it('is reversed by decodeComponent, which refuses what it does not produce', () => {
    for (const text of ['a b', '..', 'x.lock', '日本😀', '%2F', 'a/b']) {
      expect(decodeComponent(encodeComponent(text))).toBe(text);
    }
    expect(decodeComponent('%')).toBeNull();
    expect(decodeComponent('%2e')).toBeNull(); // lower-case hex is never produced
    expect(decodeComponent('%41')).toBeNull(); // "A" is never escaped
    expect(decodeComponent('a b')).toBeNull();
    expect(decodeComponent('%FF')).toBeNull(); // not UTF-8
    expect(decodeComponent('')).toBeNull();
  });
});

describe('job paths', () => {
  it('keeps folders as folders and ordinary names readable', () => {
    expect(readableJobPath('team/ml/train')).toBe('team/ml/train');
    expect(readableJobPath('My Job')).toBe('My%20Job');
    expect(readableJobPath('a/../b')).toBe('a/%2E%2E/b');
  });

  it('rejects names that are not Jenkins full names', () => {
    for (const bad of ['', '/a', 'a/', 'a//b', '\ud800x', 'x'.repeat(2000)]) {
      expect(() => readableJobPath(bad)).toThrow(ValidationError);
    }
  });

  it('has no readable path when a folder name is too long to be a file name', () => {
    expect(readableJobPath('x'.repeat(MAX_COMPONENT_BYTES))).not.toBeNull();
    expect(readableJobPath('é'.repeat(40))).toBeNull(); // 240 bytes escaped
  });

  it('hashes into the % folder, which no readable path uses', () => {
    const hashed = hashedJobPath('a/b');
    expect(hashed).toMatch(/^%\/[0-9a-f]{64}$/);
    expect(isHashedJobPath(hashed)).toBe(true);
    expect(jobNameOfPath(hashed)).toBeNull();
    expect(readableJobPath('%')).toBe('%25');
    expect(hashedJobPath('a b')).not.toBe(hashedJobPath('a_b'));
  });

  it('maps tricky names injectively and reversibly (property)', () => {
    const names = trickyNames(3000);
    const owner = new Map<string, string>();
    for (const name of names) {
      const p = readableJobPath(name);
      expect(p).not.toBeNull();
      const jobPath = p as string;
      expect(jobPath).toMatch(/^[A-Za-z0-9_+=,.%/-]+$/);
      expect(jobPath.split('/').every((c) => !c.startsWith('.') && !c.endsWith('.'))).toBe(true);
      expect(jobPath).not.toMatch(/\.\.|\.lock(\/|$)|@\{|^@$/i);
      expect(jobNameOfPath(jobPath)).toBe(name);
      expect(owner.get(jobPath) ?? name).toBe(name);
      owner.set(jobPath, name);
    }
    expect(owner.size).toBe(names.length);
  });
});

describe('builds and tags', () => {
  it('encodes builds as one component', () => {
    expect(buildComponent('42')).toBe('42');
    expect(buildComponent('rc 1')).toBe('rc%201');
    expect(buildOfComponent('rc%201')).toBe('rc 1');
    expect(tagName('team/ml/train', '42')).toBe('team/ml/train/42');
  });

  it('rejects builds with a slash or control characters', () => {
    for (const bad of ['', '4/2', '4\n2', 'x'.repeat(101)]) {
      expect(() => buildComponent(bad)).toThrow(ValidationError);
    }
  });
});

describe('refPathsClash', () => {
  it('finds folder/file and letter-case clashes', () => {
    expect(refPathsClash('a', 'a/b')).toBe(true);
    expect(refPathsClash('a/b', 'a')).toBe(true);
    expect(refPathsClash('Job', 'job')).toBe(true);
    expect(refPathsClash('Team/x', 'team/y')).toBe(true);
    expect(refPathsClash('a', 'a')).toBe(false);
    expect(refPathsClash('a/b', 'a/c')).toBe(false);
    expect(refPathsClash('ab', 'a')).toBe(false);
    expect(refPathsClash('a%20b', 'a_b')).toBe(false);
  });
});
