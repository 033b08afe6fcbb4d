package yaegi

import (
	"go/ast"
	"go/parser"
	"reflect"
	"strconv"
)

// typeIndexes works around a gap in yaegi's global type analysis: a cell's
// top-level definition whose value indexes a slice, array or map of a
// compiled type (parts := strings.Fields(s); last := parts[len(parts)-1])
// fails with "constant definition loop", because the analysis does not
// know the element type of compiled composite types. For each such index
// of a cell variable, in the values of top-level definitions, it wraps the
// index in a conversion to the element type read from the variable's
// current value — T(parts[i]) is the same value, and its type is known.
// Element types it cannot write (named types of packages) are left alone.
func (e *Executor) typeIndexes(stmts []ast.Stmt) {
	for _, s := range stmts {
		as, ok := s.(*ast.AssignStmt)
		if !ok || len(as.Lhs) != len(as.Rhs) {
			continue
		}
		for i, rhs := range as.Rhs {
			as.Rhs[i] = e.typeIndexExpr(rhs)
		}
	}
}

// typeIndexExpr returns x with the indexes it holds (outside function
// literals) converted where needed.
func (e *Executor) typeIndexExpr(x ast.Expr) ast.Expr {
	var walk func(n ast.Node) bool
	replace := map[*ast.IndexExpr]ast.Expr{}
	walk = func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false // analysed with the function, where it works
		case *ast.IndexExpr:
			if conv := e.indexConversion(n); conv != nil {
				replace[n] = conv
			}
		}
		return true
	}
	ast.Inspect(x, walk)
	if len(replace) == 0 {
		return x
	}
	if ix, ok := x.(*ast.IndexExpr); ok {
		if r, ok := replace[ix]; ok {
			delete(replace, ix)
			x = r
		}
	}
	// Replace nested indexes in their parents' fields.
	ast.Inspect(x, func(n ast.Node) bool {
		v := reflect.ValueOf(n)
		if !v.IsValid() || v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
			return true
		}
		st := v.Elem()
		for i := 0; i < st.NumField(); i++ {
			f := st.Field(i)
			switch f.Kind() {
			case reflect.Interface:
				if ix, ok := f.Interface().(*ast.IndexExpr); ok && f.CanSet() {
					if r, ok := replace[ix]; ok {
						delete(replace, ix) // once: the conversion holds ix
						f.Set(reflect.ValueOf(r))
					}
				}
			case reflect.Slice:
				for j := 0; j < f.Len(); j++ {
					el := f.Index(j)
					if el.Kind() != reflect.Interface {
						continue
					}
					if ix, ok := el.Interface().(*ast.IndexExpr); ok {
						if r, ok := replace[ix]; ok {
							delete(replace, ix)
							el.Set(reflect.ValueOf(r))
						}
					}
				}
			}
		}
		return true
	})
	return x
}

// indexConversion returns T(ix) when ix indexes a cell variable whose value
// is a slice, array or map with an element type T that can be written in
// source, or nil.
func (e *Executor) indexConversion(ix *ast.IndexExpr) ast.Expr {
	id, ok := ix.X.(*ast.Ident)
	if !ok {
		return nil
	}
	d := e.st.names[id.Name]
	if d == nil || (d.kind != itemVar && d.kind != itemStmt) {
		return nil
	}
	v, ok := e.valueOf(e.st.internal(id.Name))
	if !ok {
		return nil
	}
	t := v.Type()
	switch t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
	default:
		return nil
	}
	elem, ok := e.typeSource(t.Elem())
	if !ok {
		return nil
	}
	te, err := parser.ParseExpr(elem)
	if err != nil {
		return nil
	}
	return &ast.CallExpr{Fun: &ast.ParenExpr{Lparen: ix.Pos(), X: te, Rparen: ix.Pos()}, Lparen: ix.Pos(), Args: []ast.Expr{ix}, Rparen: ix.End()}
}

// typeSource writes t as Go source when it is made of predeclared types and
// types of packages the cells imported or dot-imported (string, []float64,
// map[string]any, Row, time.Time, ...).
func (e *Executor) typeSource(t reflect.Type) (string, bool) {
	typeSource := e.typeSource
	if t.Name() != "" {
		if t.PkgPath() == "" {
			return t.Name(), true // predeclared: string, int64, error, ...
		}
		for _, p := range e.st.dots {
			if p == t.PkgPath() {
				return t.Name(), true
			}
		}
		for name, p := range e.st.imports {
			if p == t.PkgPath() {
				return name + "." + t.Name(), true
			}
		}
		return "", false
	}
	switch t.Kind() {
	case reflect.Slice:
		el, ok := typeSource(t.Elem())
		return "[]" + el, ok
	case reflect.Array:
		el, ok := typeSource(t.Elem())
		return "[" + strconv.Itoa(t.Len()) + "]" + el, ok
	case reflect.Map:
		k, ok1 := typeSource(t.Key())
		el, ok2 := typeSource(t.Elem())
		return "map[" + k + "]" + el, ok1 && ok2
	case reflect.Pointer:
		el, ok := typeSource(t.Elem())
		return "*" + el, ok
	case reflect.Interface:
		if t.NumMethod() == 0 {
			return "interface{}", true
		}
	}
	return "", false
}
