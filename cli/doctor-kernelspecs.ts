/**
 * The kernelspecs `nbstage doctor` checks: those the Python environment offers
 * (`jupyter kernelspec list`), and whether the ones nbstage needs are among them.
 */
import type { PythonSource } from '../kernels/python-env';
import { describeFailure, runCommand, type CommandResult } from './doctor-commands';
import { installHint, type PythonProbe } from './doctor-python';
import type { DoctorCheck, DoctorKernelspec } from './doctor-report';

/** Kernelspecs nbstage needs: python3 for notebooks, bash for `%sh` paragraphs. */
const REQUIRED_KERNELSPECS = ['python3', 'bash'] as const;

/** The kernelspecs found, or why they could not be listed. */
export interface KernelspecList {
  specs: DoctorKernelspec[];
  failure?: CommandResult;
}

interface KernelspecJson {
  kernelspecs?: Record<
    string,
    { resource_dir?: string; spec?: { language?: string; display_name?: string } }
  >;
}

/** Lists the kernelspecs `python -m jupyter kernelspec list --json` finds; never rejects. */
export async function listKernelspecs(
  python: string,
  env: NodeJS.ProcessEnv,
): Promise<KernelspecList> {
  const result = await runCommand(python, ['-m', 'jupyter', 'kernelspec', 'list', '--json'], env);
  if (!result.ok) {
    return { specs: [], failure: result };
  }
  try {
    const parsed = JSON.parse(result.stdout) as KernelspecJson;
    const specs = Object.entries(parsed.kernelspecs ?? {}).map(
      ([name, entry]): DoctorKernelspec => ({
        name,
        language: entry.spec?.language ?? '',
        displayName: entry.spec?.display_name ?? name,
        resourceDir: entry.resource_dir ?? '',
      }),
    );
    specs.sort((a, b) => a.name.localeCompare(b.name));
    return { specs };
  } catch {
    return {
      specs: [],
      failure: { ...result, ok: false, reason: 'printed something other than JSON' },
    };
  }
}

/** The report's row for the kernelspecs: the ones nbstage needs, and how to install those missing. */
export function kernelspecCheck(
  python: string,
  source: PythonSource,
  probe: PythonProbe,
  list: KernelspecList,
): DoctorCheck {
  const name = 'kernelspecs';
  if (probe.info === undefined) {
    return {
      name,
      status: 'missing',
      value: 'not checked: no working python',
    };
  }
  if (list.failure !== undefined) {
    return {
      name,
      status: 'missing',
      value: `jupyter kernelspec list failed: ${describeFailure('jupyter', list.failure)}`,
      fix: installHint(python, source),
    };
  }
  const offered = list.specs.map((spec) => spec.name);
  const absent = REQUIRED_KERNELSPECS.filter((spec) => !offered.includes(spec));
  const value = offered.length > 0 ? offered.join(', ') : 'none';
  if (absent.length === 0) {
    return { name, status: 'ok', value };
  }
  const installers: Record<(typeof REQUIRED_KERNELSPECS)[number], string> = {
    python3: `${python} -m ipykernel install --sys-prefix`,
    bash: `${python} -m bash_kernel.install --sys-prefix`,
  };
  return {
    name,
    status: 'missing',
    value: `${value} (missing: ${absent.join(', ')})`,
    fix: absent.map((spec) => installers[spec]).join(' && '),
  };
}
