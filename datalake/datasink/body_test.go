package datasink

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseRecords(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   string
		limits Limits
		want   []string
		err    error
		say    string
	}{
		{name: "object", body: `{"host": "10.0.0.1", "os": "xp"}`, want: []string{`{"host":"10.0.0.1","os":"xp"}`}},
		{name: "array", body: " [ {\"a\":1}, {\"b\": [1, 2]} ]\n", want: []string{`{"a":1}`, `{"b":[1,2]}`}},
		{name: "empty array", body: `[]`, want: nil},
		{name: "ndjson", body: "{\"a\":1}\n{\"a\":2}\r\n\n{\"a\":\n3}\n", want: []string{`{"a":1}`, `{"a":2}`, `{"a":3}`}},
		{name: "newline in a string stays escaped", body: `{"msg": "two\nlines"}`, want: []string{`{"msg":"two\nlines"}`}},
		{name: "empty", body: " \n ", err: ErrBadBody, say: "the body is empty"},
		{name: "scalar", body: `42`, err: ErrBadBody, say: "record 0 (line 1) is a number, not a JSON object"},
		{name: "array of strings", body: `["x"]`, err: ErrBadBody, say: "array element 0 is a string"},
		{name: "nested array", body: `[[{"a":1}]]`, err: ErrBadBody, say: "array element 0 is an array"},
		{name: "ndjson with a bad line", body: "{\"a\":1}\n{\"a\":}\n", err: ErrBadBody, say: "record 1"},
		{name: "ndjson with a scalar", body: "{\"a\":1}\nnull\n", err: ErrBadBody, say: "record 1 (line 2) is null"},
		{name: "text after array", body: `[{"a":1}] {"b":2}`, err: ErrBadBody, say: "text after the array"},
		{name: "unterminated array", body: `[{"a":1}`, err: ErrBadBody, say: "does not end"},
		{name: "invalid utf-8", body: "{\"a\":\"\xff\"}", err: ErrBadBody, say: "not UTF-8"},
		{name: "too many", body: `[{}, {}, {}]`, limits: Limits{MaxRecords: 2}, err: ErrTooLarge, say: "more than 2 records"},
		{name: "record too large", body: `{"a": "0123456789"}`, limits: Limits{MaxRecordBytes: 10}, err: ErrTooLarge, say: "over the limit of 10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRecords([]byte(tc.body), tc.limits)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.say) {
					t.Fatalf("error %v, want %v saying %q", err, tc.err, tc.say)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, r := range got {
				s = append(s, string(r))
			}
			if strings.Join(s, "|") != strings.Join(tc.want, "|") {
				t.Errorf("records %q, want %q", s, tc.want)
			}
		})
	}
}

// FuzzParseRecords: whatever the body, ParseRecords either fails with one
// of its sentinels or returns records that are each one valid JSON object
// on one line, and parsing their NDJSON again gives the same records.
func FuzzParseRecords(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[{"a":1},{"b":"x"}]`, "{\"a\":1}\n{\"b\":2}\n", `[]`, `[`, `{"a":"\u00e9\n"}`, "\xef\xbb\xbf{}", `{"a":[{"b":{}}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		recs, err := ParseRecords(body, Limits{MaxRecords: 1000, MaxRecordBytes: 1 << 16})
		if err != nil {
			if !errors.Is(err, ErrBadBody) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		var nd bytes.Buffer
		for _, r := range recs {
			if bytes.ContainsAny(r, "\n\r") || !json.Valid(r) || r[0] != '{' {
				t.Fatalf("record %q is not one JSON object on one line", r)
			}
			nd.Write(r)
			nd.WriteByte('\n')
		}
		if len(recs) == 0 {
			return
		}
		again, err := ParseRecords(nd.Bytes(), Limits{MaxRecords: 1000, MaxRecordBytes: 1 << 16})
		if err != nil || len(again) != len(recs) {
			t.Fatalf("records %q do not parse again: %v", recs, err)
		}
		for i := range again {
			if !bytes.Equal(again[i], recs[i]) {
				t.Fatalf("record %d changed: %q then %q", i, recs[i], again[i])
			}
		}
	})
}
