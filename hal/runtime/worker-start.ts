// Starting TypeScript worker threads from tests (and from anything else running under tsx or
// vitest).
//
// `new Worker(url, { execArgv: ['--import', 'tsx'] })` does not work on Node 20: a worker
// ignores --import in its execArgv (checked on 20.20: the preload never runs), so the worker
// fails with 'Unknown file extension ".ts"'. Loader hooks are per thread, so each worker has
// to register tsx itself before it imports any .ts file. We therefore start the worker from a
// two-line eval'd bootstrap that registers tsx through its public API (tsx/esm/api register())
// and then imports the real script. The tsx API is resolved to an absolute URL here, so the
// worker does not depend on its cwd.

import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

const TSX_ESM_API_URL = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href;

/** Starts `scriptUrl` (a .ts file) in a worker thread with tsx registered in that thread. */
export function startTsWorker(scriptUrl: URL, workerData: unknown): Worker {
  const bootstrap =
    `import(${JSON.stringify(TSX_ESM_API_URL)})` +
    `.then((tsx) => { tsx.register(); return import(${JSON.stringify(scriptUrl.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/** Resolves when the worker exits with code 0; rejects on an error or another exit code. */
export function workerExit(worker: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`worker exited with code ${code}`));
    });
  });
}

/** Resolves with the worker's next message. */
export function nextMessage(worker: Worker): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    worker.once('error', onError);
    worker.once('message', (message: unknown) => {
      worker.off('error', onError);
      resolve(message);
    });
  });
}
