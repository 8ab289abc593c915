/**
 * The optional FFI package `koffi`, imported on demand by the code that calls C directly: the vpcd
 * transport's TCP_QUICKACK fix (./vpcd/quickack.ts) and the relay's synchronous PC/SC calls
 * (harness/pcsc/direct.ts). Each decides what its absence means; the reason reads the same.
 */
export type Koffi = typeof import('koffi');

/** The module, or an Error saying it could not be loaded and how to install it. */
export async function importKoffi(): Promise<Koffi> {
  try {
    const mod = (await import('koffi')) as Koffi & { default?: Koffi };
    return mod.default ?? mod;
  } catch (err) {
    throw new Error(`the optional npm package koffi could not be loaded (${(err as Error).message.split('\n')[0]}); run \`npm install koffi\``);
  }
}
