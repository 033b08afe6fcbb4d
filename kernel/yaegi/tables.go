package yaegi

import (
	"go/constant"
	"reflect"
)

// The symbol tables first: gentables documents what they export.
//go:generate go generate ./symbols
//go:generate go run ./internal/gentables -o zz_tables.go

// memberDoc documents one member of a flowlab cell package.
type memberDoc struct {
	Decl string // the declaration, without a function's body
	Doc  string // the doc comment
}

// isConstant reports whether a symbol table value is a constant.
func isConstant(v reflect.Value) bool {
	if !v.IsValid() || !v.CanInterface() {
		return false
	}
	_, ok := v.Interface().(constant.Value)
	return ok
}

// symIsInt reports whether a symbol table value is an integer constant or
// variable.
func symIsInt(v reflect.Value) bool {
	if !v.IsValid() {
		return false
	}
	if v.CanInterface() {
		if c, ok := v.Interface().(constant.Value); ok {
			return c.Kind() == constant.Int
		}
	}
	return isIntKind(v.Kind())
}

func isIntKind(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	}
	return false
}
