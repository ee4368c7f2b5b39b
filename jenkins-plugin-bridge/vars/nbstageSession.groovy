// nbstageSession: runs its body with NBSTAGE_SESSION set, so that every nbstageRun inside shares
// one kernel on the nbstage service (state carries from stage to stage), and closes the session
// afterwards, even when the body fails or the build is aborted.
//
//   nbstageSession {
//       stage('prepare') { nbstageRun(notebook: 'train.ipynb', stage: 'prepare') }
//       stage('train')   { nbstageRun(notebook: 'train.ipynb', stage: 'train') }
//   }
//
// Arguments: id (default BUILD_TAG), server, credentialsId, nbstage (as nbstageRun).

/** Runs `body` in a session; returns what the body returns. */
Object call(Map args, Closure body) {
    String id = (args.id ?: env.BUILD_TAG ?: '')
    if (id.isEmpty()) {
        error('nbstageSession: no session id: pass id: (BUILD_TAG is not set)')
    }
    Map closing = args.findAll { k, v -> k in ['server', 'credentialsId', 'nbstage'] }
    try {
        return withEnv(["NBSTAGE_SESSION=${id}"]) { body() }
    } finally {
        nbstageClose(closing + [session: id])
    }
}

/** `nbstageSession { ... }` without arguments. */
Object call(Closure body) {
    return call([:], body)
}
