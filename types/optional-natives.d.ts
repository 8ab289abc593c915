/**
 * The two optional native packages, declared here with just what the project uses, so that
 * `tsc --noEmit` passes the same whether or not they are installed (`npm install` skips them when
 * they cannot build, e.g. without libpcsclite-dev). Both are loaded only with a dynamic import that
 * turns a missing package into a message saying what to install.
 */
declare module 'pcsclite' {
  /** The binding's factory (a PC/SC context); harness/pcsc/client.ts types what it returns. */
  const pcsclite: unknown;
  export default pcsclite;
}

declare module 'koffi' {
  interface KoffiLibrary {
    func(signature: string): unknown;
  }
  /** Opens a shared library, e.g. `libc.so.6`. */
  export function load(path: string): KoffiLibrary;
  /** errno of the last foreign call. */
  export function errno(): number;
}

declare module '@lydell/node-pty' {
  interface IDisposable {
    dispose(): void;
  }
  /** A process on the slave side of a new pseudo-terminal (forkpty: its own session and process group). */
  export interface IPty {
    readonly pid: number;
    onData(listener: (data: string) => void): IDisposable;
    onExit(listener: (e: { exitCode: number; signal?: number }) => void): IDisposable;
    write(data: string): void;
  }
  export function spawn(
    file: string,
    args: string[],
    options: { name?: string; cols?: number; rows?: number; cwd?: string; env?: Record<string, string> },
  ): IPty;
}
