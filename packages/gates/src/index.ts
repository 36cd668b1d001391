// Metric gates for progressive delivery: PromQL conditions measured against Prometheus during a
// bake, with Argo Rollouts-style limits; rollout-verify's gates.
export { compare, type GateDefinition, GateSyntaxError, lastTopLevelOperator, OPERATORS, type Operator, parseCondition, parseGates } from './condition.ts';
export { type BakeOptions, type BakeVerdict, bake, bakeGates, type Gate, type GateVerdict, metricGate, type Verdict } from './gate.ts';
export { formatLabels, formatValue, type JsonNumber, jsonNumber, type Measurement, measure, type ObservedValue, type Outcome } from './measure.ts';
export {
  type Labels,
  type Point,
  type PrometheusAuth,
  PrometheusClient,
  PrometheusError,
  type PrometheusErrorKind,
  type PrometheusOptions,
  parseResponse,
  parseValue,
  type Querier,
  type QueryResult,
} from './prometheus.ts';
export {
  DELIVERY_JOB,
  DELIVERY_METRICS,
  DELIVERY_VERDICTS,
  type DeliveryRecord,
  type DeliveryVerdict,
  deliveryExposition,
  deliveryProblems,
  escapeLabelValue,
  groupingPath,
  groupingSegment,
  type PushgatewayAuth,
  PushgatewayError,
  type PushgatewayErrorKind,
  type PushOptions,
  pushDelivery,
} from './pushgateway.ts';
