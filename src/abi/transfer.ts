/** A syscall's return value that must move (transfer) objects such as ports or buffers to the caller. */
export class Transfer<T> {
  constructor(
    readonly value: T,
    readonly transfer: Transferable[],
  ) {}
}
