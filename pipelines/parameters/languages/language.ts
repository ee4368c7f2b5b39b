/**
 * What nbstage knows about one kernel language's parameters, in both directions: writing values
 * as code (papermill's translators) and reading the defaults of a `parameters` cell.
 */
import type { JSONValue } from '../../notebook/model';

/** A kernel language nbstage can write parameters for. */
export type KernelLanguage = 'python' | 'r' | 'bash';

/** A default read from the `parameters` cell. */
export interface ParameterDefault {
  /** Variable name. */
  name: string;
  /** The value when it is a literal; otherwise the expression's source text. */
  default: JSONValue;
  /** The literal's type; `expression` when the value is not a literal nbstage understands. */
  type: 'string' | 'integer' | 'float' | 'boolean' | 'null' | 'list' | 'dict' | 'expression';
  /** The comment at the end of the assignment line (help text), or null. */
  comment: string | null;
}

/** One assignment read from a `parameters` cell. */
export interface ParsedAssignment {
  /** The parameter and its default. */
  param: ParameterDefault;
  /** Offset just past the parsed assignment (its line end). */
  end: number;
}

/** One kernel language: its translator and its defaults parser. */
export interface ParameterLanguage {
  /** The language. */
  readonly language: KernelLanguage;
  /**
   * The variable a parameter name becomes in this language.
   *
   * @throws ParameterError when the language cannot use the name
   */
  variableName(name: string): string;
  /**
   * One assignment line (without its newline) setting `variable` to `value`.
   *
   * @param what - how error messages name the value (`parameter "x"`)
   * @throws ParameterError for a value the language cannot hold
   */
  assignment(variable: string, value: JSONValue, what: string): string;
  /**
   * Checks that an environment variable name can be set from this language (names that are
   * empty or hold `=` or NUL are refused for every language before this is asked).
   *
   * @throws ParameterError when it cannot
   */
  checkEnvName(name: string): void;
  /**
   * The lines that set `env` and change to `cwd` (when given); values and cwd are NUL-free.
   * With `unsetListedIn` (a variable name), they first unset every variable that variable of
   * the kernel's environment lists (comma-separated names), and it.
   */
  envSetupLines(env: [string, string][], cwd: string | undefined, unsetListedIn?: string): string[];
  /**
   * The simple top-level assignment at `lineStart` of a `parameters` cell's source, or null when
   * that line is not one.
   */
  parseAssignment(text: string, lineStart: number): ParsedAssignment | null;
}
