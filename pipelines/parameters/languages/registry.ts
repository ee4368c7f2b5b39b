/**
 * The registry of parameter languages: which {@link ParameterLanguage} serves a kernel's
 * language or kernel name (`Python3`, `ipython`, `R`, `ir`, `bash`, `sh`, ...).
 */
import { ParameterError } from '../../errors';
import { bash } from './bash';
import type { KernelLanguage, ParameterLanguage } from './language';
import { python } from './python';
import { r } from './r';

const ALIASES: Record<string, KernelLanguage> = {
  python: 'python',
  python3: 'python',
  python2: 'python',
  ipython: 'python',
  ipython3: 'python',
  py: 'python',
  pysparkkernel: 'python',
  r: 'r',
  ir: 'r',
  sparkrkernel: 'r',
  bash: 'bash',
  sh: 'bash',
  shell: 'bash',
};

const LANGUAGES: Record<KernelLanguage, ParameterLanguage> = { python, r, bash };

/**
 * The kernel language for a language or kernel name, case-insensitively (`Python3`, `ipython`,
 * `R`, `ir`, `bash`, `sh`, ...).
 *
 * @throws ParameterError for a language nbstage cannot write parameters for
 */
export function normalizeLanguage(language: string): KernelLanguage {
  const found = ALIASES[language.trim().toLowerCase()];
  if (found === undefined) {
    throw new ParameterError(
      `cannot write parameters for language "${language}" (supported: python, R, bash)`,
    );
  }
  return found;
}

/**
 * The translator and defaults parser for a language or kernel name (see
 * {@link normalizeLanguage}).
 *
 * @throws ParameterError for a language nbstage cannot write parameters for
 */
export function parameterLanguage(language: string): ParameterLanguage {
  return LANGUAGES[normalizeLanguage(language)];
}
