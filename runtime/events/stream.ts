/**
 * Makes sure the JetStream stream for lifecycle events exists and can hold our subjects.
 * Creates it when missing; when it exists, checks it: subjects that do not cover ours are an error
 * (nothing could be stored), other differences from the config are warnings (the operator may have
 * tuned the stream on purpose).
 */
import type { Logger } from "pino";
import {
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  nanos,
  type JetStreamManager,
  type NatsError,
  type StreamConfig,
  type StreamInfo,
} from "nats";
import type { ZeroplaneConfig } from "../config/index.js";
import { streamSubject, subjectCovers } from "./subjects.js";

/** JetStream error code for "stream not found". */
const STREAM_NOT_FOUND = 10059;

/** How long JetStream remembers a Nats-Msg-Id to drop a retried publish. */
export const DUPLICATE_WINDOW_MS = 2 * 60_000;

/** The stream cannot hold our events; publishing waits until an operator fixes it. */
export class StreamMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StreamMismatchError";
  }
}

/** The stream config we create. */
export function desiredStreamConfig(nats: ZeroplaneConfig["nats"]): Partial<StreamConfig> & { name: string } {
  const maxAgeMs = nats.maxAgeMs;
  return {
    name: nats.stream,
    subjects: [streamSubject(nats.subjectPrefix)],
    retention: RetentionPolicy.Limits,
    storage: nats.storage === "memory" ? StorageType.Memory : StorageType.File,
    num_replicas: nats.replicas,
    max_age: nanos(maxAgeMs),
    // JetStream's "no limit" is -1; below the store limit, old events go before writes fail.
    max_bytes: nats.maxBytes > 0 ? nats.maxBytes : -1,
    discard: DiscardPolicy.Old,
    // The window must not exceed max age (0 means no age limit).
    duplicate_window: nanos(maxAgeMs > 0 ? Math.min(DUPLICATE_WINDOW_MS, maxAgeMs) : DUPLICATE_WINDOW_MS),
  };
}

/**
 * Creates the stream if missing, or checks the existing one.
 * Throws StreamMismatchError when the stream cannot capture our subjects.
 */
export async function ensureStream(
  jsm: JetStreamManager,
  nats: ZeroplaneConfig["nats"],
  logger: Logger,
): Promise<"created" | "checked"> {
  let info: StreamInfo | null = null;
  try {
    info = await jsm.streams.info(nats.stream);
  } catch (error) {
    if ((error as NatsError).api_error?.err_code !== STREAM_NOT_FOUND) throw error;
  }
  if (!info) {
    try {
      await jsm.streams.add(desiredStreamConfig(nats));
      logger.info(
        { stream: nats.stream, subjects: [streamSubject(nats.subjectPrefix)], replicas: nats.replicas },
        "created JetStream stream for lifecycle events",
      );
      return "created";
    } catch (error) {
      // Another agent server may have created it first: check theirs.
      info = await jsm.streams.info(nats.stream).catch(() => {
        throw error;
      });
    }
  }
  checkStream(info, nats, logger);
  return "checked";
}

function checkStream(info: StreamInfo, nats: ZeroplaneConfig["nats"], logger: Logger): void {
  const ours = streamSubject(nats.subjectPrefix);
  const subjects = info.config.subjects ?? [];
  if (!subjects.some((subject) => subjectCovers(subject, ours))) {
    throw new StreamMismatchError(
      `JetStream stream ${nats.stream} exists but its subjects ${JSON.stringify(subjects)} do not cover ${ours}, so lifecycle events cannot be stored. Fix: add "${ours}" to the stream's subjects, or set nats.stream / nats.subjectPrefix to match an existing stream.`,
    );
  }
  const wanted = desiredStreamConfig(nats);
  const differences: string[] = [];
  if (info.config.num_replicas !== wanted.num_replicas) {
    differences.push(`replicas ${info.config.num_replicas} (config: ${wanted.num_replicas})`);
  }
  if (info.config.storage !== wanted.storage) {
    differences.push(`storage ${info.config.storage} (config: ${wanted.storage})`);
  }
  if (info.config.max_age !== wanted.max_age) {
    differences.push(`max age ${info.config.max_age / 1e6} ms (config: ${nats.maxAgeMs} ms)`);
  }
  if ((info.config.max_bytes ?? -1) !== wanted.max_bytes) {
    differences.push(`max bytes ${info.config.max_bytes} (config: ${wanted.max_bytes})`);
  }
  if ((info.config.duplicate_window ?? 0) <= 0) {
    differences.push("no duplicate window (retried publishes may be stored twice)");
  }
  if (differences.length) {
    logger.warn(
      { stream: nats.stream, differences },
      `JetStream stream ${nats.stream} differs from the config: ${differences.join("; ")}. Events are published anyway; update the stream or the config to silence this.`,
    );
  }
}
