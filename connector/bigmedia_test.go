package connector

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/waedge/waedge/node/nodetest"
)

// TestLargeDocumentReachesPhone: a 20 MB document — over the 16 MiB the
// network path used to carry, under Meta's 100 MB — uploaded by the
// business and sent by id reaches the phone intact.
func TestLargeDocumentReachesPhone(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 20 MB through Raft and the relay")
	}
	rc := newReceiver()
	w := newWorld(t, &tap{}, rc)
	ctx := context.Background()
	p, err := w.relay.CreatePhone(ctx, "4915100000098", "Ole")
	if err != nil {
		t.Fatal(err)
	}
	const token, business = "tok-e2e", "15550001000"
	// The consumer writes first: a document is free-form, it needs the window.
	var hello string
	reach(t, func() error {
		m, err := p.SendText(ctx, business, "send me the contract")
		hello = m.ID
		return err
	})
	wamid := inboundWAMID(p.Number(), hello)
	nodetest.WaitFor(t, "text webhook", 30*time.Second, func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return rc.raw[wamid]["text"] != ""
	})
	doc := make([]byte, 20_000_000)
	if _, err := rand.Read(doc); err != nil {
		t.Fatal(err)
	}
	copy(doc, "%PDF-1.7\n")
	// 20 MB through Raft in 1 MiB chunks takes longer than the world's
	// 10 s client allows on a loaded machine (or under -race).
	w.client = &http.Client{Timeout: 3 * time.Minute}
	id := w.uploadAs(token, doc, "contract.pdf", "application/pdf")
	code, out := w.do("POST", "/v21.0/3/messages", token, map[string]any{"messaging_product": "whatsapp",
		"to": p.Number(), "type": "document", "document": map[string]any{"id": id, "filename": "contract.pdf"}})
	if code != 200 {
		t.Fatalf("send document: %d %s", code, out)
	}
	var r struct{ Messages []struct{ ID string } }
	if err := json.Unmarshal(out, &r); err != nil || len(r.Messages) != 1 {
		t.Fatalf("send answer %s", out)
	}
	nodetest.WaitFor(t, "phone gets the document", 3*time.Minute, func() bool {
		_, err := p.Message(r.Messages[0].ID)
		return err == nil
	})
	got, mime, err := p.FetchMedia(ctx, r.Messages[0].ID)
	if err != nil || mime != "application/pdf" || !bytes.Equal(got, doc) {
		t.Fatalf("phone document: %v %s %d bytes", err, mime, len(got))
	}
}
