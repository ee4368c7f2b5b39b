/**
 * The Jenkins REST API as nbstage uses it: create and configure Pipeline jobs, trigger builds,
 * follow queue items and builds, read the progressive console. This interface is all the service
 * sees of Jenkins; `npm-jenkins-api.ts` implements it over the npm `jenkins` client, tests may
 * pass their own. Job names are Jenkins full names (`team/ml/train`: folders, spaces allowed).
 */

/** A build's result as Jenkins reports it once the build is over. */
export type JenkinsResult = 'SUCCESS' | 'UNSTABLE' | 'FAILURE' | 'ABORTED' | 'NOT_BUILT';

/** Every {@link JenkinsResult}. */
export const JENKINS_RESULTS: readonly JenkinsResult[] = [
  'SUCCESS',
  'UNSTABLE',
  'FAILURE',
  'ABORTED',
  'NOT_BUILT',
];

/** A queue item (`/queue/item/N/api/json`). */
export interface JenkinsQueueItem {
  id: number;
  /** True once the item left the queue because someone cancelled it. */
  cancelled: boolean;
  /** Why it still waits (Jenkins' `why`), or null. */
  why: string | null;
  /** The build it became (`executable`), once it left the queue; else null. */
  executable: { number: number; url: string } | null;
}

/** A build (`/job/.../N/api/json`), or one entry of a job's build list. */
export interface JenkinsBuild {
  number: number;
  /** The build's page. */
  url: string;
  building: boolean;
  /** Null while building. */
  result: JenkinsResult | null;
  /** Milliseconds; 0 while building. */
  duration: number;
  /** Start, milliseconds since the epoch. */
  timestamp: number;
  description: string | null;
}

/** One read of the progressive console (`logText/progressiveText?start=`). */
export interface JenkinsConsoleChunk {
  /** The console text from `start` on. */
  text: string;
  /** `X-Text-Size`: the offset to ask from next time. */
  size: number;
  /** `X-More-Data`: true while the build may still write more. */
  more: boolean;
}

/** What nbstage asks of Jenkins. Failures are JenkinsError or JenkinsUnreachableError. */
export interface JenkinsApi {
  /** Jenkins' base URL, without credentials (for messages and links). */
  readonly url: string;
  /** Whether an item (job or folder) of that full name exists. */
  itemExists(name: string): Promise<boolean>;
  /** Creates an item from its config.xml in its parent folder (`createItem?name=`). */
  createItem(name: string, configXml: string): Promise<void>;
  /** An item's config.xml. */
  getConfig(name: string): Promise<string>;
  /** Replaces an item's config.xml. */
  updateConfig(name: string, configXml: string): Promise<void>;
  /**
   * Triggers a build (`buildWithParameters` with the parameters, or `build` when they are null)
   * and resolves to the queue item's id from the `Location` answer.
   */
  triggerBuild(job: string, parameters: Record<string, string> | null): Promise<number>;
  /** A queue item. */
  queueItem(id: number): Promise<JenkinsQueueItem>;
  /** Cancels a waiting queue item (`/queue/cancelItem?id=`). */
  cancelQueueItem(id: number): Promise<void>;
  /** A build. */
  build(job: string, number: number): Promise<JenkinsBuild>;
  /** The job's builds, newest first (at most `limit`, default 100); null for an unknown job. */
  builds(job: string, limit?: number): Promise<JenkinsBuild[] | null>;
  /** The console from byte `start` on. */
  console(job: string, number: number, start: number): Promise<JenkinsConsoleChunk>;
  /** Asks a running build to stop (`/stop`). */
  stopBuild(job: string, number: number): Promise<void>;
  /** Sets a build's description (`/submitDescription`; HTML as the markup formatter allows). */
  setBuildDescription(job: string, number: number, description: string): Promise<void>;
}
