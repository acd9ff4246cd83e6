package phone_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/waedge/waedge/internal/syncbuf"
	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/phone"
)

func TestRunChat(t *testing.T) {
	for _, args := range [][]string{{"--number", "12"}, {"--nope"}, {"--number", "4915100003000"}} {
		if code := phone.Run(context.Background(), args, strings.NewReader(""), io.Discard, io.Discard); code != 2 {
			t.Fatalf("Run(%v) = %d, want 2", args, code)
		}
	}
	e := newEnv(t)
	biz := newBusiness(t, e, "15550003000")
	stdinR, stdinW := io.Pipe()
	var stdout, stderr syncbuf.Buffer
	exit := make(chan int, 1)
	go func() {
		exit <- phone.Run(context.Background(), []string{"--relay", e.url, "--number", "4915100003000", "--name", "Cli",
			"--business", biz.number, "--data-dir", t.TempDir()}, stdinR, &stdout, &stderr)
	}()
	eventually(t, "phone online", func() bool { return strings.Contains(stdout.String(), "online") })
	if _, err := io.WriteString(stdinW, "hello from the terminal\n"); err != nil {
		t.Fatal(err)
	}
	d := biz.next(t, network.DeliveryEnvelope)
	if c := biz.decrypt(t, d.Envelope); c.Text == nil || c.Text.Body != "hello from the terminal" {
		t.Fatalf("business got %+v", c)
	}
	biz.send(t, "4915100003000", network.Content{ID: "wamid.cli1", Type: network.ContentText, Text: &network.Text{Body: "hello terminal user"}})
	eventually(t, "reply printed", func() bool { return strings.Contains(stdout.String(), "hello terminal user") })
	eventually(t, "status printed", func() bool { return strings.Contains(stdout.String(), " sent") })
	if _, err := io.WriteString(stdinW, "/read wamid.cli1\n/quit\n"); err != nil {
		t.Fatal(err)
	}
	if code := <-exit; code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	r := biz.next(t, network.DeliveryReceipt)
	for r.Receipt.Status != network.StatusRead {
		r = biz.next(t, network.DeliveryReceipt)
	}
	if r.Receipt.EnvelopeIDs[0] != "wamid.cli1" {
		t.Fatalf("read receipt for %v", r.Receipt.EnvelopeIDs)
	}
	_ = stdinW.Close()
}
