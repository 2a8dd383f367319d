/** The Zeroplane client SDK. Start with `ZeroplaneClient.connect({ endpoints })`. */
export { ZeroplaneClient } from "./client.js";
export type { CallOptions, ClientOptions, ClusterListResult, ServerOutcome, ServerView } from "./client.js";
export { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from "./backoff.js";
export { CircuitBreaker, type BreakerOptions, type BreakerState } from "./breaker.js";
export {
  checkZ85Key,
  curveSourcesFromEnv,
  resolveCurveKeys,
  type CurveClientKeys,
  type CurveKeySources,
} from "./curve.js";
export {
  defaultPublishEndpoint,
  parseEndpoint,
  resolveEndpoints,
  splitEndpoints,
  PUBLISH_PORT_OFFSET,
  type DnsResolver,
  type ServerAddress,
} from "./endpoints.js";
export {
  AuthenticationError,
  ClientClosedError,
  ClientUsageError,
  RemoteError,
  RequestTimeoutError,
  UnreachableError,
  ZeroplaneClientError,
  type ClientErrorKind,
} from "./errors.js";
export type { StreamKind, StreamListener, SubscribeOptions } from "./event-stream.js";
export { PLACEMENT_STRATEGIES, Placement, type PlacementStrategy } from "./placement.js";
export { DEFAULT_SOCKET_OPTIONS, type ClientSocketOptions } from "./socket-options.js";
