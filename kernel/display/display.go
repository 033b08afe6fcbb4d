// Package display renders values in notebook front ends. Cells use it to show
// HTML, Markdown, images and JSON, and to update an output in place:
//
//	id := display.Show(display.Markdown("starting…"))
//	for i := 1; i <= 10; i++ {
//		display.Update(id, display.Markdown(fmt.Sprintf("step %d of 10", i)))
//	}
//
// A value renders through the MIMEBundler interface when it implements it
// (datalake frames and charts do), as PNG when it is an image.Image, and as
// text otherwise. Every bundle carries text/plain, so saved notebooks read well
// in any client. The functions are safe for concurrent use; outside a kernel,
// Show and Update print the text/plain form to standard output.
package display

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"image"
	_ "image/gif"  // registered so DecodeConfig reads any common format
	_ "image/jpeg" // registered so JPEG sizes can be read
	"image/png"
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/flowlab/flowlab/kernel/internal/publish"
)

// MIME types the package produces.
const (
	MIMEText     = "text/plain"
	MIMEHTML     = "text/html"
	MIMEMarkdown = "text/markdown"
	MIMEJSON     = "application/json"
	MIMEPNG      = "image/png"
	MIMEJPEG     = "image/jpeg"
	MIMESVG      = "image/svg+xml"
)

// MIMEBundler is implemented by values that know how to show themselves. The
// map's keys are MIME types; text values are strings, images are base64
// strings, application/json values are any JSON-encodable value.
type MIMEBundler interface {
	MIMEBundle() map[string]any
}

// Bundle is a ready-made MIME bundle. It implements MIMEBundler, so a Bundle
// as a cell's last value is shown like any other renderable value.
type Bundle map[string]any

// MIMEBundle implements MIMEBundler.
func (b Bundle) MIMEBundle() map[string]any { return b }

var _ MIMEBundler = Bundle(nil)

// HTML shows s as HTML. The text/plain form is s without its tags.
func HTML(s string) Bundle {
	return Bundle{MIMEHTML: s, MIMEText: stripTags(s)}
}

// Markdown shows s as Markdown (CommonMark with GitHub tables in JupyterLab).
func Markdown(s string) Bundle {
	return Bundle{MIMEMarkdown: s, MIMEText: s}
}

// Text shows s as plain text, without the quotes a string value gets.
func Text(s string) Bundle {
	return Bundle{MIMEText: s}
}

// JSON shows v as an interactive JSON tree where the front end supports it,
// and as indented JSON text elsewhere. A value that cannot be encoded shows
// the encoding error as text.
func JSON(v any) Bundle {
	raw, err := json.Marshal(v)
	if err != nil {
		return Bundle{MIMEText: "display.JSON: " + err.Error()}
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return Bundle{MIMEText: "display.JSON: " + err.Error()}
	}
	var pretty bytes.Buffer
	_ = json.Indent(&pretty, raw, "", "  ")
	return Bundle{MIMEJSON: tree, MIMEText: pretty.String()}
}

// PNG shows PNG-encoded image data.
func PNG(data []byte) Bundle {
	return imageBundle(MIMEPNG, "PNG", data)
}

// JPEG shows JPEG-encoded image data.
func JPEG(data []byte) Bundle {
	return imageBundle(MIMEJPEG, "JPEG", data)
}

// SVG shows an SVG document, for example a chart rendered on the server.
func SVG(svg string) Bundle {
	return Bundle{MIMESVG: svg, MIMEText: "<SVG image>"}
}

// Image shows img as PNG. An image that fails to encode shows the error.
func Image(img image.Image) Bundle {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Bundle{MIMEText: "display.Image: " + err.Error()}
	}
	return PNG(buf.Bytes())
}

func imageBundle(mime, kind string, data []byte) Bundle {
	desc := "<" + kind + " image>"
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
		desc = fmt.Sprintf("<%s image %d×%d>", kind, cfg.Width, cfg.Height)
	}
	return Bundle{mime: base64.StdEncoding.EncodeToString(data), MIMEText: desc}
}

// Show displays v now, below the running cell, and returns the display id
// that Update uses to replace it.
func Show(v any) string {
	id := newID()
	emit(publish.DisplayData, id, v)
	return id
}

// Update replaces every output shown under id (by Show) with v.
func Update(id string, v any) {
	emit(publish.UpdateDisplayData, id, v)
}

// Clear clears the cell's output. With wait true the front end clears it only
// when the next output arrives, which avoids flicker in progress displays.
func Clear(wait bool) {
	if !publish.Emit(publish.ClearOutput, map[string]any{"wait": wait}) {
		fmt.Fprint(os.Stdout, "\n")
	}
}

func emit(msgType, id string, v any) {
	data := Render(v)
	content := map[string]any{
		"data":      data,
		"metadata":  map[string]any{},
		"transient": map[string]any{"display_id": id},
	}
	if !publish.Emit(msgType, content) {
		fmt.Fprintln(os.Stdout, data[MIMEText])
	}
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Render returns the MIME bundle for v: its own bundle when it implements
// MIMEBundler, PNG for an image.Image, text/plain otherwise. The result always
// has a text/plain entry and is safe to modify.
func Render(v any) (out map[string]any) {
	defer func() {
		if r := recover(); r != nil {
			out = map[string]any{MIMEText: fmt.Sprintf("<%T: rendering panicked: %v>", v, r)}
		}
	}()
	switch x := v.(type) {
	case MIMEBundler:
		if isNil(x) {
			break
		}
		b := x.MIMEBundle()
		out = make(map[string]any, len(b)+1)
		for k, val := range b {
			out[k] = val
		}
	case image.Image:
		if !isNil(x) {
			out = map[string]any(Image(x))
		}
	}
	if out == nil {
		out = map[string]any{}
	}
	if _, ok := out[MIMEText]; !ok {
		out[MIMEText] = Plain(v)
	}
	return out
}

// RenderTuple returns the bundle for the several values of a multi-valued
// expression: text/plain "(v1, v2, ...)" with each value in its Plain form.
func RenderTuple(vs []any) map[string]any {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = Plain(v)
	}
	return map[string]any{MIMEText: "(" + strings.Join(parts, ", ") + ")"}
}

// Plain is the text form of a value as the kernel shows it: strings quoted,
// struct fields named, errors and Stringers by their message.
func Plain(v any) (s string) {
	defer func() {
		if r := recover(); r != nil {
			s = fmt.Sprintf("<%T: formatting panicked: %v>", v, r)
		}
	}()
	switch x := v.(type) {
	case nil:
		return "<nil>"
	case string:
		return strconv.Quote(x)
	case error:
		if isNil(x) {
			return "<nil>"
		}
		return x.Error()
	case fmt.Stringer:
		if isNil(x) {
			return "<nil>"
		}
		return x.String()
	}
	return fmt.Sprintf("%+v", v)
}

// isNil reports whether an interface holds a nil pointer, map, slice, func or
// channel, whose methods would likely panic.
func isNil(v any) bool {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// stripTags turns an HTML fragment into readable text for text/plain.
func stripTags(s string) string {
	var b strings.Builder
	inTag := false
	for _, r := range s {
		switch {
		case r == '<':
			inTag = true
		case r == '>' && inTag:
			inTag = false
			b.WriteByte(' ')
		case !inTag:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(html.UnescapeString(b.String())), " ")
}
