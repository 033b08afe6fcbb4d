// Package kafka carries the lake's flow and packet records over Kafka: the
// streaming half of capture ingest.
//
// A Producer publishes the records a capture finishes (`flowlab capture
// --to-kafka TOPIC`) as one JSON object per record, keyed by flow_id, with
// acknowledgements from every in-sync replica and idempotence. A Consumer
// (`flowlab ingest --from-kafka TOPIC`) reads them as a consumer group,
// decodes and validates each message, batches them per partition and hands
// each batch to a Lake, which publishes it into the hour partitions
// together with the offsets it covers; only then are the offsets committed
// to Kafka. Because the lake records which offsets it holds, a consumer
// that died between publishing and committing starts again where the
// lake's copy ends, not where the group's commit says (and skips anything
// delivered below it): nothing is written twice, nothing is lost.
//
// The message format is the flow schema's column names (FLOWS_SCHEMA.md,
// the json tags of datalake.Flow) and the packet dataset's fields
// (datalake.Packet); EncodeFlow, DecodeFlow, EncodePacket and DecodePacket
// are the codec.
package kafka
