/**
 * The in-process backend passes the queue contract.
 */
import { inProcessBackend } from '../../../server/queue';
import { queueContract } from './contract';

queueContract('in-process', () => inProcessBackend());
