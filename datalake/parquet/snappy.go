package parquet

import (
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/s2"
)

// fastSnappy is arrow-go's Snappy codec with another block encoder:
// arrow-go compresses pages with klauspost's snappy package, which uses
// s2's "better" Snappy encoder, a slower search for matches that saves
// little on lake files (random identifiers, delta-packed integers); the
// standard one writes the same format, read by every Snappy decoder.
// Decoding and streams are the registered codec's.
type fastSnappy struct{ compress.Codec }

func (fastSnappy) Encode(dst, src []byte) []byte { return s2.EncodeSnappy(dst, src) }

func (fastSnappy) EncodeLevel(dst, src []byte, _ int) []byte { return s2.EncodeSnappy(dst, src) }

func (c fastSnappy) CompressBound(n int64) int64 {
	return max(c.Codec.CompressBound(n), int64(s2.MaxEncodedLen(int(n))))
}

// DecodeWithError keeps arrow-go's error reporting for damaged pages.
func (c fastSnappy) DecodeWithError(dst, src []byte) ([]byte, error) {
	return compress.Decode(c.Codec, dst, src)
}

func init() {
	if c, err := compress.GetCodec(compress.Codecs.Snappy); err == nil {
		compress.RegisterCodec(compress.Codecs.Snappy, fastSnappy{c})
	}
}
