/**
 * The Jenkinsfile generator behind `nbstage jenkinsfile` and `nbstage submit`: a declarative
 * pipeline with one stage per notebook stage (`agent { label ... }` from the stage's
 * `metadata.nbstage.agent`), Jenkins build parameters from the notebook's `parameters` cell, a
 * pipeline `timeout` from the notebook's `metadata.nbstage.timeout`, and the shared library loaded
 * by name. Each stage calls the library's `nbstageRun` step (with the checks asked for: the
 * baseline in every stage, the gates in the last); nothing else is assumed installed.
 */
import { parseGate } from '../../pipelines/checks/gates';
import { fileBaseline } from '../../pipelines/checks/plan';
import { NotebookInvalidError } from '../../pipelines/errors';
import { ValidationError } from '../../pipelines/errors/classes';
import type { JSONValue, Notebook } from '../../pipelines/notebook/model';
import { parametersCellDefaults, type ParameterDefault } from '../../pipelines/parameters/defaults';
import { listStages, type StageInfo } from '../../pipelines/stages/slice';

/** What {@link generateJenkinsfile} needs besides the notebook. */
export interface JenkinsfileOptions {
  /** Path of the notebook in the agent's workspace (the file nbstageRun runs). */
  notebookPath: string;
  /** Name of the shared library as configured in Jenkins; default 'nbstage'. */
  library?: string;
  /** nbstage service URL the agents use; default: the pipeline's NBSTAGE_URL environment. */
  server?: string;
  /** Jenkins credentials id holding the nbstage token; default 'nbstage-token'. */
  credentialsId?: string;
  /** When set, every stage first fetches the notebook the service stores for this job (`nbstage fetch`). */
  fetchJob?: string;
  /** nbstageRun's `baseline:` for every stage: `stored`, `last-success` or a build number. */
  baseline?: string;
  /** nbstageRun's `gate:` for the last stage (where a pipeline's evaluation usually records its metrics). */
  gates?: readonly string[];
}

/** Default name of the shared library in Jenkins' "Global Pipeline Libraries". */
export const DEFAULT_LIBRARY = 'nbstage';

/** Default id of the Jenkins "Secret text" credentials holding the nbstage token. */
export const DEFAULT_CREDENTIALS_ID = 'nbstage-token';

/** A Groovy single-quoted string literal of `text` (no interpolation happens in it). */
export function groovyString(text: string): string {
  const named: Record<string, string> = {
    '\\': '\\\\',
    "'": "\\'",
    '\n': '\\n',
    '\r': '\\r',
    '\t': '\\t',
  };
  let out = '';
  for (const c of text) {
    const code = c.charCodeAt(0);
    out +=
      named[c] ??
      (code < 0x20 || code === 0x2028 || code === 0x2029
        ? `\\u${code.toString(16).padStart(4, '0')}`
        : c);
  }
  return `'${out}'`;
}

/** The notebook's kernel language, for reading its `parameters` cell. */
function languageOf(nb: Notebook): string {
  return (
    nb.metadata.kernelspec?.language ??
    nb.metadata.language_info?.name ??
    (nb.metadata.kernelspec?.name?.startsWith('bash') === true ? 'bash' : 'python')
  );
}

/**
 * The notebook's parameters that become Jenkins build parameters: the defaults of its
 * `parameters` cell, read in its kernel language, whose names are identifiers.
 *
 * @throws ParameterError when nbstage cannot read parameters in the kernel's language
 */
export function notebookParameters(nb: Notebook): ParameterDefault[] {
  return parametersCellDefaults(nb, languageOf(nb)).filter((p) =>
    /^[A-Za-z_][A-Za-z0-9_]*$/.test(p.name),
  );
}

/** A notebook parameter as a Jenkins build parameter. */
export interface JenkinsParameter {
  name: string;
  /** Booleans are boolean parameters; everything else is a string parameter. */
  kind: 'string' | 'boolean';
  /** The default as Jenkins shows it (`true`/`false` for booleans). */
  defaultValue: string;
  /** The comment of the assignment, or `notebook parameter <name>`. */
  description: string;
}

/**
 * How Jenkins declares a notebook parameter: booleans as boolean parameters, everything else as
 * strings (the text of a string, JSON for numbers, null, lists and dicts, empty for expressions
 * nbstage cannot evaluate).
 */
