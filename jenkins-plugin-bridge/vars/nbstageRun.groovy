// nbstageRun: runs a notebook (or some of its stages) on the nbstage service from this agent,
// streaming every output to the console, then publishes what Jenkins shows natively: JUnit (one
// test case per cell), the archived executed notebook, report and artifacts, the HTML report
// (with the HTML Publisher plugin) and a build description linking to the stored version.
//
//   nbstageRun(notebook: 'train.ipynb', stage: 'train', parameters: [lr: params.lr],
//              secrets: ['wandb-key'], credentialsId: 'nbstage-token')
//
// The run sees this agent's workspace: nbstage sends the files under $WORKSPACE (by content:
// only what the service lacks), the kernel works in the notebook's folder there, and what the
// run writes comes back into the workspace, also when a cell fails. The step's own nbstage/
// folder at the root of the workspace does not travel. Arguments for it, all optional:
//   exclude:   'data/raw/' or a list: left out of what is sent (gitignore syntax, relative to
//              the workspace root, as .nbstageignore)
//   outputs:   'model/' or a list: only what the run wrote that matches comes back
//   noOutputs: true: nothing the run wrote comes back
//   workspace: the folder that travels (default: nbstage's choice, $WORKSPACE)
//
// Checks, all optional: the run's outputs and metrics against a baseline. A failed check (exit
// 6) marks the stage UNSTABLE, not FAILURE, with one JUnit failure per check:
//   baseline:       'stored' (the outputs saved in the notebook, as nbval), 'last-success' (this
//                   job's newest build whose checks passed), a build number, or an .ipynb path
//   rtol:           relative tolerance of numbers in outputs (default 1e-6)
//   gate:           'accuracy >= 0.9', 'loss <= baseline * 1.05', or a list of such gates
//   onCheckFailure: 'UNSTABLE' (default) or 'FAILURE'
//
// Aborting the build sends SIGTERM to the `sh` step: nbstage cancels the remote run and writes
// the partial notebook within Jenkins' 5 s, and it is still archived.

/**
 * Runs the notebook; returns the exit code of `nbstage run` (0 on success). A non-zero code
 * fails the stage (cancelled: aborts it) unless `allowErrors` is set and a cell failed; a failed
 * check (6) marks it UNSTABLE unless `onCheckFailure: 'FAILURE'`.
 */
int call(Map args = [:]) {
    Map opts = nbstageOptions(args)
    String out = outputDir(opts)
    String command = runCommand(opts, out)
    List bindings = [string(credentialsId: opts.credentialsId, variable: 'NBSTAGE_TOKEN')]
    opts.secrets.each { Map s -> bindings << string(credentialsId: s.credentialsId, variable: s.name) }
    int code = -1
    try {
        withColours {
            withCredentials(bindings) {
                code = sh(script: command, returnStatus: true, label: "nbstage run ${opts.notebook}")
            }
        }
    } finally {
        publish(opts, out)
    }
    return settle(opts, code)
}

/** The step's arguments, checked, with their defaults. */
Map nbstageOptions(Map args) {
    if (!(args.notebook instanceof CharSequence) || args.notebook.toString().trim().isEmpty()) {
        error('nbstageRun: notebook is required (the path of the notebook in the workspace)')
    }
    Set known = ['notebook', 'stage', 'parameters', 'rawParameters', 'secrets', 'kernel', 'session',
        'timeout', 'cellTimeout', 'allowErrors', 'server', 'credentialsId', 'nbstage',
        'exclude', 'outputs', 'noOutputs', 'workspace',
        'baseline', 'rtol', 'gate', 'onCheckFailure'] as Set
    List unknown = args.keySet().findAll { !known.contains(it) } as List
    if (!unknown.isEmpty()) {
        error("nbstageRun: unknown argument(s) ${unknown.join(', ')} (known: ${known.join(', ')})")
    }
    String server = args.server ?: env.NBSTAGE_URL
    if (!server) {
        error('nbstageRun: no nbstage service: pass server: or set NBSTAGE_URL')
    }
    List stages = args.stage == null ? [] : (args.stage instanceof List ? args.stage : [args.stage])
    return workspaceOptions(args) + checkOptions(args) + [
        notebook: args.notebook.toString(),
        stages: stages.collect { it.toString() },
        parameters: (args.parameters ?: [:]) as Map,
        rawParameters: (args.rawParameters ?: [:]) as Map,
        secrets: secretBindings(args.secrets ?: []),
        kernel: args.kernel,
        session: args.session,
        timeout: args.timeout,
        cellTimeout: args.cellTimeout,
        allowErrors: args.allowErrors == true,
        server: server.toString(),
        credentialsId: (args.credentialsId ?: 'nbstage-token').toString(),
        nbstage: (args.nbstage ?: env.NBSTAGE_CLI ?: 'nbstage').toString(),
    ]
}

