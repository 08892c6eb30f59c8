// Types for the parts of fuse-native 2.2.6 we use (the package ships none).
declare module 'fuse-native' {
  type Cb = (code: number, ...rest: unknown[]) => void;
  interface FuseOps {
    [op: string]: ((...args: never[]) => void) | undefined;
  }
  interface FuseOpts {
    [opt: string]: unknown;
  }
  class Fuse {
    constructor(mnt: string, ops: FuseOps, opts?: FuseOpts);
    mnt: string;
    opts: FuseOpts;
    mount(cb: (err: Error | null) => void): void;
    unmount(cb: (err: Error | null) => void): void;
    protected _fuseOptions(): string;
    static unmount(mnt: string, cb: (err: Error | null) => void): void;
    static ENOENT: number;
    static EIO: number;
    static EACCES: number;
    static EROFS: number;
    static EBADF: number;
    static EISDIR: number;
    static ENOTDIR: number;
  }
  export = Fuse;
}
