/** Zeroplane's cdk8s constructs. Start with `ZeroplanePlatform` (one environment from one typed spec). */
export type * from "./platform.js";
export { ZeroplanePlatform, synthesizePlatform, type SynthesizedPlatform } from "./zeroplane-platform.js";
export {
  AgentServer,
  type AgentServerProps,
  type ClientService,
  TERMINATION_MARGIN_SECONDS,
} from "./agent-server.js";
export { AgentServerAutoscaler, ACTIVE_AGENTS_METRIC, ACTIVE_AGENT_STATUSES } from "./autoscaling.js";
export {
  NatsCluster,
  type NatsClusterProps,
  DEFAULT_NATS_IMAGE,
  DEFAULT_NATS_EXPORTER_IMAGE,
} from "./nats-cluster.js";
export {
  renderNatsConfig,
  NATS_PORTS,
  NATS_PATHS,
  NATS_ENV,
  NATS_AUTH_SECRET_KEYS,
  NATS_TLS_SECRET_KEYS,
  LAME_DUCK,
} from "./nats-config.js";
export { CurveKeys, PUBLIC_KEY_CONFIGMAP_KEY, DEFAULT_KEYGEN_COMMAND } from "./curve-keys.js";
export { Monitoring, METRICS, alertRules } from "./monitoring.js";
export { DefaultDenyPolicy, AgentServerNetworkPolicy, KeygenNetworkPolicy } from "./network-policies.js";
export { ServiceMonitor, PodMonitor, PrometheusRule, ExternalSecret } from "./crds.js";
export { ConstructPropsError } from "./common.js";
export { EXAMPLE_ENVIRONMENTS, exampleSpec } from "./examples.js";
