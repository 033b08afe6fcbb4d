package runner

import (
	"encoding/json"
	"errors"
	"go/parser"
	"go/token"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/flowlab/flowlab/userapps"
)

func TestParseParameter(t *testing.T) {
	for _, tc := range []struct {
		arg, name string
		value     Text
		bad       bool
	}{
		{arg: "threshold=5", name: "threshold", value: "5"},
		{arg: "hour=202611230800", name: "hour", value: "202611230800"},
		{arg: "query=a=b", name: "query", value: "a=b"},
		{arg: "empty=", name: "empty", value: ""},
		{arg: "λ=1", name: "λ", value: "1"},
		{arg: "_x=  spaced  ", name: "_x", value: "  spaced  "},
		{arg: "noequals", bad: true},
		{arg: "=5", bad: true},
		{arg: "a-b=1", bad: true},
		{arg: "1st=1", bad: true},
		{arg: "func=1", bad: true},
		{arg: "_=1", bad: true},
		{arg: " x=1", bad: true},
	} {
		t.Run(tc.arg, func(t *testing.T) {
			name, value, err := ParseParameter(tc.arg)
			if tc.bad {
				if !errors.Is(err, userapps.ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil || name != tc.name || value != tc.value {
				t.Fatalf("= %q, %q, %v; want %q, %q", name, value, err, tc.name, tc.value)
			}
		})
	}
}

func TestTyped(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		k    kind
		want any // nil: an error
		lit  string
	}{
		{"int", Text("5"), kindUnknown, int64(5), "5"},
		{"negative int", Text("-12"), kindUnknown, int64(-12), "-12"},
		{"leading zeros", Text("007"), kindUnknown, int64(7), "7"},
		{"float", Text("2.5"), kindUnknown, 2.5, "2.5"},
		{"exponent", Text("1e3"), kindUnknown, 1000.0, "1000.0"},
		{"int beyond 64 bits", Text("99999999999999999999"), kindUnknown, 1e20, "1e+20"},
		{"bool", Text("true"), kindUnknown, true, "true"},
		{"Python bool", Text("False"), kindUnknown, false, "false"},
		{"not a bool", Text("t"), kindUnknown, "t", `"t"`},
		{"inf stays text", Text("Inf"), kindUnknown, "Inf", `"Inf"`},
		{"nan stays text", Text("NaN"), kindUnknown, "NaN", `"NaN"`},
		{"string", Text("port scan"), kindUnknown, "port scan", `"port scan"`},
		{"empty", Text(""), kindUnknown, "", `""`},
		{"quotes and newline", Text("a\"b\nc"), kindUnknown, "a\"b\nc", `"a\"b\nc"`},
		{"declared string keeps digits", Text("0800"), kindString, "0800", `"0800"`},
		{"declared float from int text", Text("2"), kindFloat, 2.0, "2.0"},
		{"declared int", Text("5"), kindInt, int64(5), "5"},
		{"declared int refuses text", Text("many"), kindInt, nil, ""},
		{"declared int refuses float text", Text("2.5"), kindInt, nil, ""},
		{"declared bool", Text("TRUE"), kindBool, true, "true"},
		{"declared bool refuses 1", Text("1"), kindBool, nil, ""},
		{"raw string stays a string", "5", kindUnknown, "5", `"5"`},
		{"raw string refused for int", "5", kindInt, nil, ""},
		{"int for float", int64(3), kindFloat, int64(3), "3"},
		{"integral float for int", 3.0, kindInt, int64(3), "3"},
		{"fractional float for int", 3.5, kindInt, nil, ""},
		{"float", 0.1, kindUnknown, 0.1, "0.1"},
		{"negative zero", math.Copysign(0, -1), kindUnknown, math.Copysign(0, -1), "-0.0"},
		{"bool for string", true, kindString, nil, ""},
		{"infinite float", math.Inf(1), kindUnknown, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := typed("p", tc.v, tc.k)
			if tc.want == nil {
				if !errors.Is(err, userapps.ErrInvalid) {
					t.Fatalf("= %#v, %v; want ErrInvalid", got, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("= %#v, %v; want %#v", got, err, tc.want)
			}
			if lit := literal(got); lit != tc.lit {
				t.Errorf("literal %s, want %s", lit, tc.lit)
			}
		})
	}
}

func TestDeclarations(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      map[string]decl
	}{
		{"short var", "threshold := 10", map[string]decl{"threshold": {kind: kindInt}}},
		{"several", "a, b := 1.5, \"x\"\nc := true", map[string]decl{"a": {kind: kindFloat}, "b": {kind: kindString}, "c": {kind: kindBool}}},
		{"var with type", "var hour string\nvar n, m int64 = 1, 2", map[string]decl{"hour": {kind: kindString}, "n": {kind: kindInt}, "m": {kind: kindInt}}},
		{"var group", "var (\n\tx = -3\n\ty = 2 * 1.5\n)", map[string]decl{"x": {kind: kindInt}, "y": {kind: kindFloat}}},
		{"const", "const limit = 100", map[string]decl{"limit": {kind: kindInt, isConst: true}}},
		{"conversion", "ratio := float64(1)\nwindow := time.Hour", map[string]decl{"ratio": {kind: kindFloat}, "window": {}}},
		{"assignment keeps the type", "n := 1\nn = 2\nm = 3\nn += 1", map[string]decl{"n": {kind: kindInt}, "m": {}}},
		{"rune and string sum", "r := 'a'\ns := \"a\" + \"b\"", map[string]decl{"r": {kind: kindInt}, "s": {kind: kindString}}},
		{"magics and comments", "%env X=1\n// defaults\nthreshold := 10 // scans", map[string]decl{"threshold": {kind: kindInt}}},
		{"top-level declarations", "import \"time\"\nvar since = \"LASTHOUR\"\nfunc f() {}", map[string]decl{"since": {kind: kindString}}},
		{"blank ignored", "_ = 1\n_, x := 1, 2", map[string]decl{"x": {kind: kindInt}}},
		{"does not parse", "threshold := ", map[string]decl{}},
		{"empty", "", map[string]decl{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := declarations(tc.src); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("= %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestInject(t *testing.T) {
	params := map[string]any{"threshold": Text("5"), "hour": "0800", "limit": int64(7), "extra": Text("x")}
	inj, err := inject(params, "threshold := 10\nvar hour string\nconst limit = 1", true, "schedule\nnightly")
	if err != nil {
		t.Fatal(err)
	}
	want := `// Parameters injected by flowlab from schedule nightly; they override the parameters cell above.
extra := "x"
hour = "0800"
const limit = 7
threshold = 5`
	if inj.Source != want {
		t.Errorf("source:\n%s\nwant:\n%s", inj.Source, want)
	}
	if len(inj.Notices) != 1 || !strings.Contains(inj.Notices[0], `"extra"`) {
		t.Errorf("notices %q", inj.Notices)
	}
	if !reflect.DeepEqual(inj.Values, map[string]any{"threshold": int64(5), "hour": "0800", "limit": int64(7), "extra": "x"}) {
		t.Errorf("values %v", inj.Values)
	}

	inj, err = inject(map[string]any{"n": 1}, "", false, "")
	if err != nil || inj.Source != "// Parameters injected by flowlab from the caller.\nn := 1" || len(inj.Notices) != 1 {
		t.Errorf("without a parameters cell: %q, %q, %v", inj.Source, inj.Notices, err)
	}
	if _, err := inject(map[string]any{"n": []int{1}}, "", false, ""); !errors.Is(err, userapps.ErrInvalid) {
		t.Errorf("a list: %v, want ErrInvalid", err)
	}
}

func TestParseJSONParameters(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]any // nil: an error
	}{
		{`{"threshold": 5, "ratio": 0.5, "hour": "0800", "on": true}`, map[string]any{"threshold": int64(5), "ratio": 0.5, "hour": "0800", "on": true}},
		{`{"big": 1e3, "neg": -2}`, map[string]any{"big": 1000.0, "neg": int64(-2)}},
		{`{}`, map[string]any{}},
		{`{"a": null}`, nil},
		{`{"a": [1]}`, nil},
		{`{"a": {}}`, nil},
		{`{"not-go": 1}`, nil},
		{`[1]`, nil},
		{`null`, nil},
		{`{"a": 1} {}`, nil},
		{`{"a": 1e999}`, nil},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseJSONParameters([]byte(tc.in))
			if tc.want == nil {
				if !errors.Is(err, userapps.ErrInvalid) {
					t.Fatalf("= %v, %v; want ErrInvalid", got, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("= %#v, %v; want %#v", got, err, tc.want)
			}
		})
	}
}

// FuzzInjectParameters checks, for any command-line parameter and any
// parameters cell, that parsing and injection never panic, and that the
// injected cell is Go that parses and gives the parameter the value typed
// (a string's bytes kept exactly).
func FuzzInjectParameters(f *testing.F) {
	f.Add("threshold=5", "threshold := 10")
	f.Add("hour=202611230800", "var hour string")
	f.Add("ratio=2", "ratio := 0.5")
	f.Add("label=a\"b\\c\nd", "")
	f.Add("on=True", "const on = false")
	f.Add("x=\xff\xfe", "x = 1")
	f.Add("n=-0", "%magic\nn := int64(1)")
	f.Fuzz(func(t *testing.T, arg, cell string) {
		name, value, err := ParseParameter(arg)
		if err != nil {
			if !errors.Is(err, userapps.ErrInvalid) {
				t.Fatalf("ParseParameter(%q): %v is not ErrInvalid", arg, err)
			}
			return
		}
		inj, err := inject(map[string]any{name: value}, cell, true, "fuzz")
		if err != nil {
			if !errors.Is(err, userapps.ErrInvalid) {
				t.Fatalf("inject: %v is not ErrInvalid", err)
			}
			return
		}
		fset := token.NewFileSet()
		if _, err := parser.ParseFile(fset, "", "package p\nfunc _() {\n"+inj.Source+"\n}", 0); err != nil {
			t.Fatalf("injected cell does not parse: %v\n%s", err, inj.Source)
		}
		lines := strings.Split(inj.Source, "\n")
		last := lines[len(lines)-1]
		lit := last[strings.LastIndex(last, "= ")+2:]
		switch v := inj.Values[name].(type) {
		case string:
			if s, err := strconv.Unquote(lit); err != nil || s != v || (value != Text(v)) {
				t.Fatalf("string %q written as %s (%q, %v)", value, lit, s, err)
			}
		case int64:
			if i, err := strconv.ParseInt(lit, 10, 64); err != nil || i != v {
				t.Fatalf("int %d written as %s", v, lit)
			}
		case float64:
			if x, err := strconv.ParseFloat(lit, 64); err != nil || x != v || !strings.ContainsAny(lit, ".e") {
				t.Fatalf("float %v written as %s", v, lit)
			}
		case bool:
			if lit != strconv.FormatBool(v) {
				t.Fatalf("bool %v written as %s", v, lit)
			}
		default:
			t.Fatalf("value %T", v)
		}
		if _, err := json.Marshal(inj.Source); err != nil {
			t.Fatal(err)
		}
	})
}
