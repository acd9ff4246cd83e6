// Hand-written mutations of waedge's production code (issue 11): one
// directory per mutation, holding replacement files at their path in the
// repository and a `target` file naming the packages whose tests must
// catch it. This file makes the directory a module of its own so that
// `go build ./...` and `go vet ./...` of waedge skip these copies; they are
// applied with `go test -overlay`.
module github.com/waedge/waedge/scripts/mutations

go 1.26.8
