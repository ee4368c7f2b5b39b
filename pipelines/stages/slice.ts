/**
 * Stages of a notebook: a cell tagged `stage:<name>` starts stage `<name>`, which runs until the
 * next stage tag; cells before the first one are the preamble. Plans which code cells a run
 * executes for the stages it selects.
 */
import { NotebookInvalidError, StageNotFoundError } from '../errors';
import type { Cell, JSONValue, Notebook } from '../notebook/model';
import { cellTags } from '../notebook/model';

/** Prefix of the tag that starts a stage. */
export const STAGE_TAG_PREFIX = 'stage:';

/** Options of a stage, from the first cell's `metadata.nbstage`. */
export interface StageOptions {
  /** Jenkins agent label the stage runs on. */
  agent?: string;
  /** Number of GPUs the stage needs. */
  gpus?: number;
  /** Timeout of each cell of the stage, in seconds. */
  timeout?: number;
}

/** A stage of a notebook. */
export interface StageInfo {
  /** The stage name (the tag without `stage:`). */
  name: string;
  /** Index of the cell carrying the stage tag. */
  firstCell: number;
  /** The stage's options. */
  options: StageOptions;
}

/** The cells a run executes. */
export interface StagePlan {
  /** Indices of the code cells to execute, in notebook order (`skip-execution` cells included). */
  cells: number[];
  /** The stages that run, in notebook order. */
  stages: string[];
  /** For every cell of the notebook: its stage, or null for the preamble. */
  stageOf: (string | null)[];
  /** Options of each stage in `stages`. */
  options: Record<string, StageOptions>;
}

/** Options of {@link planStages}. */
export interface PlanOptions {
  /** Whether the preamble runs (true on a fresh kernel). */
  includePreamble: boolean;
}

/** The stage a cell starts, or null; a cell with two stage tags is invalid. */
function stageTag(cell: Cell, index: number): string | null {
  const names = cellTags(cell)
    .filter((t) => t.startsWith(STAGE_TAG_PREFIX))
    .map((t) => t.slice(STAGE_TAG_PREFIX.length).trim());
  if (names.length === 0) {
    return null;
  }
  if (names.length > 1) {
    throw new NotebookInvalidError(`cell ${index}: more than one stage tag (${names.join(', ')})`);
  }
  const name = names[0] ?? '';
  if (name === '') {
    throw new NotebookInvalidError(`cell ${index}: stage tag without a name (use stage:<name>)`);
  }
  return name;
}

function optionsOf(cell: Cell, index: number, stage: string): StageOptions {
  const meta = cell.metadata.nbstage;
  const options: StageOptions = {};
  if (meta === undefined) {
    return options;
  }
  const where = `cell ${index} (stage "${stage}"): metadata.nbstage`;
  const { agent, gpus, timeout } = meta as { [key: string]: JSONValue | undefined };
  if (agent !== undefined) {
    if (typeof agent !== 'string' || agent.trim() === '') {
      throw new NotebookInvalidError(`${where}.agent must be a non-empty string (an agent label)`);
    }
    options.agent = agent;
  }
  if (gpus !== undefined) {
    if (typeof gpus !== 'number' || !Number.isInteger(gpus) || gpus < 0) {
      throw new NotebookInvalidError(`${where}.gpus must be a non-negative integer`);
    }
    options.gpus = gpus;
  }
  if (timeout !== undefined) {
    if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
      throw new NotebookInvalidError(`${where}.timeout must be a number of seconds > 0`);
    }
    options.timeout = timeout;
  }
  return options;
}

/**
 * The stages of a notebook, in order.
 *
 * @throws NotebookInvalidError when a stage name is used twice, a cell has two stage tags, or a
 *   stage option has the wrong type (naming the cell and the field)
 */
export function listStages(nb: Notebook): StageInfo[] {
  const stages: StageInfo[] = [];
  const seen = new Map<string, number>();
  nb.cells.forEach((cell, index) => {
    const name = stageTag(cell, index);
    if (name === null) {
      return;
    }
    const earlier = seen.get(name);
    if (earlier !== undefined) {
      throw new NotebookInvalidError(
        `stage "${name}" is started twice (cells ${earlier} and ${index})`,
      );
    }
    seen.set(name, index);
    stages.push({ name, firstCell: index, options: optionsOf(cell, index, name) });
  });
  return stages;
}

/**
 * Plans a run: the code cells to execute, in notebook order. With `includePreamble` the code
 * cells before the first stage come first; then the cells of each selected stage. An empty
 * selection selects every stage (the whole notebook, with the preamble as `includePreamble`
 * says). Markdown and raw cells are never executed; `skip-execution` cells are kept (the
 * executor reports them as skipped).
 *
 * @param nb - the notebook
 * @param selected - stage names; empty for all
 * @param opts - whether the preamble runs
 * @throws StageNotFoundError for a stage the notebook does not have, listing those it has
 * @throws NotebookInvalidError as {@link listStages}
 */
export function planStages(nb: Notebook, selected: string[], opts: PlanOptions): StagePlan {
  const stages = listStages(nb);
  const known = new Set(stages.map((s) => s.name));
  for (const name of selected) {
    if (!known.has(name)) {
      const has =
        stages.length === 0 ? 'has no stages' : `has: ${stages.map((s) => s.name).join(', ')}`;
      throw new StageNotFoundError(`unknown stage "${name}" (notebook ${has})`);
    }
  }
  const wanted = selected.length === 0 ? known : new Set(selected);

  const stageOf: (string | null)[] = [];
  let current: string | null = null;
  const starts = new Map(stages.map((s) => [s.firstCell, s.name]));
  nb.cells.forEach((_, index) => {
    current = starts.get(index) ?? current;
    stageOf.push(current);
  });

  const cells: number[] = [];
  nb.cells.forEach((cell, index) => {
    if (cell.cell_type !== 'code') {
      return;
    }
    const stage = stageOf[index] ?? null;
    if (stage === null ? opts.includePreamble : wanted.has(stage)) {
      cells.push(index);
    }
  });

  const running = stages.filter((s) => wanted.has(s.name));
  return {
    cells,
    stages: running.map((s) => s.name),
    stageOf,
    options: Object.fromEntries(running.map((s) => [s.name, s.options])),
  };
}
