module go.mau.fi/libsignal

go 1.24.0

toolchain go1.25.1

require (
	filippo.io/edwards25519 v1.1.0
	github.com/goccy/go-json v0.10.5
	golang.org/x/crypto v0.42.0
	google.golang.org/protobuf v1.36.10
)
