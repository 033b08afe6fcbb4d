package display

import (
	"encoding/base64"
	"errors"
	"image"
	"image/color"
	"strings"
	"sync"
	"testing"

	"github.com/flowlab/flowlab/kernel/internal/publish"
)

type point struct{ X, Y int }

type custom struct{}

func (custom) MIMEBundle() map[string]any { return map[string]any{MIMEHTML: "<b>x</b>"} }

type panicky struct{}

func (panicky) String() string { panic("no") }

func TestRender(t *testing.T) {
	var nilErr error
	var nilPtr *point
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	img.Set(1, 1, color.White)
	tests := []struct {
		name  string
		value any
		want  map[string]string // MIME type -> substring expected
	}{
		{"nil", nil, map[string]string{MIMEText: "<nil>"}},
		{"string is quoted", "a\nb", map[string]string{MIMEText: `"a\nb"`}},
		{"int", 42, map[string]string{MIMEText: "42"}},
		{"struct names fields", point{1, 2}, map[string]string{MIMEText: "{X:1 Y:2}"}},
		{"nil pointer", nilPtr, map[string]string{MIMEText: "<nil>"}},
		{"error", errors.New("bad thing"), map[string]string{MIMEText: "bad thing"}},
		{"nil error", nilErr, map[string]string{MIMEText: "<nil>"}},
		{"html", HTML("<p>a &amp; b</p>"), map[string]string{MIMEHTML: "<p>a &amp; b</p>", MIMEText: "a & b"}},
		{"markdown", Markdown("# T"), map[string]string{MIMEMarkdown: "# T", MIMEText: "# T"}},
		{"svg", SVG("<svg/>"), map[string]string{MIMESVG: "<svg/>", MIMEText: "SVG"}},
		{"image", img, map[string]string{MIMEText: "<PNG image 3×2>"}},
		{"custom bundler gets text/plain", custom{}, map[string]string{MIMEHTML: "<b>x</b>", MIMEText: "{}"}},
		{"stringer that panics", panicky{}, map[string]string{MIMEText: "formatting panicked"}},
		{"text", Text("raw"), map[string]string{MIMEText: "raw"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Render(tt.value)
			for mime, sub := range tt.want {
				s, ok := got[mime].(string)
				if !ok {
					t.Fatalf("Render(%v)[%s] missing in %v", tt.value, mime, got)
				}
				if !strings.Contains(s, sub) {
					t.Errorf("Render(%v)[%s] = %q, want it to contain %q", tt.value, mime, s, sub)
				}
			}
		})
	}
}

func TestImageIsBase64PNG(t *testing.T) {
	b := Image(image.NewGray(image.Rect(0, 0, 4, 4)))
	raw, err := base64.StdEncoding.DecodeString(b[MIMEPNG].(string))
	if err != nil {
		t.Fatal(err)
	}
	if string(raw[1:4]) != "PNG" {
		t.Fatalf("not a PNG: % x", raw[:8])
	}
}

func TestJSON(t *testing.T) {
	b := JSON(map[string]int{"a": 1})
	tree, ok := b[MIMEJSON].(map[string]any)
	if !ok || tree["a"] != float64(1) {
		t.Fatalf("application/json = %#v", b[MIMEJSON])
	}
	if b := JSON(func() {}); !strings.Contains(b[MIMEText].(string), "unsupported type") {
		t.Fatalf("unencodable value: %v", b)
	}
}

func TestRenderTuple(t *testing.T) {
	got := RenderTuple([]any{3, nil, "x"})[MIMEText]
	if got != `(3, <nil>, "x")` {
		t.Fatalf("got %v", got)
	}
}

func TestShowAndUpdatePublish(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	var types []string
	publish.Set(func(msgType string, content map[string]any) {
		mu.Lock()
		defer mu.Unlock()
		types = append(types, msgType)
		got = append(got, content)
	})
	t.Cleanup(func() { publish.Set(nil) })

	id := Show(Markdown("one"))
	Update(id, Markdown("two"))
	Clear(true)

	if strings.Join(types, ",") != "display_data,update_display_data,clear_output" {
		t.Fatalf("types = %v", types)
	}
	for i, c := range got[:2] {
		tr := c["transient"].(map[string]any)
		if tr["display_id"] != id {
			t.Errorf("message %d display_id = %v, want %v", i, tr["display_id"], id)
		}
	}
	if got[1]["data"].(map[string]any)[MIMEMarkdown] != "two" {
		t.Errorf("update data = %v", got[1]["data"])
	}
	if got[2]["wait"] != true {
		t.Errorf("clear content = %v", got[2])
	}
	if id2 := Show(1); id2 == id {
		t.Errorf("display ids repeat: %s", id)
	}
}
