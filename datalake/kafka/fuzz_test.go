package kafka_test

import (
	"reflect"
	"testing"

	"github.com/flowlab/flowlab/datalake/kafka"
)

// FuzzDecodeFlow feeds untrusted message bytes to DecodeFlow. Whatever it
// accepts must encode and decode again to the same record, so the consumer
// never writes to the lake a record it could not have read back.
func FuzzDecodeFlow(f *testing.F) {
	f.Add(with(validFlow()))
	f.Add(with(validFlow(), "src_address", "2001:db8::1", "dst_address", "::ffff:10.0.0.1", "ip_version", 6, "icmp_type", 3, "vlan_id", 12))
	f.Add([]byte(`{"flow_id":"x","pkts":1}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, msg []byte) {
		fl, err := kafka.DecodeFlow(msg)
		if err != nil {
			return
		}
		again, err := kafka.EncodeFlow(&fl)
		if err != nil {
			t.Fatalf("accepted flow does not encode: %v", err)
		}
		back, err := kafka.DecodeFlow(again)
		if err != nil {
			t.Fatalf("re-encoded flow is refused: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(back, fl) {
			t.Fatalf("round trip changed the flow:\n got %+v\nwant %+v", back, fl)
		}
	})
}

// FuzzDecodePacket is FuzzDecodeFlow for packet messages.
func FuzzDecodePacket(f *testing.F) {
	f.Add(with(validPacket()))
	f.Add(with(validPacket(), "src_address", "10.0.0.1", "dst_address", "10.0.0.2", "ip_version", 4, "payload_head", ""))
	f.Add([]byte(`{"timestamp":"2024-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, msg []byte) {
		p, err := kafka.DecodePacket(msg)
		if err != nil {
			return
		}
		again, err := kafka.EncodePacket(&p)
		if err != nil {
			t.Fatalf("accepted packet does not encode: %v", err)
		}
		back, err := kafka.DecodePacket(again)
		if err != nil {
			t.Fatalf("re-encoded packet is refused: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(back, p) {
			t.Fatalf("round trip changed the packet:\n got %+v\nwant %+v", back, p)
		}
	})
}
