/** The vpcd transport (vsmartcard's virtual reader protocol): see ./transport.ts. */
export { encodeFrame, FrameDecoder, MAX_PAYLOAD, type DecodeResult } from './framing.ts';
export {
  VpcdControl,
  VpcdResponder,
  SW_NO_PRECISE_DIAGNOSIS,
  type VpcdExchange,
  type VpcdHandleResult,
  type VpcdMessageKind,
} from './messages.ts';
export { loadQuickAck, type QuickAck } from './quickack.ts';
export {
  VpcdTransport,
  VPCD_BASE_PORT,
  DEFAULT_MAX_QUEUED_BYTES,
  type BackoffOptions,
  type VpcdLogger,
  type VpcdMode,
  type VpcdTransportEvents,
  type VpcdTransportOptions,
  type VpcdTransportStatus,
} from './transport.ts';
