package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"mime/multipart"
	"testing"

	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// fuzzBoundary is the boundary every FuzzMediaForm input is parsed with.
const fuzzBoundary = "fuzzb0undary"

// The seeds are committed under testdata/fuzz/FuzzMediaForm, so a plain
// `go test` replays them without -fuzz.

// FuzzMediaForm feeds arbitrary bytes to the media upload's multipart
// reader (readForm, then the type check), with chunks kept in memory
// instead of replicated. Whatever the body, it must not panic, must fail
// only with a Graph error or the size cap (never an internal error, which
// would answer 500), and when it succeeds the stored chunks must be the
// file: each at most one chunk long, together its size and its SHA-256.
func FuzzMediaForm(f *testing.F) {
	f.Add([]byte("--" + fuzzBoundary + "\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n" +
		"--" + fuzzBoundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n" +
		"--" + fuzzBoundary + "--\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		var stored bytes.Buffer
		chunks := 0
		u := &upload{store: func(_ context.Context, chunk []byte) error {
			if len(chunk) == 0 || len(chunk) > raftfsm.MediaChunkSize {
				t.Fatalf("chunk of %d bytes", len(chunk))
			}
			chunks++
			stored.Write(chunk)
			return nil
		}}
		product := ""
		r := &capReader{r: bytes.NewReader(body), n: maxUploadBody}
		err := u.readForm(context.Background(), multipart.NewReader(r, fuzzBoundary), &product)
		if err != nil {
			if graph.As(err) == nil && !errors.Is(err, errUploadTooLarge) {
				t.Fatalf("readForm failed with a non-Graph error (would answer 500): %v", err)
			}
			return
		}
		if u.id == "" {
			if chunks != 0 {
				t.Fatal("chunks stored without a file part")
			}
			return
		}
		if int64(stored.Len()) != u.size || sha256.Sum256(stored.Bytes()) != u.sum {
			t.Fatalf("stored %d bytes, size %d; sha256 matches: %v", stored.Len(), u.size, sha256.Sum256(stored.Bytes()) == u.sum)
		}
		if mimeType, err := u.check(); err != nil {
			if graph.As(err) == nil {
				t.Fatalf("check failed with a non-Graph error: %v", err)
			}
		} else if mediaKinds[mimeType] == "" || u.size == 0 || u.size > mediaLimit(mimeType, u.animated) {
			t.Fatalf("accepted %q of %d bytes", mimeType, u.size)
		}
	})
}
