package runner

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/flowlab/flowlab/kernel/jupyter"
	"github.com/flowlab/flowlab/userapps"
)

func msg(typ, content string) *jupyter.Message {
	return &jupyter.Message{Header: jupyter.Header{MsgType: typ, Date: "2026-01-02T03:04:05.000000Z"}, Content: json.RawMessage(content)}
}

// TestOutputs applies iopub messages as a front end does and compares the
// cells' outputs with what nbclient writes for the same messages.
func TestOutputs(t *testing.T) {
	nb, err := parseNotebook([]byte(`{"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "flowlab-go"}},
		"cells": [
			{"cell_type": "markdown", "source": ["# ", "title"], "metadata": {}},
			{"cell_type": "code", "source": "a", "execution_count": 9, "outputs": [{"output_type": "stream", "name": "stdout", "text": "stale"}]},
			{"cell_type": "code", "source": "b", "metadata": {"tags": ["x"]}, "outputs": []}
		]}`))
	if err != nil {
		t.Fatal(err)
	}
	nb.resetOutputs()
	for _, m := range []struct {
		cell int
		m    *jupyter.Message
	}{
		{1, msg("status", `{"execution_state": "busy"}`)},
		{1, msg("execute_input", `{"code": "a", "execution_count": 1}`)},
		{1, msg("stream", `{"name": "stdout", "text": "a"}`)},
		{1, msg("stream", `{"name": "stdout", "text": "b\n"}`)},
		{1, msg("stream", `{"name": "stderr", "text": "warn\n"}`)},
		{1, msg("stream", `{"name": "stdout", "text": "c\n"}`)},
		{1, msg("display_data", `{"data": {"text/plain": "0%"}, "metadata": {}, "transient": {"display_id": "p"}}`)},
		{1, msg("execute_result", `{"execution_count": 1, "data": {"text/plain": "42", "text/html": "<b>42</b>"}, "metadata": {}}`)},
		{1, msg("status", `{"execution_state": "idle"}`)},
		{2, msg("execute_input", `{"code": "b", "execution_count": 2}`)},
		{2, msg("update_display_data", `{"data": {"text/plain": "100%"}, "metadata": {"done": true}, "transient": {"display_id": "p"}}`)},
		{2, msg("stream", `{"name": "stdout", "text": "gone"}`)},
		{2, msg("clear_output", `{"wait": true}`)},
		{2, msg("stream", `{"name": "stdout", "text": "still shown until the next output"}`)},
		{2, msg("clear_output", `{"wait": true}`)},
		{2, msg("error", `{"ename": "panic", "evalue": "boom", "traceback": ["panic: boom"]}`)},
		{2, msg("comm_msg", `{}`)},
	} {
		nb.output(m.cell, m.m, "now")
	}
	got, err := nb.marshal()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cells []json.RawMessage `json:"cells"`
	}
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"cell_type":"markdown","metadata":{},"source":["# ","title"]}`,
		`{"cell_type":"code","execution_count":1,"metadata":{"execution":{"iopub.execute_input":"2026-01-02T03:04:05.000000Z","iopub.status.busy":"2026-01-02T03:04:05.000000Z","iopub.status.idle":"2026-01-02T03:04:05.000000Z"}},` +
			`"outputs":[{"name":"stdout","output_type":"stream","text":"ab\n"},{"name":"stderr","output_type":"stream","text":"warn\n"},{"name":"stdout","output_type":"stream","text":"c\n"},` +
			`{"data":{"text/plain":"100%"},"metadata":{"done":true},"output_type":"display_data"},` +
			`{"data":{"text/html":"<b>42</b>","text/plain":"42"},"execution_count":1,"metadata":{},"output_type":"execute_result"}],"source":"a"}`,
		`{"cell_type":"code","execution_count":2,"metadata":{"execution":{"iopub.execute_input":"2026-01-02T03:04:05.000000Z"},"tags":["x"]},` +
			`"outputs":[{"ename":"panic","evalue":"boom","output_type":"error","traceback":["panic: boom"]}],"source":"b"}`,
	}
	for i, c := range doc.Cells {
		var compact strings.Builder
		var v any
		json.Unmarshal(c, &v)
		enc := json.NewEncoder(&compact)
		enc.SetEscapeHTML(false)
		enc.Encode(v)
		if s := strings.TrimSpace(compact.String()); s != want[i] {
			t.Errorf("cell %d:\n%s\nwant\n%s", i, s, want[i])
		}
	}
	if !strings.HasSuffix(string(got), "}\n") || !strings.Contains(string(got), "\n \"cells\": [\n  {") {
		t.Errorf("not nbformat's layout (one-space indent, final newline):\n%s", got)
	}
}

func TestInjectedCellPlacement(t *testing.T) {
	for _, tc := range []struct {
		name, cells string
		minor       int
		at          int
		id          string
	}{
		{"after the parameters cell", `[{"cell_type": "code", "source": "x := 1"}, {"cell_type": "code", "source": "n := 1", "metadata": {"tags": ["parameters"]}}, {"cell_type": "code", "source": ""}]`, 5, 2, "injected-parameters"},
		{"at the top without one", `[{"cell_type": "code", "source": "x := 1"}]`, 5, 0, "injected-parameters"},
		{"old injected cell replaced", `[{"cell_type": "code", "source": "n := 1", "metadata": {"tags": ["parameters"]}}, {"cell_type": "code", "source": "old", "metadata": {"tags": ["injected-parameters"]}}, {"cell_type": "code", "id": "injected-parameters", "source": ""}]`, 5, 1, "injected-parameters-2"},
		{"no id before nbformat 4.5", `[{"cell_type": "markdown", "source": "n := 1", "metadata": {"tags": ["parameters"]}}]`, 4, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nb, err := parseNotebook([]byte(`{"nbformat": 4, "nbformat_minor": ` + string(rune('0'+tc.minor)) + `, "cells": ` + tc.cells + `}`))
			if err != nil {
				t.Fatal(err)
			}
			n := len(nb.cells)
			_, at, err := nb.injectParameters(map[string]any{"n": int64(2)}, "test")
			if err != nil || at != tc.at {
				t.Fatalf("injected at %d (%v), want %d", at, err, tc.at)
			}
			c := nb.cells[at]
			if id, _ := c["id"].(string); !hasTag(c, TagInjectedParameters) || id != tc.id {
				t.Errorf("injected cell %v, want id %q", c, tc.id)
			}
			if strings.Contains(tc.name, "replaced") {
				n--
			}
			if len(nb.cells) != n+1 {
				t.Errorf("%d cells, want %d", len(nb.cells), n+1)
			}
		})
	}
}

func TestParseNotebookRefuses(t *testing.T) {
	for _, in := range []string{``, `[]`, `{"nbformat": 4}`, `{"nbformat": "4", "cells": []}`, `{"nbformat": 4, "cells": [1]}`,
		`{"nbformat": 4, "cells": [{"source": "x"}]}`, `{"nbformat": 4, "cells": [{"cell_type": "code", "source": [1]}]}`} {
		if _, err := parseNotebook([]byte(in)); !errors.Is(err, userapps.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", in, err)
		}
	}
}
