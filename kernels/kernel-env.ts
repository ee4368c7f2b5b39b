/**
 * Which variables of a process's environment a kernel may inherit when that process is not the
 * run the kernel serves: the base every kernel needs to start and work, one definition beside the
 * kernels for all who start them (the service's workers). A run's own environment reaches its
 * kernel through its setup code.
 */

/**
 * The base a kernel may inherit from a process it does not belong to: where programs and locales
 * are, the terminal and time zone, the dynamic linker's path and the CUDA/NVIDIA settings of the
 * host; never credentials or configuration of a run or a service.
 */
export function baseKernelVariable(name: string): boolean {
  return /^(PATH|HOME|LANG|LANGUAGE|LC_[A-Z]+|TZ|TERM|CUDA_[A-Z_]+|NVIDIA_[A-Z_]+|LD_LIBRARY_PATH)$/.test(
    name,
  );
}
