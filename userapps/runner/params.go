package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/flowlab/flowlab/userapps"
)

// Text is a parameter value given as text (`flowlab run -p name=value`),
// typed when it is injected: as the parameters cell declares the name (an
// integer, float, bool or string type, or a literal of one), else as the
// first of int, float64 and bool that parses the whole text, else as a
// string. A string value (`-r name=value`, a JSON string) is never retyped.
type Text string

// ParseParameter splits a command-line parameter NAME=VALUE at its first
// '=' and checks that NAME is a Go identifier (not a keyword, not "_").
// The value is kept as Text, typed at injection. Errors wrap
// userapps.ErrInvalid and say what to write instead.
func ParseParameter(arg string) (string, Text, error) {
	name, value, ok := strings.Cut(arg, "=")
	if !ok {
		return "", "", fmt.Errorf("parameter %q: write NAME=VALUE: %w", arg, userapps.ErrInvalid)
	}
	if err := checkName(name); err != nil {
		return "", "", err
	}
	return name, Text(value), nil
}

// checkName checks that a parameter name can be a Go variable.
func checkName(name string) error {
	if !token.IsIdentifier(name) || name == "_" {
		return fmt.Errorf("parameter name %q is not a Go identifier (letters, digits and _, not starting with a digit, not a keyword): %w", name, userapps.ErrInvalid)
	}
	return nil
}

// ParseJSONParameters decodes a JSON object of parameters (a schedule's
// parameters column) into values Job.Parameters accepts: strings, bools,
// int64 for integral numbers and float64 for the others. Arrays, objects
// and null are refused: a parameter is one Go constant. Errors wrap
// userapps.ErrInvalid.
func ParseJSONParameters(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return nil, fmt.Errorf("parameters are not a JSON object (%v): %w", err, userapps.ErrInvalid)
	}
	if dec.More() {
		return nil, fmt.Errorf("parameters: text after the JSON object: %w", userapps.ErrInvalid)
	}
	out := make(map[string]any, len(raw))
	for name, v := range raw {
		if err := checkName(name); err != nil {
			return nil, err
		}
		nv, err := normalize(name, v)
		if err != nil {
			return nil, err
		}
		out[name] = nv
	}
	return out, nil
}

// kind is the basic type family a parameters cell gives a name.
type kind int

const (
	kindUnknown kind = iota
	kindInt
	kindFloat
	kindString
	kindBool
)

func (k kind) String() string {
	return [...]string{"of an unknown type", "an integer", "a float", "a string", "a bool"}[k]
}

// decl is what the parameters cell says about one name.
type decl struct {
	kind    kind
	isConst bool
}

// declarations finds the names the parameters cell declares or assigns at
// its top level (`x := 1`, `var x float64`, `const x = "a"`, `x = 2`) and
// their types where a literal or a basic type name says. It is best effort:
// source that does not parse as statements or as declarations gives none.
func declarations(src string) map[string]decl {
	lines := strings.Split(src, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "%") {
			lines[i] = "" // a magic, the kernel's business
		}
	}
	src = strings.Join(lines, "\n")
	out := map[string]decl{}
	fset := token.NewFileSet()
	if f, err := parser.ParseFile(fset, "", "package p\nfunc _() {\n"+src+"\n}", parser.SkipObjectResolution); err == nil {
		for _, st := range f.Decls[0].(*ast.FuncDecl).Body.List {
			switch st := st.(type) {
			case *ast.AssignStmt:
				if st.Tok != token.DEFINE && st.Tok != token.ASSIGN {
					continue // x += 1 changes no type
				}
				for i, lhs := range st.Lhs {
					id, ok := lhs.(*ast.Ident)
					if !ok || id.Name == "_" {
						continue
					}
					d := decl{}
					if len(st.Lhs) == len(st.Rhs) {
						d.kind = exprKind(st.Rhs[i])
					}
					if st.Tok == token.ASSIGN {
						if old, seen := out[id.Name]; seen {
							d = old // an assignment does not change the type
						} else {
							d.kind = kindUnknown // declared in an earlier cell
						}
					}
					out[id.Name] = d
				}
			case *ast.DeclStmt:
				genDecl(st.Decl, out)
			}
		}
		return out
	}
	if f, err := parser.ParseFile(fset, "", "package p\n"+src, parser.SkipObjectResolution); err == nil {
		for _, d := range f.Decls {
			genDecl(d, out)
		}
	}
	return out
}