export function jenkinsParameter(p: ParameterDefault): JenkinsParameter {
  return {
    name: p.name,
    kind: p.type === 'boolean' ? 'boolean' : 'string',
    defaultValue:
      p.type === 'boolean'
        ? String(p.default === true)
        : p.type === 'string'
          ? String(p.default)
          : p.type === 'expression'
            ? ''
            : JSON.stringify(p.default as JSONValue),
    description: p.comment ?? `notebook parameter ${p.name}`,
  };
}

/** The Jenkinsfile declaration of a notebook parameter. */
function parameterDeclaration(p: ParameterDefault): string[] {
  const { name, kind, defaultValue, description } = jenkinsParameter(p);
  const value = kind === 'boolean' ? defaultValue : groovyString(defaultValue);
  const declaration = kind === 'boolean' ? 'booleanParam' : 'string';
  const args = [
    `name: ${groovyString(name)}`,
    `defaultValue: ${value}`,
    `description: ${groovyString(description)}`,
  ];
  return call(declaration, args, 2);
}

/** Lines are kept within CodeNarc's 120 columns (with room to spare). */
const MAX_LINE = 110;

/** `name(a, b)` on one line when it fits at `indent` levels, else one argument per line. */
function call(name: string, args: string[], indent: number): string[] {
  const oneLine = `${name}(${args.join(', ')})`;
  if (indent * 4 + oneLine.length <= MAX_LINE) {
    return [oneLine];
  }
  return [`${name}(`, ...args.map((a, i) => `    ${a}${i === args.length - 1 ? '' : ','}`), ')'];
}

/** A map argument `key: [a: x, b: y]`, over several lines when it does not fit at `indent`. */
function mapArgument(key: string, entries: string[], indent: number): string {
  const oneLine = `${key}: [${entries.join(', ')}]`;
  if (indent * 4 + oneLine.length + 1 <= MAX_LINE) {
    return oneLine;
  }
  const pad = '    '.repeat(indent);
  return `${key}: [\n${entries.map((e) => `${pad}    ${e}`).join(',\n')}\n${pad}]`;
}

/** Name of the stash holding a submitted job's notebook, fetched once for every stage. */
export const NOTEBOOK_STASH = 'nbstage-notebook';

/**
 * The map literal passed as nbstageRun's `parameters` (parsed as JSON when they are JSON, like
 * `-p`) and `rawParameters` (always strings, like `-r`): string-typed defaults stay strings even
 * when a user types `123`. An `expression` default is only sent when the user gave a value.
 */
function parameterMaps(params: ParameterDefault[]): { parsed: string[]; raw: string[] } {
  return {
    parsed: params
      .filter((p) => p.type !== 'string' && p.type !== 'expression')
      .map((p) => `${p.name}: params.${p.name}`),
    raw: params.filter((p) => p.type === 'string').map((p) => `${p.name}: params.${p.name}`),
  };
}

/** A positive number of seconds from metadata, or undefined; names the field when invalid. */
function seconds(value: JSONValue | undefined, where: string): number | undefined {
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new NotebookInvalidError(`${where} must be a positive number of seconds`);
  }
  return Math.ceil(value);
}

/**
 * The check options, refused as bad input before anything is written: every gate must parse, and
 * the baseline must be one the service resolves (nbstageRun runs through it, where a notebook
 * file is no baseline).
 *
 * @throws ValidationError naming the option
 */
function checkOptions(options: JenkinsfileOptions): void {
  (options.gates ?? []).forEach((gate) => parseGate(gate, 'gate'));
  const baseline = options.baseline;
  if (baseline !== undefined && (baseline.trim() === '' || fileBaseline(baseline))) {
    throw new ValidationError(
      'baseline',
      `baseline ${JSON.stringify(baseline)}: nbstageRun runs through the service, whose baseline ` +
        "is 'stored', 'last-success' or a build number, not a notebook file",
    );
  }
}

/**
 * A declarative Jenkinsfile for the notebook: one stage per notebook stage (or one stage for a
 * notebook without stages), each on the agent its metadata names.
 *
 * @throws NotebookInvalidError for invalid stage metadata or a bad `metadata.nbstage.timeout`
 * @throws ValidationError for a malformed gate or a notebook file as the baseline
 */
