// A stand-in for Jenkins' own class, so that the library's plugin check (a reflective call to
// jenkins.model.Jenkins.get().pluginManager.getPlugin(name)) runs unchanged under plain Groovy.
package jenkins.model

class Jenkins {
    /** Short names of the "installed" plugins; the step harness sets them per scenario. */
    static Set<String> plugins = [] as Set

    static Jenkins get() {
        return new Jenkins()
    }

    Map getPluginManager() {
        return [getPlugin: { String name -> plugins.contains(name) ? [shortName: name] : null }]
    }
}