/** The workspace arguments (exclude, outputs, noOutputs, workspace), checked. */
Map workspaceOptions(Map args) {
    if (args.noOutputs != null && !(args.noOutputs instanceof Boolean)) {
        error('nbstageRun: noOutputs must be true or false')
    }
    List outputs = globList('outputs', args.outputs)
    if (args.noOutputs && !outputs.isEmpty()) {
        error('nbstageRun: outputs and noOutputs: true exclude each other (noOutputs brings nothing back)')
    }
    boolean folder = args.workspace instanceof CharSequence && !args.workspace.toString().trim().isEmpty()
    if (args.workspace != null && !folder) {
        error('nbstageRun: workspace must be the path of a folder')
    }
    return [
        exclude: globList('exclude', args.exclude),
        outputs: outputs,
        noOutputs: args.noOutputs == true,
        workspace: args.workspace?.toString(),
    ]
}

/** The check arguments (baseline, rtol, gate, onCheckFailure), checked. */
Map checkOptions(Map args) {
    String onCheckFailure = args.onCheckFailure ?: 'UNSTABLE'
    if (!(onCheckFailure in ['UNSTABLE', 'FAILURE'])) {
        error("nbstageRun: onCheckFailure must be 'UNSTABLE' or 'FAILURE', not ${args.onCheckFailure}")
    }
    List gates = args.gate == null ? [] : (args.gate instanceof List ? args.gate : [args.gate])
    if (gates.any { !(it instanceof CharSequence) || it.toString().trim().isEmpty() }) {
        error("nbstageRun: gate must be a gate ('accuracy >= 0.9') or a list of gates, not ${args.gate}")
    }
    return [
        baseline: args.baseline?.toString(),
        rtol: args.rtol?.toString(),
        gates: gates.collect { it.toString() },
        onCheckFailure: onCheckFailure,
    ]
}

/** `'model/'` or `['model/', '*.json']` as a list of globs; anything else is refused. */
List globList(String name, Object value) {
    if (value == null) {
        return []
    }
    List globs = value instanceof List ? value : [value]
    if (globs.any { !(it instanceof CharSequence) || it.toString().trim().isEmpty() }) {
        error("nbstageRun: ${name} must be a glob or a list of globs (gitignore syntax), not ${value}")
    }
    return globs.collect { it.toString() }
}

/** `['wandb-key']` or `[[credentialsId: 'wandb-key', name: 'WANDB_API_KEY']]` as bindings. */
List secretBindings(List secrets) {
    return secrets.collect { s ->
        String id = s instanceof Map ? s.credentialsId : s.toString()
        String name = s instanceof Map && s.name ? s.name : id.toUpperCase().replaceAll('[^A-Z0-9_]', '_')
        if (!(name ==~ /[A-Za-z_][A-Za-z0-9_]*/)) {
            error("nbstageRun: secret name '${name}' is not a valid variable name")
        }
        [credentialsId: id, name: name]
    }
}

/** Where this call's files go: `nbstage/<stage or notebook>/` in the workspace. */
String outputDir(Map opts) {
    String base = opts.stages ? opts.stages.join('+') : opts.notebook.replaceAll('^.*/', '').replaceAll('\\.[^.]+$', '')
    return "nbstage/${base.replaceAll('[^A-Za-z0-9._+-]', '_')}"
}

/** A single-quoted shell word: nothing in it is expanded. */
String shellQuote(Object value) {
    return "'" + value.toString().replace("'", "'\"'\"'") + "'"
}

/** A parameter's text for `-p` (parsed as JSON by nbstage): maps and lists as JSON. */
String parameterText(Object value) {
    return value instanceof CharSequence ? value.toString() : groovy.json.JsonOutput.toJson(value)
}

