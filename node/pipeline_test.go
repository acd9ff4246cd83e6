package node

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// fakePipeline stands for raft's network pipeline: its decoder hands each
// response to an unbuffered channel, as NetworkTransport's does.
type fakePipeline struct {
	done   chan raft.AppendFuture
	closed chan struct{}
}

func (f *fakePipeline) AppendEntries(*raft.AppendEntriesRequest, *raft.AppendEntriesResponse) (raft.AppendFuture, error) {
	return nil, nil
}
func (f *fakePipeline) Consumer() <-chan raft.AppendFuture { return f.done }
func (f *fakePipeline) Close() error                       { close(f.closed); return nil }

type fakeFuture struct {
	raft.AppendFuture
	n int
}

// TestDrainingPipelineNeverBlocksTheDecoder: when Raft's consumer stops
// reading (pipelineDecode returned), the decoder's hand-off must still
// succeed — in raft v1.8.0 it blocks, the sender blocks behind it, and
// raft.Shutdown hangs. Responses read later arrive in order; Close reaches
// the inner pipeline.
func TestDrainingPipelineNeverBlocksTheDecoder(t *testing.T) {
	inner := &fakePipeline{done: make(chan raft.AppendFuture), closed: make(chan struct{})}
	d := &drainingPipeline{AppendPipeline: inner, out: make(chan raft.AppendFuture), done: make(chan struct{})}
	go d.run()

	// Nobody reads d.Consumer(): every hand-off must still be taken.
	for i := 0; i < 20; i++ {
		select {
		case inner.done <- fakeFuture{n: i}:
		case <-time.After(5 * time.Second):
			t.Fatalf("decoder blocked on response %d with no consumer", i)
		}
	}
	for i := 0; i < 20; i++ {
		select {
		case f := <-d.Consumer():
			if got := f.(fakeFuture).n; got != i {
				t.Fatalf("response %d arrived as %d", i, got)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("response %d never delivered", i)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-inner.closed:
	default:
		t.Fatal("Close did not close the inner pipeline")
	}
}
