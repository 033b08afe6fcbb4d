package parquet

import (
	"bytes"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/snappy"
)

// TestSnappyCodec checks that arrow-go's Snappy codec is flowlab's, and
// that what it encodes is Snappy: decoded by the snappy package and by the
// codec, for inputs that compress and that do not; a damaged block is an
// error, not a panic.
func TestSnappyCodec(t *testing.T) {
	c, err := compress.GetCodec(compress.Codecs.Snappy)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(fastSnappy); !ok {
		t.Fatalf("Snappy codec is %T, want fastSnappy", c)
	}
	random := make([]byte, 1<<16)
	x := uint64(1)
	for i := range random {
		x = x*6364136223846793005 + 1442695040888963407
		random[i] = byte(x >> 56)
	}
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"repeated", []byte(strings.Repeat("10.0.0.1,SF,ShADadFf;", 5000))},
		{"random", random},
	} {
		dst := make([]byte, c.CompressBound(int64(len(tc.in))))
		enc := c.EncodeLevel(dst, tc.in, 0)
		if tc.name == "repeated" && len(enc) >= len(tc.in)/4 {
			t.Errorf("%s: %d bytes encoded to %d", tc.name, len(tc.in), len(enc))
		}
		got, err := snappy.Decode(nil, enc)
		if err != nil || !bytes.Equal(got, tc.in) {
			t.Errorf("%s: snappy.Decode = %d bytes, %v", tc.name, len(got), err)
		}
		got, err = compress.Decode(c, make([]byte, len(tc.in)), enc)
		if err != nil || !bytes.Equal(got, tc.in) {
			t.Errorf("%s: codec Decode = %d bytes, %v", tc.name, len(got), err)
		}
	}
	if _, err := compress.Decode(c, make([]byte, 100), []byte{0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2}); err == nil {
		t.Error("damaged block decoded without an error")
	}
}