// genDecl records the names of a var or const declaration.
func genDecl(d ast.Decl, out map[string]decl) {
	gd, ok := d.(*ast.GenDecl)
	if !ok || (gd.Tok != token.VAR && gd.Tok != token.CONST) {
		return
	}
	for _, spec := range gd.Specs {
		vs := spec.(*ast.ValueSpec)
		for i, id := range vs.Names {
			if id.Name == "_" {
				continue
			}
			d := decl{isConst: gd.Tok == token.CONST}
			switch {
			case vs.Type != nil:
				d.kind = typeKind(vs.Type)
			case len(vs.Values) == len(vs.Names):
				d.kind = exprKind(vs.Values[i])
			}
			out[id.Name] = d
		}
	}
}

// typeKind is the kind of a basic type name.
func typeKind(e ast.Expr) kind {
	id, ok := e.(*ast.Ident)
	if !ok {
		return kindUnknown
	}
	switch id.Name {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "uintptr", "byte", "rune":
		return kindInt
	case "float32", "float64":
		return kindFloat
	case "string":
		return kindString
	case "bool":
		return kindBool
	}
	return kindUnknown
}

// exprKind is the kind of a constant expression made of literals, or of a
// conversion to a basic type.
func exprKind(e ast.Expr) kind {
	switch e := e.(type) {
	case *ast.BasicLit:
		switch e.Kind {
		case token.INT, token.CHAR:
			return kindInt
		case token.FLOAT:
			return kindFloat
		case token.STRING:
			return kindString
		}
	case *ast.Ident:
		if e.Name == "true" || e.Name == "false" {
			return kindBool
		}
	case *ast.ParenExpr:
		return exprKind(e.X)
	case *ast.UnaryExpr:
		if k := exprKind(e.X); (e.Op == token.SUB || e.Op == token.ADD) && (k == kindInt || k == kindFloat) {
			return k
		}
		if e.Op == token.NOT && exprKind(e.X) == kindBool {
			return kindBool
		}
	case *ast.BinaryExpr:
		x, y := exprKind(e.X), exprKind(e.Y)
		switch {
		case x == kindString && y == kindString && e.Op == token.ADD:
			return kindString
		case (x == kindInt || x == kindFloat) && (y == kindInt || y == kindFloat):
			switch e.Op {
			case token.ADD, token.SUB, token.MUL, token.QUO:
				return max(x, y) // kindFloat > kindInt
			}
		}
	case *ast.CallExpr:
		if len(e.Args) == 1 {
			return typeKind(e.Fun)
		}
	}
	return kindUnknown
}

// normalize turns the value types Job.Parameters accepts into Text, string,
// bool, int64 or float64.
func normalize(name string, v any) (any, error) {
	switch v := v.(type) {
	case Text, string, bool, int64, float64:
		return v, nil
	case int:
		return int64(v), nil
	case int8:
		return int64(v), nil
	case int16:
		return int64(v), nil
	case int32:
		return int64(v), nil
	case uint8:
		return int64(v), nil
	case uint16:
		return int64(v), nil
	case uint32:
		return int64(v), nil
	case uint:
		if uint64(v) <= math.MaxInt64 {
			return int64(v), nil
		}
	case uint64:
		if v <= math.MaxInt64 {
			return int64(v), nil
		}
	case float32:
		return float64(v), nil
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i, nil
		}
		if f, err := v.Float64(); err == nil && !math.IsInf(f, 0) {
			return f, nil
		}
	}
	return nil, fmt.Errorf("parameter %q: %T value %v: a parameter is a string, a bool, an integer (64 bits) or a float: %w", name, v, v, userapps.ErrInvalid)
}

// Infer types text as papermill does for a name the parameters cell gives
// no type: an int64, else a float64, else a bool (true, True, false,
// False), else the string. `flowlab apps runs --now -p` sends parameters
// typed so, as JSON.
func (t Text) Infer() any {
	s := string(t)
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && strings.ContainsAny(s, "0123456789") {
		return f
	}
	if b, ok := parseBool(s); ok {
		return b
	}
	return s
}

// parseBool accepts Go's and Python's spellings of the booleans (papermill
// users write True), not 1, t or yes.
func parseBool(s string) (bool, bool) {
	switch s {
	case "true", "True", "TRUE":
		return true, true
	case "false", "False", "FALSE":
		return false, true
	}
	return false, false
}

