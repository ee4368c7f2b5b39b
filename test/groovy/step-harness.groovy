// Runs the shared library's vars/ steps under a real Groovy runtime, the way Jenkins calls them
// (each vars/<name>.groovy is a global variable whose call() runs on `name(...)`), with the
// pipeline steps they use stubbed: sh, withCredentials/string, withEnv, junit, archiveArtifacts,
// publishHTML, fileExists, error, echo, ansiColor, currentBuild, env, params.
//
//   groovy -cp test/groovy/stubs test/groovy/step-harness.groovy <vars dir> <scenarios.json>
//
// scenarios.json is a list of {script | jenkinsfile, env, params, credentials, shStatus, plugins,
// workspace, files}; for each it prints one JSON line: {calls, error, result, description,
// buildResult}. A `jenkinsfile` runs as Jenkins would run a declarative pipeline of this shape:
// `@Library` loads the library, `parameters` fill `params` with their defaults, `environment`
// sets `env`, and each stage records its name and agent before its steps run, in order.
import groovy.json.JsonOutput
import groovy.json.JsonSlurper

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

File varsDir = new File(args[0])
List scenarios = new JsonSlurper().parse(new File(args[1])) as List
GroovyShell shell = new GroovyShell(this.class.classLoader)

scenarios.each { Map scenario ->
    List calls = []
    Map env = new LinkedHashMap(scenario.env ?: [:])
    Map credentials = scenario.credentials ?: [:]
    List shStatus = (scenario.shStatus instanceof List ? scenario.shStatus : [scenario.shStatus ?: 0]) as List
    File workspace = scenario.workspace ? new File(scenario.workspace as String) : null
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
        calls << [step: 'sh', script: a.script, label: a.label, returnStatus: a.returnStatus == true,
                  env: new LinkedHashMap(env)]
        int status = (shStatus.size() > 1 ? shStatus.remove(0) : shStatus[0]) as int
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
        try {
            c()
        } finally {
            // A stage's `environment` ends with the stage.
            env.clear()
            env.putAll(outside)
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
    binding.setVariable('stash', { Map a -> calls << ([step: 'stash'] + a) })
    binding.setVariable('unstash', { String name -> calls << [step: 'unstash', name: name] })
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
    outcome.description = currentBuild.description
    outcome.buildResult = currentBuild.result
    println(JsonOutput.toJson(outcome))
}
