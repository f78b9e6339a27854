// The keeper command is a module of its own so that the library's go.mod
// requires nothing: golang.org/x/term is needed only here.
//
// There is no replace directive on purpose (`go install ...@latest` refuses a
// module that has one): in a checkout, go.work at the repository's root points
// the library requirement at the working tree. A release tags the library
// (vX.Y.Z) and then this module (cmd/keeper/vX.Y.Z) with the require below
// raised to that library version.
module github.com/keeper-go/keeper/cmd/keeper

go 1.26.0

require (
	github.com/keeper-go/keeper v0.0.0-00010101000000-000000000000
	golang.org/x/term v0.47.0
)

require golang.org/x/sys v0.49.0 // indirect
