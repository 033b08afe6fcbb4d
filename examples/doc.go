// Package examples holds flowlab's lab and analytics notebooks (.ipynb) and
// the tests that run each of them end to end: through Debian's nbclient with
// the installed kernel, validated with nbformat, with assertions on what each
// notebook computes.
package examples
