/**
 * The `nbstage` command: parses the command line and dispatches to the subcommands. Usage errors
 * exit 2 with a one-line reason on stderr. Each command's module loads only when that command
 * runs, so `nbstage --version` and an embedded `nbstage run` load nothing of the service.
 */
import { Command, CommanderError } from 'commander';
import { nbstageVersion } from '../pipelines/paths/package-root';
import { ExitCode, NbstageError } from '../pipelines/errors';
import { parseSize } from '../pipelines/executor/output-limits';
import type { HistoryFlags, ShowFlags } from './history-commands';
import type { JenkinsfileFlags } from './jenkinsfile-command';
import type { RunFlags } from './run-command';
import type { ReproduceFlags } from './reproduce-command';
import type { FetchFlags } from './fetch-command';
import type { ServeFlags } from './serve-command';
import type { SubmitFlags } from './submit-command';
import type { SessionCloseFlags } from './session-command';
import type { WorkerFlags } from './worker-command';

/** `--sandbox` on run, serve and worker, with its default there. */
function sandboxOption(fallback: 'auto' | 'off'): [string, string, string] {
  return [
    '--sandbox <mode>',
    'kernels in a bubblewrap sandbox each: auto (where the machine allows it), required, off',
    fallback,
  ];
}

/** `--sandbox-bind PATH[:ro]` (repeatable). */
const sandboxBindOption: [string, string] = [
  '--sandbox-bind <path[:ro]>',
  'a path every sandbox shows, read-write or with :ro read-only (repeatable)',
];

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `-p NAME=VALUE` and `-r NAME=RAW`, as `nbstage run` and `nbstage submit` take them. */
function parameterOptions(command: Command): Command {
  return command
    .option(
      '-p, --parameter <NAME=VALUE>',
      'parameter; VALUE parsed as JSON when valid JSON',
      collect,
      [],
    )
    .option('-r, --raw-parameter <NAME=RAW>', 'parameter kept as a string', collect, []);
}

function seconds(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) {
      throw new CommanderError(
        ExitCode.badInput,
        'nbstage.usage',
        `${name} must be a positive number of seconds, got "${value}"`,
      );
    }
    return n;
  };
}

function tolerance(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
      throw new CommanderError(
        ExitCode.badInput,
        'nbstage.usage',
        `${name} must be a number >= 0 such as 1e-6, got "${value}"`,
      );
    }
    return n;
  };
}

function size(name: string) {
  return (value: string): number => {
    try {
      return parseSize(value, name);
    } catch (err) {
      throw new CommanderError(ExitCode.badInput, 'nbstage.usage', (err as Error).message);
    }
  };
}

/** Connection chatter @jupyterlab/services prints with console.warn ("Connection lost, ..."). */
const LIBRARY_WARNINGS = /^(Connection lost, reconnecting in|Starting WebSocket)/;

/**
 * @jupyterlab/services reports connection chatter with console.debug, which Node prints on
 * stdout, where it would mix with the notebook's outputs and break `--json`, and with
 * console.warn, which would land in the run's console (a Jenkins log). Both go to stderr with
 * NBSTAGE_DEBUG=1 and nowhere otherwise; nbstage reports a lost kernel itself.
 */
function quietLibraryDebug(): void {
  const debug =
    process.env.NBSTAGE_DEBUG === '1'
      ? (...args: unknown[]) => process.stderr.write(`${args.map(String).join(' ')}\n`)
      : () => undefined;
  console.debug = debug;
  const warn = console.warn.bind(console);
  console.warn = (...args: unknown[]) =>
    (typeof args[0] === 'string' && LIBRARY_WARNINGS.test(args[0]) ? debug : warn)(...args);
}

/** Folder variables for which an empty value means "not set" (the default folder). */
const FOLDER_VARIABLES = ['NBSTAGE_RUNTIME_DIR'] as const;

/**
 * Removes folder variables set to the empty string (`NBSTAGE_RUNTIME_DIR=`), so every reader
 * falls back to the default folder instead of trying to create `''`.
 */
function emptyFoldersUnset(env: NodeJS.ProcessEnv): void {
  for (const name of FOLDER_VARIABLES) {
    if (env[name] !== undefined && env[name].trim() === '') {
      delete env[name];
    }
  }
}

