export { createLogger, REDACTED_FIELDS, type LoggerOptions } from "./logger.js";
export { ServerMetrics, methodLabel, type AgentGaugeSource } from "./metrics.js";
export { startObservabilityServer, type HttpProbes, type ObservabilityServer } from "./http.js";
