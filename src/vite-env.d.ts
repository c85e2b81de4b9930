/** The agent worker bundled to one script, as text (src/build/agent-bundle.ts). */
declare module 'virtual:agent-bundle' {
  const source: string;
  export default source;
  /** base64 SHA-256 of src/workers/frame-boot.ts's script, for the agent frame's CSP. */
  export const FRAME_BOOT_SHA256: string;
}
