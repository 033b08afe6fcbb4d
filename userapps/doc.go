// Package userapps holds the user-app domain: an App is a notebook plus the
// metadata flowlab keeps about it (owner, state, kernel, restore point), a
// User has a Role that says what they may do, and the Service drives an app's
// life (create, open, Save & Checkpoint, stop, restore) on top of three
// consumer-side interfaces: an AppStore (package userapps/sqlite), a
// NotebookStore (userapps/files) and a KernelManager
// (userapps/kernels).
//
// The package never links the interpreter or the datalake engine: it talks
// to kernels as a Jupyter client (package kernel/jupyter) through the
// KernelManager. Errors wrap the sentinels in errors.go; the HTTP layer maps
// them to statuses in one place.
package userapps
