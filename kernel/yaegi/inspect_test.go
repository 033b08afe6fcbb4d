package yaegi

import (
	"strings"
	"testing"
)

// TestInspectMethodDocs checks that Shift+Tab on a method of a flowlab
// value (IO.Read: datalake's LakeIO.Read through the package variable)
// shows its declaration and doc comment from the generated table, not
// only the method's reflected signature.
func TestInspectMethodDocs(t *testing.T) {
	te := newTestExec(t, Options{Prelude: []string{`import . "github.com/flowlab/flowlab/datalake"`}})
	for _, tc := range []struct {
		code       string
		cursor     int
		decl, want string
	}{
		{"IO.Read", 5, "func (io *LakeIO) Read(path, format, timeRange string) *Frame", "Read returns a lazy Frame"},
		{`IO.Read("/tetration/flows", "PARQUET", `, 39, "func (io *LakeIO) Read(", "Time ranges: LASTHOUR"},
	} {
		insp, ok := te.Inspect(tc.code, tc.cursor, 0)
		if !ok {
			t.Errorf("Inspect(%q, %d): nothing found", tc.code, tc.cursor)
			continue
		}
		plain, _ := insp.Data["text/plain"].(string)
		if !strings.HasPrefix(plain, tc.decl) || !strings.Contains(plain, tc.want) {
			t.Errorf("Inspect(%q, %d):\n%s\nwant %q then %q", tc.code, tc.cursor, plain, tc.decl, tc.want)
		}
	}
}
