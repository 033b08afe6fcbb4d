package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/flowlab/flowlab/kernel/jupyter"
	"github.com/flowlab/flowlab/userapps"
)

// Cell tags the runner acts on (papermill's and nbclient's conventions).
const (
	// TagParameters marks the cell whose defaults the injected parameters
	// override; they are injected right after it.
	TagParameters = "parameters"
	// TagInjectedParameters marks the cell the runner injects. An executed
	// notebook run again has its old injected cell replaced.
	TagInjectedParameters = "injected-parameters"
	// TagRaisesException marks a cell whose error does not stop the run.
	TagRaisesException = "raises-exception"
	// TagSkipExecution marks a code cell the runner does not run.
	TagSkipExecution = "skip-execution"
)

// notebook is an nbformat 4 document being executed. It keeps every field
// it does not know as decoded (numbers as json.Number), so what the runner
// does not touch is written back unchanged. Not safe for concurrent use:
// the run holds its mutex.
type notebook struct {
	doc   map[string]any
	cells []map[string]any
	// displays maps a display_id to the outputs showing it, for
	// update_display_data.
	displays map[string][]displayRef
	// clearNext holds the cells whose outputs a clear_output(wait=True)
	// clears when their next output arrives.
	clearNext map[int]bool
}

type displayRef struct {
	cell int
	out  map[string]any
}

