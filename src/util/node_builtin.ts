// Node built-ins for the code paths that run only in Node (worker threads,
// core counts, Dawn's set-up). Imported at run time under a name bundlers do
// not follow, so a browser build (the web page) carries none of them.

/** `import('node:<name>')`, typed by the caller: `nodeBuiltin<typeof import('node:os')>('os')`. */
export function nodeBuiltin<T>(name: string): Promise<T> {
  return import(/* @vite-ignore */ `node:${name}`) as Promise<T>;
}
