// Runs the shared library's vars/ steps under a real Groovy runtime, the way Jenkins calls them
// (each vars/<name>.groovy is a global variable whose call() runs on `name(...)`), with the
// pipeline steps they use stubbed: sh, withCredentials/string, withEnv, junit, archiveArtifacts,
// publishHTML, fileExists, error, unstable, echo, ansiColor, currentBuild, env, params.
//
//   groovy -cp test/groovy/stubs test/groovy/step-harness.groovy <vars dir> <scenarios.json>
//
// scenarios.json is a list of {script | jenkinsfile, env, params, credentials, shStatus, plugins,
// workspace, files, agents, runSh}; for each it prints one JSON line: {calls, error, result,
// description, buildResult}. A `jenkinsfile` runs as Jenkins would run a declarative pipeline of
// this shape: `@Library` loads the library, `parameters` fill `params` with their defaults,
// `environment` sets `env`, and each stage records its name and agent before its steps run, in
// order.
//
// Agents and their workspaces, for a scenario with `agents` (label -> folder): `agent { label 'x' }`
// makes that folder the workspace until its stage ends, as Jenkins allocates a node, and sets
// WORKSPACE to it. There `fileExists` looks, `sh` runs (with `runSh`), and `stash`/`unstash` copy
// files: `stash(name:, includes:, excludes:, allowEmpty:)` keeps a copy of the workspace's
// regular files matching the comma-separated Ant patterns (`**` any folders, `*` and `?` within a
// name; Ant's default excludes are not applied) and fails when none matches, unless allowEmpty;
// `unstash(name)` writes them into the then current workspace at the same paths (replacing files,
// keeping their modes) and fails for a name never stashed. Without a workspace, both are only
// recorded. With `runSh`, `sh` really runs its script as Jenkins does (`/bin/sh -xe -c`) in the
// workspace with this process's environment plus `env`; its exit status is the script's, and the
// call records the status and the script's output (stdout and stderr together, as the console).
import groovy.io.FileType
import groovy.json.JsonOutput
import groovy.json.JsonSlurper
import java.nio.file.Files
import java.nio.file.StandardCopyOption
import java.util.regex.Pattern

/** Raised by the `error` step, as Jenkins' AbortException. */
class StepError extends RuntimeException {
    StepError(String message) { super(message) }
}

/** A vars/ script as a global variable: `name(...)` runs its call(), `name.other()` its method. */
class StepVar extends Closure {
    final Script script

    // The script is the closure's owner: `name.other(...)` resolves on it.
    StepVar(Script script) {
        super(script)
        this.script = script
    }

    Object doCall(Object... args) {
        return script.invokeMethod('call', args)
    }
}

/** The delegate of an `environment { NAME = value }` block: assignments go to `env`. */
class EnvironmentBlock {
    final Map env
    final Binding binding

    EnvironmentBlock(Map env, Binding binding) {
        this.env = env
        this.binding = binding
    }

    void setProperty(String name, Object value) {
        env[name] = value.toString()
    }

    Object getProperty(String name) {
        return name == 'env' ? env : binding.getVariable(name)
    }
}

// An Ant pattern (`model/**`, `**/*.json`, `dist/`) as a regular expression on `/` paths.
String antRegex(String pattern) {
    String p = pattern.trim().replace('\\', '/')
    p = p.endsWith('/') ? p + '**' : p
    List parts = p.split('/') as List
    StringBuilder re = new StringBuilder()
    parts.eachWithIndex { String part, int i ->
        boolean last = i == parts.size() - 1
        if (part == '**') {
            re << (last ? '.*' : '(?:[^/]+/)*')
        } else {
            part.each { String c -> re << (c == '*' ? '[^/]*' : c == '?' ? '[^/]' : Pattern.quote(c)) }
            re << (last ? '' : '/')
        }
    }
    return re.toString()
}

/** The regular files under `dir` (relative, `/`-separated, sorted) that match as stash does. */
List stashFiles(File dir, String includes, String excludes) {
    Closure patterns = { String list -> (list ?: '').split(',').findAll { it.trim() }.collect { antRegex(it) } }
    List wanted = patterns(includes ?: '**')
    List unwanted = patterns(excludes)
    List found = []
    dir.eachFileRecurse(FileType.FILES) { File f ->
        String rel = dir.toPath().relativize(f.toPath()).toString().replace(File.separator, '/')
        if (wanted.any { rel ==~ it } && !unwanted.any { rel ==~ it }) {
            found << rel
        }
    }
    return found.sort()
}

/** Copies the files `rel` from one folder to the same paths in another, modes kept. */
void copyFiles(List rels, File from, File to) {
    rels.each { String rel ->
        File target = new File(to, rel)
        target.parentFile.mkdirs()
        Files.copy(new File(from, rel).toPath(), target.toPath(), StandardCopyOption.REPLACE_EXISTING,
            StandardCopyOption.COPY_ATTRIBUTES)
    }
}