// parseNotebook decodes an nbformat 4 notebook. Errors wrap
// userapps.ErrInvalid.
func parseNotebook(data []byte) (*notebook, error) {
	bad := func(format string, args ...any) (*notebook, error) {
		return nil, fmt.Errorf("the notebook %s: %w", fmt.Sprintf(format, args...), userapps.ErrInvalid)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil || doc == nil {
		return bad("is not a JSON object (%v)", err)
	}
	if n, _ := doc["nbformat"].(json.Number); n.String() != "4" {
		return bad("is not nbformat 4 (nbformat is %v)", doc["nbformat"])
	}
	raw, ok := doc["cells"].([]any)
	if !ok {
		return bad("has no list of cells")
	}
	nb := &notebook{doc: doc, displays: map[string][]displayRef{}, clearNext: map[int]bool{}}
	for i, c := range raw {
		cell, ok := c.(map[string]any)
		if !ok {
			return bad("cell %d is not an object", i)
		}
		if _, ok := cell["cell_type"].(string); !ok {
			return bad("cell %d has no cell_type", i)
		}
		if _, err := source(cell); err != nil {
			return bad("cell %d: %v", i, err)
		}
		if _, ok := cell["metadata"].(map[string]any); !ok {
			cell["metadata"] = map[string]any{}
		}
		nb.cells = append(nb.cells, cell)
	}
	if _, ok := doc["metadata"].(map[string]any); !ok {
		doc["metadata"] = map[string]any{}
	}
	return nb, nil
}

// source returns a cell's source: nbformat's multiline string, a string or
// a list of strings.
func source(cell map[string]any) (string, error) {
	switch s := cell["source"].(type) {
	case nil:
		return "", nil
	case string:
		return s, nil
	case []any:
		var b strings.Builder
		for _, part := range s {
			p, ok := part.(string)
			if !ok {
				return "", fmt.Errorf("source holds a %T", part)
			}
			b.WriteString(p)
		}
		return b.String(), nil
	}
	return "", fmt.Errorf("source is a %T", cell["source"])
}

func isCode(cell map[string]any) bool { return cell["cell_type"] == "code" }

func hasTag(cell map[string]any, tag string) bool {
	md, _ := cell["metadata"].(map[string]any)
	tags, _ := md["tags"].([]any)
	return slices.Contains(tags, any(tag))
}

// minor is the notebook's nbformat_minor (0 if absent).
func (nb *notebook) minor() int {
	n, _ := nb.doc["nbformat_minor"].(json.Number)
	m, _ := strconv.Atoi(n.String())
	return m
}

// injectParameters removes an injected cell left by an earlier run and adds
// a new one for params after the first cell tagged parameters (first in
// the notebook when there is none). No parameters, no cell. It returns the
// injection (Values nil without parameters) and the index of the new cell
// (-1 without).
func (nb *notebook) injectParameters(params map[string]any, from string) (injection, int, error) {
	nb.cells = slices.DeleteFunc(nb.cells, func(c map[string]any) bool { return hasTag(c, TagInjectedParameters) })
	if len(params) == 0 {
		return injection{}, -1, nil
	}
	at, src := 0, ""
	for i, c := range nb.cells {
		if isCode(c) && hasTag(c, TagParameters) {
			at = i + 1
			src, _ = source(c)
			break
		}
	}
	inj, err := inject(params, src, at > 0, from)
	if err != nil {
		return injection{}, -1, err
	}
	cell := map[string]any{
		"cell_type":       "code",
		"execution_count": nil,
		"metadata":        map[string]any{"tags": []any{TagInjectedParameters}},
		"outputs":         []any{},
		"source":          inj.Source,
	}
	if nb.minor() >= 5 { // cell ids exist from nbformat 4.5 on
		cell["id"] = nb.freeID(TagInjectedParameters)
	}
	nb.cells = slices.Insert(nb.cells, at, cell)
	return inj, at, nil
}

// freeID returns base, or base-N, whichever no cell has as its id.
func (nb *notebook) freeID(base string) string {
	taken := map[any]bool{}
	for _, c := range nb.cells {
		taken[c["id"]] = true
	}
	id := base
	for n := 2; taken[id]; n++ {
		id = fmt.Sprintf("%s-%d", base, n)
	}
	return id
}

// resetOutputs clears every code cell's outputs, execution count and
// execution timestamps, so a cell the run never reaches shows nothing
// stale.
func (nb *notebook) resetOutputs() {
	for _, c := range nb.cells {
		if isCode(c) {
			c["outputs"] = []any{}
			c["execution_count"] = nil
			delete(c["metadata"].(map[string]any), "execution")
		}
	}
}

// setRunMetadata records the run in the notebook's metadata under
// "flowlab", as papermill does under "papermill".
func (nb *notebook) setRunMetadata(run map[string]any) {
	md := nb.doc["metadata"].(map[string]any)
	fl, _ := md["flowlab"].(map[string]any)
	if fl == nil {
		fl = map[string]any{}
		md["flowlab"] = fl
	}
	fl["run"] = run
}

// marshal encodes the notebook as nbformat writes it: one-space indent,
// sorted keys, no HTML escaping, a final newline.
func (nb *notebook) marshal() ([]byte, error) {
	cells := make([]any, len(nb.cells))
	for i, c := range nb.cells {
		cells[i] = c
	}
	nb.doc["cells"] = cells
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(nb.doc); err != nil {
		return nil, fmt.Errorf("encode the notebook: %w", err)
	}
	return buf.Bytes(), nil
}

// stamp records a message's time in the cell's metadata.execution, as
// nbclient does (its keys: iopub.status.busy, iopub.execute_input,
// shell.execute_reply, iopub.status.idle).
func (nb *notebook) stamp(i int, key, date string) {
	md := nb.cells[i]["metadata"].(map[string]any)
	ex, _ := md["execution"].(map[string]any)
	if ex == nil {
		ex = map[string]any{}
		md["execution"] = ex
	}
	ex[key] = date
}

// setCount sets a cell's execution count.
func (nb *notebook) setCount(i int, n int) {
	nb.cells[i]["execution_count"] = n
}

// output applies one iopub message of cell i's execution to the notebook
// as Jupyter front ends do: streams of the same name merge, display data
// with a display_id is updated in place by update_display_data (in any
// cell), clear_output clears (at once, or at the next output with wait).
// now is the fallback timestamp for messages without a date. It reports
// whether the notebook changed.
func (nb *notebook) output(i int, m *jupyter.Message, now string) bool {
	var c map[string]any
	dec := json.NewDecoder(bytes.NewReader(m.Content))
	dec.UseNumber()
	if dec.Decode(&c) != nil || c == nil {
		return false
	}
	date := m.Header.Date
	if date == "" {
		date = now
	}
	cell := nb.cells[i]
	switch m.Type() {
	case "status":
		switch c["execution_state"] {
		case "busy":
			nb.stamp(i, "iopub.status.busy", date)
		case "idle":
			nb.stamp(i, "iopub.status.idle", date)
		}
		return false
	case "execute_input":
		nb.stamp(i, "iopub.execute_input", date)
		if n, ok := c["execution_count"].(json.Number); ok {
			cell["execution_count"] = n
		}
		return true
	case "clear_output":
		if w, _ := c["wait"].(bool); w {
			nb.clearNext[i] = true
			return false
		}
		nb.clear(i)
		return true
	case "update_display_data":
		id, _ := transient(c)
		for _, ref := range nb.displays[id] {
			ref.out["data"] = orEmpty(c["data"])
			ref.out["metadata"] = orEmpty(c["metadata"])
		}
		return len(nb.displays[id]) > 0
	}
	var out map[string]any
	switch m.Type() {
	case "stream":
		name, _ := c["name"].(string)
		text, _ := c["text"].(string)
		if nb.clearNext[i] {
			nb.clear(i)
		}
		outs := cell["outputs"].([]any)
		if n := len(outs); n > 0 {
			if last := outs[n-1].(map[string]any); last["output_type"] == "stream" && last["name"] == name {
				last["text"] = last["text"].(string) + text
				return true
			}
		}
		out = map[string]any{"output_type": "stream", "name": name, "text": text}
	case "display_data":
		out = map[string]any{"output_type": "display_data", "data": orEmpty(c["data"]), "metadata": orEmpty(c["metadata"])}
	case "execute_result":
		out = map[string]any{"output_type": "execute_result", "data": orEmpty(c["data"]), "metadata": orEmpty(c["metadata"]), "execution_count": c["execution_count"]}
	case "error":
		tb, _ := c["traceback"].([]any)
		if tb == nil {
			tb = []any{}
		}
		out = map[string]any{"output_type": "error", "ename": c["ename"], "evalue": c["evalue"], "traceback": tb}
	default:
		return false
	}
	if nb.clearNext[i] {
		nb.clear(i)
	}
	cell["outputs"] = append(cell["outputs"].([]any), out)
	if id, ok := transient(c); ok {
		nb.displays[id] = append(nb.displays[id], displayRef{cell: i, out: out})
	}
	return true
}

// clear empties cell i's outputs and forgets the displays they held.
func (nb *notebook) clear(i int) {
	delete(nb.clearNext, i)
	nb.cells[i]["outputs"] = []any{}
	for id, refs := range nb.displays {
		refs = slices.DeleteFunc(refs, func(r displayRef) bool { return r.cell == i })
		if len(refs) == 0 {
			delete(nb.displays, id)
		} else {
			nb.displays[id] = refs
		}
	}
}

// transient returns the display_id of a display message, if any.
func transient(c map[string]any) (string, bool) {
	t, _ := c["transient"].(map[string]any)
	id, ok := t["display_id"].(string)
	return id, ok && id != ""
}

func orEmpty(v any) any {
	if v == nil {
		return map[string]any{}
	}
	return v
}
