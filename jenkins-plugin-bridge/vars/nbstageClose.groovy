// nbstageClose: ends an nbstage session: once its runs are done, the worker holding its kernel
// shuts it down. nbstageSession calls it for you; call it yourself when a declarative pipeline
// sets NBSTAGE_SESSION in its environment, e.g. in `post { always { nbstageClose() } }`.
//
// Arguments: session (default NBSTAGE_SESSION, then BUILD_TAG), server (default NBSTAGE_URL),
// credentialsId (default 'nbstage-token'), nbstage (the CLI, default NBSTAGE_CLI or 'nbstage').

/** Closes the session; returns the exit code of `nbstage session close`. */
int call(Map args = [:]) {
    String session = (args.session ?: env.NBSTAGE_SESSION ?: env.BUILD_TAG ?: '')
    String server = (args.server ?: env.NBSTAGE_URL ?: '')
    if (session.isEmpty() || server.isEmpty()) {
        error('nbstageClose: needs a session (session:, NBSTAGE_SESSION or BUILD_TAG) ' +
            'and a server (server: or NBSTAGE_URL)')
    }
    String cli = (args.nbstage ?: env.NBSTAGE_CLI ?: 'nbstage')
    String command = "${cli} session close ${nbstageRun.shellQuote(session)} --server ${nbstageRun.shellQuote(server)}"
    int code = -1
    String credentialsId = args.credentialsId ?: 'nbstage-token'
    withCredentials([string(credentialsId: credentialsId, variable: 'NBSTAGE_TOKEN')]) {
        code = sh(script: command, returnStatus: true, label: "nbstage session close ${session}")
    }
    if (code != 0) {
        // The kernel is reaped when idle anyway: a failed close must not fail the build.
        echo("nbstageClose: could not close session ${session} (exit ${code}); it ends when idle")
    }
    return code
}
