package kafka_test

import (
	"reflect"
	"testing"

	"github.com/flowlab/flowlab/datalake/kafka"
)

// roundTrip checks that a message the decoder accepts encodes and decodes
// again to the same record, so the consumer never writes to the lake a
// record it could not have read back.
func roundTrip[T any](t *testing.T, msg []byte, decode func([]byte) (T, error), encode func(*T) ([]byte, error)) {
	r, err := decode(msg)
	if err != nil {
		return
	}
	again, err := encode(&r)
	if err != nil {
		t.Fatalf("accepted record does not encode: %v", err)
	}
	back, err := decode(again)
	if err != nil {
		t.Fatalf("re-encoded record is refused: %v\n%s", err, again)
	}
	if !reflect.DeepEqual(back, r) {
		t.Fatalf("round trip changed the record:\n got %+v\nwant %+v", back, r)
	}
}

// FuzzDecodeFlow feeds untrusted message bytes to DecodeFlow; whatever it
// accepts must round-trip.
func FuzzDecodeFlow(f *testing.F) {
	f.Add(with(validFlow()))
	f.Add(with(validFlow(), "src_address", "2001:db8::1", "dst_address", "::ffff:10.0.0.1", "ip_version", 6, "icmp_type", 3, "vlan_id", 12))
	f.Add([]byte(`{"flow_id":"x","pkts":1}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, msg []byte) { roundTrip(t, msg, kafka.DecodeFlow, kafka.EncodeFlow) })
}

// FuzzDecodePacket is FuzzDecodeFlow for packet messages.
func FuzzDecodePacket(f *testing.F) {
	f.Add(with(validPacket()))
	f.Add(with(validPacket(), "src_address", "10.0.0.1", "dst_address", "10.0.0.2", "ip_version", 4, "payload_head", ""))
	f.Add([]byte(`{"timestamp":"2024-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, msg []byte) { roundTrip(t, msg, kafka.DecodePacket, kafka.EncodePacket) })
}
