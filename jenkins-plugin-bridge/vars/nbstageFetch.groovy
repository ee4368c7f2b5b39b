// nbstageFetch: writes the notebook the nbstage service stores for a submitted job (`nbstage
// submit`, POST /api/v1/jobs) into the workspace, for the nbstageRun that follows. Generated
// Jenkinsfiles of submitted jobs call it first in every stage, since no SCM holds the notebook.
//
//   nbstageFetch(job: 'team/train', notebook: 'train.ipynb')
//
// Arguments: job, notebook (required); server (default NBSTAGE_URL), credentialsId (default
// 'nbstage-token'), nbstage (the CLI, default NBSTAGE_CLI or 'nbstage').

/** Fetches the notebook; fails the stage when it cannot. */
void call(Map args = [:]) {
    if (!args.job || !args.notebook) {
        error('nbstageFetch: job and notebook are required')
    }
    String server = (args.server ?: env.NBSTAGE_URL ?: '')
    if (server.isEmpty()) {
        error('nbstageFetch: no nbstage service: pass server: or set NBSTAGE_URL')
    }
    String cli = (args.nbstage ?: env.NBSTAGE_CLI ?: 'nbstage')
    String command = "${cli} fetch --server ${nbstageRun.shellQuote(server)} " +
        "${nbstageRun.shellQuote(args.job)} -o ${nbstageRun.shellQuote(args.notebook)}"
    String credentialsId = args.credentialsId ?: 'nbstage-token'
    withCredentials([string(credentialsId: credentialsId, variable: 'NBSTAGE_TOKEN')]) {
        sh(script: command, label: "nbstage fetch ${args.job}")
    }
}
