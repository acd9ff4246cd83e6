package node

import (
	"sync"

	"github.com/hashicorp/raft"
)

// pipelinedTransport is raft's NetworkTransport with a pipeline that cannot
// wedge its sender.
//
// Raft v1.8.0's pipelined replication has a cycle: the network pipeline's
// decoder hands each response to an unbuffered channel that Raft's
// pipelineDecode reads, and the sender hands each request to the decoder
// through another one. When pipelineDecode returns (a rejected append, a
// newer term) while the sender is mid-send, the decoder blocks on the
// first channel, the sender on the second, and the pipeline's Close — which
// would free both — only runs after the sender returns. Replication to that
// follower stops for good and raft.Shutdown waits forever. This wrapper
// drains the decoder into a queue of its own, so the decoder never blocks
// and the sender always gets back to its loop, where it sees that the
// decoder finished.
type pipelinedTransport struct {
	*raft.NetworkTransport
}

// AppendEntriesPipeline returns a pipeline whose responses are always drained.
func (t pipelinedTransport) AppendEntriesPipeline(id raft.ServerID, target raft.ServerAddress) (raft.AppendPipeline, error) {
	p, err := t.NetworkTransport.AppendEntriesPipeline(id, target)
	if err != nil {
		return nil, err
	}
	d := &drainingPipeline{AppendPipeline: p, out: make(chan raft.AppendFuture), done: make(chan struct{})}
	go d.run()
	return d, nil
}

// drainingPipeline forwards the inner pipeline's responses through an
// unbounded queue. The queue holds at most the responses of requests the
// sender still managed to send after the consumer stopped reading: the
// sender leaves its loop at its next iteration.
type drainingPipeline struct {
	raft.AppendPipeline
	out       chan raft.AppendFuture
	done      chan struct{}
	closeOnce sync.Once
}

func (d *drainingPipeline) run() {
	in := d.AppendPipeline.Consumer()
	var queue []raft.AppendFuture
	for {
		var out chan raft.AppendFuture
		var head raft.AppendFuture
		if len(queue) > 0 {
			out, head = d.out, queue[0]
		}
		select {
		case f := <-in:
			queue = append(queue, f)
		case out <- head:
			queue[0] = nil
			queue = queue[1:]
		case <-d.done:
			return
		}
	}
}

// Consumer returns the responses, in order.
func (d *drainingPipeline) Consumer() <-chan raft.AppendFuture { return d.out }

// Close stops the forwarder and closes the inner pipeline.
func (d *drainingPipeline) Close() error {
	d.closeOnce.Do(func() { close(d.done) })
	return d.AppendPipeline.Close()
}