// typed returns the value a parameter gets, given what the parameters cell
// declares: Text is parsed as the declared kind or inferred, typed values
// are checked against it. The result is a string, bool, int64 or float64.
func typed(name string, v any, k kind) (any, error) {
	mismatch := func(what string) error {
		return fmt.Errorf("parameter %q: the parameters cell makes it %s, and %s is not one: %w", name, k, what, userapps.ErrInvalid)
	}
	if t, ok := v.(Text); ok {
		s := string(t)
		switch k {
		case kindUnknown:
			return t.Infer(), nil
		case kindString:
			return s, nil
		case kindInt:
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i, nil
			}
		case kindFloat:
			if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				return f, nil
			}
		case kindBool:
			if b, ok := parseBool(s); ok {
				return b, nil
			}
		}
		return nil, mismatch(strconv.Quote(s))
	}
	switch v := v.(type) {
	case string:
		if k == kindUnknown || k == kindString {
			return v, nil
		}
		return nil, mismatch("the string " + strconv.Quote(v))
	case bool:
		if k == kindUnknown || k == kindBool {
			return v, nil
		}
		return nil, mismatch(fmt.Sprintf("the bool %v", v))
	case int64:
		if k == kindUnknown || k == kindInt || k == kindFloat {
			return v, nil
		}
		return nil, mismatch(fmt.Sprintf("the integer %d", v))
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, fmt.Errorf("parameter %q: %v is not a finite number: %w", name, v, userapps.ErrInvalid)
		}
		switch k {
		case kindUnknown, kindFloat:
			return v, nil
		case kindInt:
			if v == math.Trunc(v) && math.Abs(v) < 1<<63 {
				return int64(v), nil
			}
		}
		return nil, mismatch(fmt.Sprintf("the float %v", v))
	}
	return nil, fmt.Errorf("parameter %q: unsupported %T: %w", name, v, userapps.ErrInvalid)
}

// literal writes a typed value (typed's result) as a Go constant: an
// untyped constant of its kind, so assigning it to a declared variable
// converts it as Go does.
func literal(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case bool:
		return strconv.FormatBool(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		s := strconv.FormatFloat(v, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0" // stays a float constant
		}
		return s
	}
	panic(fmt.Sprintf("runner: literal of %T", v))
}

// injection is the parameters cell flowlab adds to a run's notebook.
type injection struct {
	// Source is the cell's Go code.
	Source string
	// Values are the typed values, by name.
	Values map[string]any
	// Notices say what the user may not expect (names the parameters cell
	// does not declare, no parameters cell).
	Notices []string
}

// inject builds the injected cell for params. paramsSrc is the source of
// the cell tagged parameters; hasCell is false when there is none. from
// says where the values came from, for the cell's comment. Errors wrap
// userapps.ErrInvalid.
func inject(params map[string]any, paramsSrc string, hasCell bool, from string) (injection, error) {
	inj := injection{Values: make(map[string]any, len(params))}
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	sort.Strings(names)
	decls := map[string]decl{}
	if hasCell {
		decls = declarations(paramsSrc)
	} else {
		inj.Notices = append(inj.Notices, "the notebook has no cell tagged \"parameters\": the parameters were injected as the first cell")
	}
	var b strings.Builder
	if from = strings.Join(strings.Fields(from), " "); from == "" {
		from = "the caller"
	}
	fmt.Fprintf(&b, "// Parameters injected by flowlab from %s", from)
	if hasCell {
		b.WriteString("; they override the parameters cell above.\n")
	} else {
		b.WriteString(".\n")
	}
	for _, name := range names {
		if err := checkName(name); err != nil {
			return injection{}, err
		}
		v, err := normalize(name, params[name])
		if err != nil {
			return injection{}, err
		}
		d, declared := decls[name]
		if v, err = typed(name, v, d.kind); err != nil {
			return injection{}, err
		}
		inj.Values[name] = v
		switch {
		case !declared:
			if hasCell {
				inj.Notices = append(inj.Notices, fmt.Sprintf("parameter %q is not in the parameters cell: it is declared as a new variable", name))
			}
			fmt.Fprintf(&b, "%s := %s\n", name, literal(v))
		case d.isConst:
			fmt.Fprintf(&b, "const %s = %s\n", name, literal(v))
		default:
			fmt.Fprintf(&b, "%s = %s\n", name, literal(v))
		}
	}
	inj.Source = strings.TrimSuffix(b.String(), "\n")
	return inj, nil
}
