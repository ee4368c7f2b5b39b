/** The GPUs `nbstage doctor` reports: what `nvidia-smi` lists (no GPU is not an error). */
import { describeFailure, runCommand } from './doctor-commands';
import type { DoctorCheck, DoctorGpu } from './doctor-report';

/** GPUs `nvidia-smi` lists, and the report's row for them (no GPU is not an error). */
export async function detectGpus(
  env: NodeJS.ProcessEnv,
): Promise<{ gpus: DoctorGpu[]; check: DoctorCheck }> {
  const result = await runCommand(
    'nvidia-smi',
    ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'],
    env,
  );
  if (!result.ok) {
    return result.notFound
      ? { gpus: [], check: { name: 'gpu', status: 'optional', value: 'none' } }
      : {
          gpus: [],
          check: {
            name: 'gpu',
            status: 'optional',
            value: `none usable: ${describeFailure('nvidia-smi', result)}`,
            fix: 'check the NVIDIA driver (nvidia-smi must list the GPUs)',
          },
        };
  }
  const gpus = result.stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line): DoctorGpu => {
      const [name = '', driver = '', memory = ''] = line.split(',').map((part) => part.trim());
      return { name, driver, memory };
    });
  if (gpus.length === 0) {
    return { gpus, check: { name: 'gpu', status: 'optional', value: 'none' } };
  }
  const value = gpus
    .map((gpu, index) => `${index}: ${gpu.name}, ${gpu.memory}, driver ${gpu.driver}`)
    .join('; ');
  return { gpus, check: { name: 'gpu', status: 'ok', value } };
}