/** Runs the CLI with `argv` (without node and script) and resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  quietLibraryDebug();
  emptyFoldersUnset(process.env);
  let exitCode: number = ExitCode.ok;
  const program = new Command();
  program
    .name('nbstage')
    .description('Run notebook cells as Jenkins pipeline stages on real Jupyter kernels')
    .version(nbstageVersion())
    .exitOverride()
    .configureOutput({
      writeErr: (text) =>
        process.stderr.write(text.startsWith('error:') ? `nbstage: ${text}` : text),
    })
    .showSuggestionAfterError(true);

  const run = program
    .command('run')
    .description('execute a notebook (.ipynb) or Zeppelin note (.zpln, note.json)')
    .argument('<notebook>', 'the notebook to run')
    .option(
      '-o, --output <file>',
      'executed notebook (default: <name>.executed.ipynb beside the input)',
    )
    .option('--junit <file>', 'JUnit XML, one test case per code cell')
    .option('--html <file>', 'standalone HTML report (assets in <name>_files/)')
    .option('--zeppelin-out <file>', 'executed note in Zeppelin format');
  parameterOptions(run)
    .option('--params-file <file>', 'parameters from a JSON or YAML file')
    .option(
      '--secret <NAME=VALUE>',
      'secret: an environment variable in the kernel, masked everywhere',
      collect,
      [],
    )
    .option('-k, --kernel <name>', "kernelspec (default: the notebook's)")
    .option(
      '--stage <name>',
      'run only this stage (repeatable); the preamble runs first on a fresh kernel',
      collect,
      [],
    )
    .option(
      '--session <id>',
      'reuse the kernel of this session (on the shared background Jupyter server)',
    )
    .option(...sandboxOption('off'))
    .option(...sandboxBindOption, collect, [])
    .option('--cell-timeout <s>', 'seconds one cell may run', seconds('--cell-timeout'))
    .option('--timeout <s>', 'seconds the whole run may take', seconds('--timeout'))
    .option('--cwd <dir>', "working directory of the kernel (default: the notebook's folder)")
    .option('--allow-errors', 'keep running after a failing cell')
    .option(
      '--max-cell-output <size>',
      'output a cell keeps in the notebook and reports, e.g. 16MiB; 0 for no limit (default 4 MiB, NBSTAGE_MAX_CELL_OUTPUT)',
      size('--max-cell-output'),
    )
    .option(
      '--max-run-output <size>',
      'output the whole run streams and keeps; 0 for no limit (default 32 MiB, NBSTAGE_MAX_RUN_OUTPUT)',
      size('--max-run-output'),
    )
    .option(
      '--memory <size>',
      "cap the kernel's memory, e.g. 4GiB: an allocation over it fails (MemoryError); 0 for none",
      size('--memory'),
    )
    .option('--job <name>', 'job name recorded in the run')
    .option('--build <n>', 'build number recorded in the run')
    .option('--artifacts <dir>', 'directory exported to the notebook as $NBSTAGE_ARTIFACTS')
    .option('--server <url>', 'submit to an nbstage service instead of running embedded')
    .option(
      '--workspace <dir>',
      'with --server: the folder whose files travel with the run (default $WORKSPACE, the git work tree, the notebook folder)',
    )
    .option(
      '--exclude <glob>',
      'with --server: leave matching files out of the workspace (gitignore syntax; repeatable)',
      collect,
      [],
    )
    .option(
      '--outputs <glob>',
      'with --server: bring back only the outputs matching (gitignore syntax; repeatable)',
      collect,
      [],
    )
    .option('--no-outputs', 'with --server: bring nothing the run wrote back into the workspace')
    .option(
      '--max-workspace <size>',
      'with --server: refuse a workspace larger than this (default 4 GiB)',
      size('--max-workspace'),
    )
    .option(
      '--baseline <spec>',
      'check outputs against a baseline: stored (the outputs saved in the notebook, as nbval), last-success, a build number (with --server), or an executed .ipynb; differences are exit 6',
    )
    .option(
      '--rtol <x>',
      'relative tolerance of numbers compared with the baseline (default 1e-6)',
      tolerance('--rtol'),
    )
    .option(
      '--gate <expr>',
      "a metric gate: 'accuracy >= 0.9', 'loss <= baseline * 1.05' (repeatable); a failing one is exit 6",
      collect,
      [],
    )
    .option('--json', 'print one JSON summary on stdout at the end instead of the outputs')
    .option('--no-progress', 'no progress bar')
    .option(
      '--color',
      'ANSI colours on the console (default: when stdout is a TTY or FORCE_COLOR is set)',
    )
    .option('--no-color', 'no ANSI colours')
    .action(async (notebook: string, flags: RunFlags) => {
      // The kernel starts first: it takes longer than loading and checking everything else.
      const early = await import('../kernels/zmq/early-launch');
      await early.launchEarly({ notebook, ...flags, env: process.env, cwd: process.cwd() });
      try {
        const { runCommand } = await import('./run-command');
        exitCode = await runCommand(notebook, flags);
      } finally {
        await early.abandonEarlyLaunch();
      }
    });

  program
    .command('doctor')
    .description('say what is installed, what is missing and how to fix it')
    .option('--json', 'one JSON object')
    .action(async (flags: { json?: boolean }) => {
      const { runDoctor } = await import('./doctor');
      exitCode = await runDoctor({ stdout: process.stdout, json: flags.json });
    });

  const homeHelp = 'nbstage home holding history.git (default: NBSTAGE_HOME or ./.nbstage)';
  program
    .command('history')
    .description("list a job's stored builds, newest first")
    .argument('<job>', 'the Jenkins job full name (folders with /)')
    .option('--home <dir>', homeHelp)
    .option('--json', 'one JSON object')
    .action(async (job: string, flags: HistoryFlags) => {
      const { historyCommand } = await import('./history-commands');
      exitCode = await historyCommand(job, flags);
    });

  program
    .command('show')
    .description("summarize a build's stored version, or write its notebook")
    .argument('<job>', 'the Jenkins job full name')
    .argument('<build>', 'the build number')
    .option('--home <dir>', homeHelp)
    .option('-o, --output <file>', 'write the executed notebook to this file (- for stdout)')
    .option('--json', 'one JSON object')
    .action(async (job: string, build: string, flags: ShowFlags) => {
      const { showCommand } = await import('./history-commands');
      exitCode = await showCommand(job, build, flags);
    });

  program
    .command('diff')
    .description('what changed between two builds: sources, outputs, metrics, status')
    .argument('<job>', 'the Jenkins job full name')
    .argument('<build-a>', 'the older build')
    .argument('<build-b>', 'the newer build')
    .option('--home <dir>', homeHelp)
    .option('--json', 'one JSON object')
    .action(async (job: string, buildA: string, buildB: string, flags: HistoryFlags) => {
      const { diffCommand } = await import('./history-commands');
      exitCode = await diffCommand(job, buildA, buildB, flags);
    });

  program
    .command('reproduce')
    .description(
      'run a stored build again from its recorded notebook, parameters and inputs; compare',
    )
    .argument('<job>', 'the Jenkins job full name')
    .argument('<build>', 'the build to run again (on the service it becomes <build>-repro-N)')
    .option(
      '--server <url>',
      'the service, where it runs as <build>-repro-N (default NBSTAGE_URL; token in NBSTAGE_TOKEN)',
    )
    .option('--home <dir>', `without a service, ${homeHelp}: it runs here, not stored`)
    .option(
      '--secret <NAME=VALUE>',
      'a secret the build ran with (never stored, so given again; NAME alone reads $NAME)',
      collect,
      [],
    )
    .option(
      '--rtol <x>',
      "relative tolerance of numbers (default: the build's, else 1e-6)",
      tolerance('--rtol'),
    )
    .option('-o, --output <file>', "write the reproduction's executed notebook here")
    .option('--junit <file>', 'write its JUnit XML here')
    .option('--html <file>', 'write its HTML report here')
    .option('--json', 'one JSON summary object on stdout')
    .option('--no-color', 'no ANSI colours')
    .action(async (job: string, build: string, flags: ReproduceFlags) => {
      const { reproduceCommand } = await import('./reproduce-command');
      exitCode = await reproduceCommand(job, build, flags);
    });

  program
    .command('jenkinsfile')
    .description('print a declarative Jenkinsfile with one stage per notebook stage')
    .argument('<notebook>', 'the notebook (.ipynb or Zeppelin note)')
    .option('-o, --output <file>', 'write it to this file instead of stdout')
    .option('--library <name>', 'the shared library as named in Jenkins', 'nbstage')
    .option('--server <url>', 'nbstage service URL for the agents (default: their NBSTAGE_URL)')
    .option('--credentials-id <id>', 'Jenkins credentials with the nbstage token', 'nbstage-token')
    .option('--path <path>', "the notebook's path in the workspace (default: as given)")
    .option('--baseline <spec>', "each stage's baseline: stored, last-success or a build number")
    .option('--gate <expr>', 'a metric gate of the last stage (repeatable)', collect, [])
    .action(async (notebook: string, flags: JenkinsfileFlags) => {
      const { jenkinsfileCommand } = await import('./jenkinsfile-command');
      exitCode = await jenkinsfileCommand(notebook, flags);
    });

  program
    .command('serve')
    .description('the service: HTTP API, run streams, queue, workers and the version store')
    .option('--port <n>', 'port (0: any free one)', '8080')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--home <dir>', 'store, tokens and runs (default NBSTAGE_HOME or ./.nbstage)')
    .option(
      '--redis <url>',
      'queue on Redis (BullMQ) so `nbstage worker` processes can take runs (default NBSTAGE_REDIS; a password belongs there, not on the command line)',
    )
    .option('--workers <n>', 'runs this service executes at once itself (0: only queue)', '2')
    .option('--labels <a,b>', "labels of this service's own workers")
    .option(...sandboxOption('auto'))
    .option(...sandboxBindOption, collect, [])
    .action(async (flags: ServeFlags) => {
      const { serveCommand } = await import('./serve-command');
      exitCode = await serveCommand(flags, nbstageVersion());
    });

  program
    .command('worker')
    .description('take runs from the Redis queue on this host (GPU agents)')
    .option('--redis <url>', 'the queue (default NBSTAGE_REDIS)')
    .option('--labels <a,b>', 'labels of this worker (its GPUs add gpu and the model)')
    .option('--concurrency <n>', 'runs at once', '1')
    .option(
      '--workspace-root <dir>',
      'run workspaces of this host under DIR in place: no copy, no upload (repeatable)',
      collect,
      [],
    )
    .option(...sandboxOption('auto'))
    .option(...sandboxBindOption, collect, [])
    .action(async (flags: WorkerFlags) => {
      const { workerCommand } = await import('./worker-command');
      exitCode = await workerCommand(flags);
    });

  program
    .command('session')
    .description('sessions of the service (kernels shared by several runs)')
    .command('close')
    .description("end a session: its kernel is shut down once the session's runs are done")
    .argument('<id>', 'the session (in Jenkins: BUILD_TAG by default)')
    .option('--server <url>', 'the service (default NBSTAGE_URL; token in NBSTAGE_TOKEN)')
    .action(async (id: string, flags: SessionCloseFlags) => {
      const { sessionCloseCommand } = await import('./session-command');
      exitCode = await sessionCloseCommand(id, flags);
    });

  const submit = program
    .command('submit')
    .description(
      'submit a notebook as a Jenkins job through the service; follow it and stream its console',
    )
    .argument('<notebook>', 'the notebook (.ipynb or Zeppelin note)')
    .requiredOption('--job <name>', 'the Jenkins job full name (folders with /)')
    .option('--server <url>', 'the service (default NBSTAGE_URL; token in NBSTAGE_TOKEN)');
  parameterOptions(submit)
    .option('--agent <label>', 'agent label of stages whose metadata names none')
    .action(async (notebook: string, flags: SubmitFlags) => {
      const { submitCommand } = await import('./submit-command');
      exitCode = await submitCommand(notebook, flags);
    });

  program
    .command('fetch')
    .description('write the notebook the service stores for a submitted job')
    .argument('<job>', 'the Jenkins job full name')
    .option('-o, --output <file>', 'where to write it (default: its submitted name; - for stdout)')
    .option('--server <url>', 'the service (default NBSTAGE_URL; token in NBSTAGE_TOKEN)')
    .action(async (job: string, flags: FetchFlags) => {
      const { fetchCommand } = await import('./fetch-command');
      exitCode = await fetchCommand(job, flags);
    });

  const token = program
    .command('token')
    .description("create, list and revoke the service's API tokens");
  if (argv[0] === 'token') {
    // Its subcommands (and the service's role names they offer) load only when asked for.
    const { addTokenCommands } = await import('./token-commands');
    addTokenCommands(token, (code) => {
      exitCode = code;
    });
  }

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
      ) {
        return ExitCode.ok;
      }
      if (err.code === 'nbstage.usage') {
        process.stderr.write(`nbstage: ${err.message}\n`);
      }
      return ExitCode.badInput;
    }
    if (err instanceof NbstageError) {
      process.stderr.write(`nbstage: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`nbstage: internal error: ${(err as Error).stack ?? String(err)}\n`);
    return ExitCode.cellFailed;
  }
  return exitCode;
}