/** The exact `nbstage run` command line; secrets travel by variable name, never by value. */
String runCommand(Map opts, String out) {
    String name = opts.notebook.replaceAll('^.*/', '').replaceAll('\\.[^.]+$', '')
    List words = [opts.nbstage, 'run', shellQuote(opts.notebook), '--server', shellQuote(opts.server),
        '--no-progress', '--color',
        '-o', shellQuote("${out}/${name}.ipynb"), '--junit', shellQuote("${out}/junit.xml"),
        '--html', shellQuote("${out}/report.html"), '--artifacts', shellQuote("${out}/artifacts")]
    opts.stages.each { words += ['--stage', shellQuote(it)] }
    opts.parameters.each { k, v -> words += ['-p', shellQuote("${k}=${parameterText(v)}")] }
    opts.rawParameters.each { k, v -> words += ['-r', shellQuote("${k}=${v}")] }
    opts.secrets.each { Map s -> words += ['--secret', s.name] }
    if (opts.kernel) { words += ['-k', shellQuote(opts.kernel)] }
    if (opts.session) { words += ['--session', shellQuote(opts.session)] }
    if (opts.timeout) { words += ['--timeout', shellQuote(opts.timeout)] }
    if (opts.cellTimeout) { words += ['--cell-timeout', shellQuote(opts.cellTimeout)] }
    if (opts.allowErrors) { words << '--allow-errors' }
    if (opts.baseline) { words += ['--baseline', shellQuote(opts.baseline)] }
    if (opts.rtol) { words += ['--rtol', shellQuote(opts.rtol)] }
    opts.gates.each { words += ['--gate', shellQuote(it)] }
    return (words + workspaceWords(opts)).join(' ')
}

/** The workspace flags: the step's own folder never travels; then the step's arguments. */
List workspaceWords(Map opts) {
    List words = opts.workspace ? ['--workspace', shellQuote(opts.workspace)] : []
    words += ['--exclude', shellQuote('/nbstage/')]
    opts.exclude.each { words += ['--exclude', shellQuote(it)] }
    opts.outputs.each { words += ['--outputs', shellQuote(it)] }
    if (opts.noOutputs) { words << '--no-outputs' }
    return words
}

/** JUnit, archived files, the HTML report and the build description, for whatever exists. */
void publish(Map opts, String out) {
    if (fileExists("${out}/junit.xml")) {
        junit(testResults: "${out}/junit.xml", allowEmptyResults: true, keepLongStdio: true)
    }
    archiveArtifacts(artifacts: "${out}/**", allowEmptyArchive: true, fingerprint: true)
    if (fileExists("${out}/report.html") && pluginInstalled('htmlpublisher')) {
        publishHTML(target: [reportDir: out, reportFiles: 'report.html', keepAll: true,
            alwaysLinkToLastBuild: false, allowMissing: true,
            reportName: "nbstage ${out.replaceAll('^nbstage/', '')}"])
    }
    String link = versionLink(opts.server)
    String description = currentBuild.description ?: ''
    if (!description.contains(link)) {
        currentBuild.description = (description ? "${description}<br>" : '') +
            "<a href=\"${link}\">nbstage version ${env.JOB_NAME} #${env.BUILD_NUMBER}</a>"
    }
}

/** The web page of this build's version on the nbstage service. */
String versionLink(String server) {
    String job = URLEncoder.encode(env.JOB_NAME ?: '', 'UTF-8').replace('+', '%20')
    return "${server.replaceAll('/+$', '')}/jobs/${job}/builds/${env.BUILD_NUMBER}"
}

/** Turns the exit code into the stage's result. */
int settle(Map opts, int code) {
    if (code == 0 || (code == 1 && opts.allowErrors)) {
        return code
    }
    String why = exitMeaning(code)
    if (code == 6 && opts.onCheckFailure == 'UNSTABLE') {
        unstable("nbstage run ${opts.notebook}: ${why} (exit ${code})")
        return code
    }
    if (code == 130) {
        currentBuild.result = 'ABORTED'
    }
    error("nbstage run ${opts.notebook}: ${why} (exit ${code})")
    return code
}

/** What an exit code of `nbstage run` means. */
String exitMeaning(int code) {
    Map meanings = [
        1: 'a cell failed',
        2: 'bad input (notebook, kernel, stage or parameter)',
        3: 'a timeout expired',
        4: 'the kernel died',
        5: 'the nbstage service or Jupyter could not be reached',
        6: 'a check failed (outputs differ from the baseline, or a metric gate did not hold)',
        130: 'the run was cancelled',
    ]
    return meanings[code] ?: "exit code ${code}"
}

/** Runs `body` inside ansiColor('xterm') when the AnsiColor plugin is there, else as is. */
void withColours(Closure body) {
    if (pluginInstalled('ansicolor')) {
        ansiColor('xterm') { body() }
    } else {
        body()
    }
}

/** Whether a Jenkins plugin is installed (false outside Jenkins). */
boolean pluginInstalled(String shortName) {
    try {
        Object jenkins = getClass().classLoader.loadClass('jenkins.model.Jenkins').getMethod('get').invoke(null)
        return jenkins.pluginManager.getPlugin(shortName) != null
    } catch (ClassNotFoundException ignored) {
        return false
    }
}
