package yaegi

import (
	"fmt"
	"go/parser"
)

// slicesSupplement declares, in interpreted Go, the functions of package
// slices that yaegi v0.16.1 leaves out of its generic sources (sorting,
// searching, minimum and maximum). yaegi cannot infer E from a type
// parameter S ~[]E, so these take []E; named slice types still match. It is
// compiled into package slices the first time a cell imports it.
const slicesSupplement = `package slices

import (
	"cmp"
	"sort"
)

// Sort orders x from smallest to largest (NaNs first).
func Sort[E cmp.Ordered](x []E) {
	sort.Slice(x, func(i, j int) bool { return cmp.Compare(x[i], x[j]) < 0 })
}

// SortFunc orders x by cmp (negative: a first; positive: b first); equal
// elements may move.
func SortFunc[E any](x []E, cmp func(a, b E) int) {
	sort.Slice(x, func(i, j int) bool { return cmp(x[i], x[j]) < 0 })
}

// SortStableFunc is SortFunc keeping equal elements in their order.
func SortStableFunc[E any](x []E, cmp func(a, b E) int) {
	sort.SliceStable(x, func(i, j int) bool { return cmp(x[i], x[j]) < 0 })
}

// IsSorted tells whether x is in ascending order.
func IsSorted[E cmp.Ordered](x []E) bool {
	for i := len(x) - 1; i > 0; i-- {
		if cmp.Compare(x[i], x[i-1]) < 0 {
			return false
		}
	}
	return true
}

// IsSortedFunc tells whether x is in the order cmp defines.
func IsSortedFunc[E any](x []E, cmp func(a, b E) int) bool {
	for i := len(x) - 1; i > 0; i-- {
		if cmp(x[i], x[i-1]) < 0 {
			return false
		}
	}
	return true
}

// Min returns the smallest element of x; x must not be empty.
func Min[E cmp.Ordered](x []E) E {
	if len(x) < 1 {
		panic("slices.Min: empty list")
	}
	m := 0
	for i := 1; i < len(x); i++ {
		if cmp.Compare(x[i], x[m]) < 0 {
			m = i
		}
	}
	return x[m]
}

// Max returns the largest element of x; x must not be empty.
func Max[E cmp.Ordered](x []E) E {
	if len(x) < 1 {
		panic("slices.Max: empty list")
	}
	m := 0
	for i := 1; i < len(x); i++ {
		if cmp.Compare(x[i], x[m]) > 0 {
			m = i
		}
	}
	return x[m]
}

// MinFunc returns the first smallest element of x by cmp; x must not be
// empty.
func MinFunc[E any](x []E, cmp func(a, b E) int) E {
	if len(x) < 1 {
		panic("slices.MinFunc: empty list")
	}
	m := 0
	for i := 1; i < len(x); i++ {
		if cmp(x[i], x[m]) < 0 {
			m = i
		}
	}
	return x[m]
}

// MaxFunc returns the first largest element of x by cmp; x must not be
// empty.
func MaxFunc[E any](x []E, cmp func(a, b E) int) E {
	if len(x) < 1 {
		panic("slices.MaxFunc: empty list")
	}
	m := 0
	for i := 1; i < len(x); i++ {
		if cmp(x[i], x[m]) > 0 {
			m = i
		}
	}
	return x[m]
}

// BinarySearch looks for target in the sorted x: it returns the first index
// holding target, or where target would be inserted, and whether it is there.
func BinarySearch[E cmp.Ordered](x []E, target E) (int, bool) {
	n := len(x)
	i := sort.Search(n, func(i int) bool { return cmp.Compare(x[i], target) >= 0 })
	return i, i < n && cmp.Compare(x[i], target) == 0
}

// BinarySearchFunc is BinarySearch for x sorted by cmp, which compares an
// element with the target.
func BinarySearchFunc[E, T any](x []E, target T, cmp func(E, T) int) (int, bool) {
	n := len(x)
	i := sort.Search(n, func(i int) bool { return cmp(x[i], target) >= 0 })
	return i, i < n && cmp(x[i], target) == 0
}
`

// loadSlicesSupplement compiles slicesSupplement once per interpreter.
func (e *Executor) loadSlicesSupplement() error {
	if e.slicesLoaded {
		return nil
	}
	if err := e.ensurePackage("sort"); err != nil {
		return err
	}
	f, err := parser.ParseFile(e.in.FileSet(), "flowlab_slices.go", slicesSupplement, parser.ParseComments)
	if err != nil {
		return fmt.Errorf("yaegi executor: slices supplement: %w", err)
	}
	prog, err := e.compile(f)
	if err == nil {
		_, err = e.in.Execute(prog)
	}
	if err != nil {
		return fmt.Errorf("yaegi executor: slices supplement: %w", err)
	}
	e.slicesLoaded = true
	return nil
}