/** Runs `script` as Jenkins' `sh` does, its output also on stderr as it comes; [status, output]. */
List runShell(String script, File dir, Map env) {
    ProcessBuilder builder = new ProcessBuilder('/bin/sh', '-xe', '-c', script)
    builder.directory(dir ?: new File('.').absoluteFile)
    builder.redirectErrorStream(true)
    env.each { k, v -> builder.environment().put(k.toString(), v.toString()) }
    Process process = builder.start()
    StringBuilder output = new StringBuilder()
    process.inputStream.withReader('UTF-8') { Reader reader ->
        reader.eachLine { String line ->
            output << line << '\n'
            System.err.println(line)
        }
    }
    return [process.waitFor(), output.toString()]
}

File varsDir = new File(args[0])
List scenarios = new JsonSlurper().parse(new File(args[1])) as List
GroovyShell shell = new GroovyShell(this.class.classLoader)

scenarios.each { Map scenario ->
    List calls = []
    Map env = new LinkedHashMap(scenario.env ?: [:])
    Map credentials = scenario.credentials ?: [:]
    List shStatus = (scenario.shStatus instanceof List ? scenario.shStatus : [scenario.shStatus ?: 0]) as List
    File workspace = scenario.workspace ? new File(scenario.workspace as String) : null
    Map agents = (scenario.agents ?: [:]).collectEntries { k, v -> [(k): new File(v as String)] }
    boolean runSh = scenario.runSh == true
    // Where stashes are kept (made on the first stash, removed when the scenario ends).
    File stashes = new File(System.getProperty('java.io.tmpdir'), "test-${UUID.randomUUID()}")
    Map stashed = [:]
    Set files = (scenario.files ?: []) as Set
    Expando currentBuild = new Expando(description: scenario.description, result: null,
        currentResult: 'SUCCESS')
    jenkins.model.Jenkins.plugins = (scenario.plugins ?: []) as Set

    Binding binding = new Binding()
    boolean declaring = false
    Closure declare = { String type, Map a ->
        calls << ([step: 'parameter', type: type] + a)
        Map params = binding.getVariable('params') as Map
        if (!params.containsKey(a.name)) {
            params[a.name] = a.defaultValue
        }
    }
    binding.setVariable('env', env)
    binding.setVariable('params', new LinkedHashMap(scenario.params ?: [:]))
    binding.setVariable('currentBuild', currentBuild)
    binding.setVariable('sh', { Map a ->
        Map call = [step: 'sh', script: a.script, label: a.label, returnStatus: a.returnStatus == true,
                    env: new LinkedHashMap(env)]
        calls << call
        int status
        if (runSh) {
            List ran = runShell(a.script as String, workspace, env)
            status = ran[0] as int
            call.status = status
            call.output = ran[1]
        } else {
            status = (shStatus.size() > 1 ? shStatus.remove(0) : shStatus[0]) as int
        }
        if (a.returnStatus != true && status != 0) {
            throw new StepError("script returned exit code ${status}")
        }
        return a.returnStatus == true ? status : null
    })
    binding.setVariable('string', { Map a ->
        if (declaring) {
            declare('string', a)
        }
        [kind: 'string'] + a
    })
    Closure withVariables = { Map values, Closure body ->
        Map saved = values.collectEntries { k, v -> [(k): env.get(k)] }
        env.putAll(values)
        try {
            return body()
        } finally {
            saved.each { k, v -> v == null ? env.remove(k) : env.put(k, v) }
        }
    }
    binding.setVariable('withCredentials', { List bindings, Closure body ->
        calls << [step: 'withCredentials', bindings: bindings]
        Map values = bindings.collectEntries { Map b ->
            if (!credentials.containsKey(b.credentialsId)) {
                throw new StepError("Could not find credentials entry with ID '${b.credentialsId}'")
            }
            [(b.variable): credentials[b.credentialsId]]
        }
        withVariables(values, body)
    })
    binding.setVariable('withEnv', { List pairs, Closure body ->
        calls << [step: 'withEnv', env: pairs.collect { it.toString() }]
        withVariables(pairs.collectEntries { String p -> int eq = p.indexOf('='); [(p.substring(0, eq)): p.substring(eq + 1)] }, body)
    })
    binding.setVariable('junit', { Map a -> calls << ([step: 'junit'] + a) })
    binding.setVariable('archiveArtifacts', { Map a -> calls << ([step: 'archiveArtifacts'] + a) })
    binding.setVariable('publishHTML', { Map a -> calls << ([step: 'publishHTML'] + a) })
    binding.setVariable('fileExists', { String p ->
        files.contains(p) || (workspace != null && new File(workspace, p).exists())
    })
    binding.setVariable('error', { String message -> throw new StepError(message) })
    // As Jenkins' unstable step: the message is logged, the build is UNSTABLE unless worse already.
    binding.setVariable('unstable', { String message ->
        calls << [step: 'unstable', message: message]
        if (currentBuild.result == null || currentBuild.result == 'SUCCESS') {
            currentBuild.result = 'UNSTABLE'
        }
    })
    binding.setVariable('echo', { String message -> calls << [step: 'echo', message: message] })
    binding.setVariable('ansiColor', { String map, Closure body ->
        calls << [step: 'ansiColor', colorMapName: map]
        body()
    })
    // The declarative pipeline directives, run in order (what Jenkins does on one agent at a time).
    binding.setVariable('none', 'none')
    binding.setVariable('any', 'any')
    binding.setVariable('label', { String l -> [label: l] })
    binding.setVariable('__library', { String name -> calls << [step: 'library', name: name] })
    binding.setVariable('pipeline', { Closure c -> c() })
    binding.setVariable('agent', { Object a ->
        Object value = a instanceof Closure ? a() : a
        calls << [step: 'agent', agent: value]
        File allocated = value instanceof Map ? agents[value.label] : null
        if (allocated != null) {
            workspace = allocated
            env.WORKSPACE = allocated.absolutePath
        }
    })
    binding.setVariable('options', { Closure c -> c() })
    binding.setVariable('timeout', { Map a -> calls << ([step: 'timeout'] + a) })
    binding.setVariable('parameters', { Closure c ->
        declaring = true
        try {
            c()
        } finally {
            declaring = false
        }
    })
    binding.setVariable('booleanParam', { Map a -> declare('boolean', a) })
    binding.setVariable('environment', { Closure c ->
        c.delegate = new EnvironmentBlock(env, binding)
        c.resolveStrategy = Closure.DELEGATE_FIRST
        c()
        calls << [step: 'environment', env: new LinkedHashMap(env)]
    })
    binding.setVariable('stages', { Closure c -> c() })
    binding.setVariable('stage', { String name, Closure c ->
        calls << [step: 'stage', name: name]
        skipping = false
        Map outside = new LinkedHashMap(env)
        File outsideWorkspace = workspace
        try {
            c()
        } finally {
            // A stage's `environment`, and the agent it allocated, end with the stage.
            env.clear()
            env.putAll(outside)
            workspace = outsideWorkspace
        }
    })
    boolean skipping = false
    binding.setVariable('steps', { Closure c ->
        if (skipping) {
            calls << [step: 'skipped']
        } else {
            c()
        }
    })
    binding.setVariable('when', { Closure c ->
        skipping = false
        c()
    })
    binding.setVariable('expression', { Closure c ->
        skipping = skipping || !c()
    })
    binding.setVariable('post', { Closure c -> c() })
    binding.setVariable('always', { Closure c ->
        calls << [step: 'post', condition: 'always']
        c()
    })
    binding.setVariable('buildDiscarder', { Object a -> calls << [step: 'buildDiscarder'] })
    binding.setVariable('logRotator', { Map a -> a })
    binding.setVariable('checkout', { Object a -> calls << [step: 'checkout'] })
    binding.setVariable('scm', 'scm')
    binding.setVariable('stash', { Map a ->
        Map call = [step: 'stash'] + a
        calls << call
        if (workspace != null) {
            List found = stashFiles(workspace, a.includes as String, a.excludes as String)
            if (found.isEmpty() && a.allowEmpty != true) {
                throw new StepError("No files included in stash '${a.name}'")
            }
            File kept = new File(stashes, a.name as String)
            kept.deleteDir()
            copyFiles(found, workspace, kept)
            stashed[a.name] = found
            call.files = found
        }
    })
    binding.setVariable('unstash', { Object a ->
        String name = a instanceof Map ? a.name : a
        Map call = [step: 'unstash', name: name]
        calls << call
        if (workspace != null) {
            if (!stashed.containsKey(name)) {
                throw new StepError("No such saved stash '${name}'")
            }
            copyFiles(stashed[name] as List, new File(stashes, name), workspace)
            call.files = stashed[name]
        }
    })
    varsDir.listFiles().findAll { it.name.endsWith('.groovy') }.sort { it.name }.each { File f ->
        Script step = shell.parse(f)
        step.binding = binding
        binding.setVariable(f.name - '.groovy', new StepVar(step))
    }

    Map outcome = [calls: calls, error: null, result: null]
    try {
        String source = scenario.jenkinsfile == null ? scenario.script :
            (scenario.jenkinsfile as String).replaceAll(/(?m)^@Library\((.*)\) _$/, '__library($1)')
        Script body = shell.parse(source)
        body.binding = binding
        outcome.result = body.run()
    } catch (StepError e) {
        outcome.error = e.message
    }
    stashes.deleteDir()
    outcome.description = currentBuild.description
    outcome.buildResult = currentBuild.result
    println(JsonOutput.toJson(outcome))
}
