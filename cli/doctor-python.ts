/**
 * The Python `nbstage doctor` checks: the interpreter nbstage runs Jupyter with (probed once
 * with a small script), its version, and the Jupyter packages against kernels/requirements.txt.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { PythonSource } from '../kernels/python-env';
import { packageRoot } from '../kernels/python-env';
import { describeFailure, runCommand, type CommandResult } from './doctor-commands';
import type { DoctorCheck } from './doctor-report';

/** The Python packages nbstage needs in the interpreter it runs Jupyter with. */
const PYTHON_PACKAGES = ['jupyter_server', 'ipykernel', 'bash_kernel', 'nbformat'] as const;
const MIN_PYTHON: readonly [number, number] = [3, 9];
const SETUP_HINT = 'npm run setup (creates .venv with kernels/requirements.txt)';

interface PythonInfo {
  version: string;
  executable: string;
  packages: Record<string, string | null>;
}

/** What the probe script found, or why the interpreter could not run it. */
export interface PythonProbe {
  info?: PythonInfo;
  failure?: CommandResult;
}

/**
 * Finds the packages without importing them (importing nbformat alone takes a second): the
 * module must be findable on that interpreter's path, the version comes from its metadata.
 */
const PROBE_SCRIPT = `
import importlib.util, json, sys
from importlib import metadata
packages = {}
for name in ${JSON.stringify(PYTHON_PACKAGES)}:
    try:
        found = importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        found = False
    version = None
    if found:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "unknown"
    packages[name] = version
print(json.dumps({"version": "%d.%d.%d" % sys.version_info[:3],
                  "executable": sys.executable, "packages": packages}))
`;

/** Runs the probe script with `python`; never rejects. */
export async function probePython(python: string, env: NodeJS.ProcessEnv): Promise<PythonProbe> {
  const result = await runCommand(python, ['-c', PROBE_SCRIPT], env);
  if (!result.ok) {
    return { failure: result };
  }
  try {
    return { info: JSON.parse(result.stdout) as PythonInfo };
  } catch {
    return { failure: { ...result, ok: false, reason: 'printed something other than JSON' } };
  }
}

function sourceLabel(source: PythonSource): string {
  return source === 'env' ? 'from NBSTAGE_PYTHON' : source === 'venv' ? 'the .venv' : 'from PATH';
}

/** The report's rows for the interpreter and each Python package nbstage needs. */
export function pythonChecks(
  python: string,
  source: PythonSource,
  probe: PythonProbe,
): DoctorCheck[] {
  if (probe.info === undefined) {
    const fix =
      source === 'env'
        ? `point NBSTAGE_PYTHON at a working python with the packages of kernels/requirements.txt, or unset it and run ${SETUP_HINT}`
        : source === 'venv'
          ? `the .venv is broken: remove ${path.join(packageRoot(), '.venv')} and run npm run setup`
          : `run ${SETUP_HINT}; it needs python3 3.11+ (Debian/Ubuntu: apt-get install python3 python3-venv)`;
    const value = `${describeFailure(python, probe.failure)} (${sourceLabel(source)})`;
    return [
      { name: 'python', status: 'missing', value, fix },
      ...PYTHON_PACKAGES.map((name): DoctorCheck => ({
        name,
        status: 'missing',
        value: 'not checked: no working python',
      })),
    ];
  }
  const info = probe.info;
  const [major, minor] = info.version.split('.').map(Number);
  const oldPython = major < MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor < MIN_PYTHON[1]);
  const checks: DoctorCheck[] = [
    oldPython
      ? {
          name: 'python',
          status: 'missing',
          value: `${info.version} ${info.executable} (${sourceLabel(source)}; too old)`,
          fix: `use Python ${MIN_PYTHON.join('.')} or later (NBSTAGE_PYTHON, or ${SETUP_HINT})`,
        }
      : {
          name: 'python',
          status: 'ok',
          value: `${info.version} ${info.executable} (${sourceLabel(source)})`,
        },
  ];
  const pins = requirementPins();
  const installFix = installHint(python, source);
  for (const name of PYTHON_PACKAGES) {
    const version = info.packages[name] ?? null;
    const pin = pins.get(name);
    checks.push(
      version === null
        ? { name, status: 'missing', value: `not installed in ${info.executable}`, fix: installFix }
        : {
            name,
            status: 'ok',
            value:
              pin !== undefined && pin !== version ? `${version} (nbstage pins ${pin})` : version,
          },
    );
  }
  return checks;
}

/** How to install nbstage's Python requirements into the interpreter it uses. */
export function installHint(python: string, source: PythonSource): string {
  if (source !== 'env') {
    return SETUP_HINT;
  }
  const requirements = path.join(packageRoot(), 'kernels', 'requirements.txt');
  return `${python} -m pip install -r ${requirements}, or unset NBSTAGE_PYTHON to use the .venv of npm run setup`;
}

/** `name==version` pins of kernels/requirements.txt (empty when it cannot be read). */
function requirementPins(): Map<string, string> {
  const pins = new Map<string, string>();
  let text = '';
  try {
    text = fs.readFileSync(path.join(packageRoot(), 'kernels', 'requirements.txt'), 'utf8');
  } catch {
    return pins;
  }
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s#;]+)/.exec(line);
    if (match) {
      pins.set(match[1].toLowerCase().replace(/[-.]/g, '_'), match[2]);
    }
  }
  return pins;
}
