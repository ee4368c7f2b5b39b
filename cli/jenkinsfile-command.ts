/**
 * `nbstage jenkinsfile <notebook>`: prints (or writes) a declarative Jenkinsfile with one stage
 * per notebook stage, built by the Jenkins bridge's generator.
 */
import { generateJenkinsfile } from '../jenkins-plugin-bridge/jenkinsfile/generate';
import { ExitCode } from '../pipelines/errors';
import { readNotebookFile, writeFileAtomic } from '../pipelines/notebook/io';

/** Flags of `nbstage jenkinsfile`. */
export interface JenkinsfileFlags {
  output?: string;
  library?: string;
  server?: string;
  credentialsId?: string;
  /** The notebook's path as the Jenkinsfile names it (default: the argument as given). */
  path?: string;
  baseline?: string;
  gate?: string[];
}

/** Generates the Jenkinsfile; resolves to the exit code (bad notebooks throw, exit 2). */
export async function jenkinsfileCommand(
  notebook: string,
  flags: JenkinsfileFlags,
): Promise<number> {
  const loaded = await readNotebookFile(notebook);
  const text = generateJenkinsfile(loaded.notebook, {
    notebookPath: flags.path ?? notebook,
    ...(flags.library === undefined ? {} : { library: flags.library }),
    ...(flags.server === undefined ? {} : { server: flags.server }),
    ...(flags.credentialsId === undefined ? {} : { credentialsId: flags.credentialsId }),
    ...(flags.baseline === undefined ? {} : { baseline: flags.baseline }),
    ...(flags.gate === undefined ? {} : { gates: flags.gate }),
  });
  if (flags.output === undefined || flags.output === '-') {
    process.stdout.write(text);
  } else {
    await writeFileAtomic(flags.output, text);
  }
  return ExitCode.ok;
}