export function generateJenkinsfile(notebook: Notebook, options: JenkinsfileOptions): string {
  checkOptions(options);
  const library = options.library ?? DEFAULT_LIBRARY;
  const credentialsId = options.credentialsId ?? DEFAULT_CREDENTIALS_ID;
  const stages: StageInfo[] = listStages(notebook);
  const params = notebookParameters(notebook);
  const timeout = seconds(notebook.metadata.nbstage?.timeout, 'metadata.nbstage.timeout');
  const maps = parameterMaps(params);

  const lines: string[] = [];
  const add = (indent: number, text: string): void => {
    lines.push(`${'    '.repeat(indent)}${text}`);
  };
  add(
    0,
    `// Generated by \`nbstage jenkinsfile\` from ${options.notebookPath.replace(/[\r\n]/g, ' ')}.`,
  );
  add(
    0,
    '// Edit the notebook (stage tags, metadata.nbstage, the parameters cell) and generate again.',
  );
  add(0, `@Library(${groovyString(library)}) _`);
  add(0, '');
  add(0, 'pipeline {');
  add(1, 'agent none');
  if (timeout !== undefined) {
    add(1, 'options {');
    add(2, `timeout(time: ${timeout}, unit: 'SECONDS')`);
    add(1, '}');
  }
  if (params.length > 0) {
    add(1, 'parameters {');
    params.forEach((p) => parameterDeclaration(p).forEach((line) => add(2, line)));
    add(1, '}');
  }
  if (options.server !== undefined) {
    add(1, 'environment {');
    add(2, `NBSTAGE_URL = ${groovyString(options.server)}`);
    add(1, '}');
  }
  add(1, 'stages {');
  if (options.fetchJob !== undefined) {
    // A submitted notebook is in no SCM: fetch it once from the service, hand it to every stage.
    add(2, "stage('notebook') {");
    add(3, 'agent any');
    add(3, 'steps {');
    const fetchArgs = [
      `job: ${groovyString(options.fetchJob)}`,
      `notebook: ${groovyString(options.notebookPath)}`,
      `credentialsId: ${groovyString(credentialsId)}`,
    ];
    call('nbstageFetch', fetchArgs, 4).forEach((line) => add(4, line));
    const stashArgs = [
      `name: ${groovyString(NOTEBOOK_STASH)}`,
      `includes: ${groovyString(options.notebookPath)}`,
    ];
    call('stash', stashArgs, 4).forEach((line) => add(4, line));
    add(3, '}');
    add(2, '}');
  }
  const plan: { title: string; stage: string | null; agent?: string; cellTimeout?: number }[] =
    stages.length === 0
      ? [{ title: options.notebookPath.replace(/^.*\//, '').replace(/\.[^.]+$/, ''), stage: null }]
      : stages.map((s) => ({
          title: s.name,
          stage: s.name,
          agent: s.options.agent,
          cellTimeout: s.options.timeout,
        }));
  for (const s of plan) {
    add(2, `stage(${groovyString(s.title)}) {`);
    add(3, s.agent === undefined ? 'agent any' : `agent { label ${groovyString(s.agent)} }`);
    add(3, 'steps {');
    if (options.fetchJob !== undefined) {
      add(4, `unstash ${groovyString(NOTEBOOK_STASH)}`);
    }
    const args = [`notebook: ${groovyString(options.notebookPath)}`];
    if (s.stage !== null) {
      args.push(`stage: ${groovyString(s.stage)}`);
    }
    if (maps.parsed.length > 0) {
      args.push(mapArgument('parameters', maps.parsed, 5));
    }
    if (maps.raw.length > 0) {
      args.push(mapArgument('rawParameters', maps.raw, 5));
    }
    if (s.cellTimeout !== undefined) {
      args.push(`cellTimeout: ${s.cellTimeout}`);
    }
    if (options.baseline !== undefined) {
      args.push(`baseline: ${groovyString(options.baseline)}`);
    }
    const gates = options.gates ?? [];
    if (gates.length > 0 && s === plan[plan.length - 1]) {
      args.push(
        gates.length === 1
          ? `gate: ${groovyString(gates[0])}`
          : `gate: [${gates.map(groovyString).join(', ')}]`,
      );
    }
    args.push(`credentialsId: ${groovyString(credentialsId)}`);
    add(4, 'nbstageRun(');
    args.forEach((arg, i) => add(5, `${arg}${i === args.length - 1 ? '' : ','}`));
    add(4, ')');
    add(3, '}');
    add(2, '}');
  }
  add(1, '}');
  add(0, '}');
  return `${lines.join('\n')}\n`;
}
