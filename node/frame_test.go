package node

import (
	"bufio"
	"bytes"
	"fmt"
	"testing"
)

// forwardedBatch is a forwarded batch as the bench makes it: n accept
// commands of about 700 bytes.
func forwardedBatch(n, size int) *rpcRequest {
	req := &rpcRequest{Op: "propose", Cmds: make([][]byte, n)}
	for i := range req.Cmds {
		req.Cmds[i] = bytes.Repeat([]byte{byte(i)}, size)
	}
	return req
}

// TestFrameCodecKeepsNothingAliased: a connection's codec reuses its
// buffers, so a frame decoded earlier must not change when the next one is
// read, and what it writes is byte for byte what a fresh encoder writes
// (the wire that older binaries read).
func TestFrameCodecKeepsNothingAliased(t *testing.T) {
	var wire, fresh bytes.Buffer
	w, fw := bufio.NewWriter(&wire), bufio.NewWriter(&fresh)
	var out frameCodec
	sizes := []int{40, 3, 200, 1}
	for i, n := range sizes {
		req := forwardedBatch(n, 700+i)
		if err := out.write(w, req); err != nil {
			t.Fatal(err)
		}
		if err := writeFrame(fw, req); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(wire.Bytes(), fresh.Bytes()) {
		t.Fatal("a reused encoder wrote other bytes than a fresh one")
	}
	r := bufio.NewReader(&wire)
	var in frameCodec
	var got []rpcRequest
	for range sizes {
		var req rpcRequest
		if err := in.read(r, &req, maxFrame); err != nil {
			t.Fatal(err)
		}
		got = append(got, req)
	}
	for i, n := range sizes {
		want := forwardedBatch(n, 700+i)
		if got[i].Op != want.Op || len(got[i].Cmds) != n {
			t.Fatalf("frame %d: op %q, %d commands", i, got[i].Op, len(got[i].Cmds))
		}
		for j := range want.Cmds {
			if !bytes.Equal(got[i].Cmds[j], want.Cmds[j]) {
				t.Fatalf("frame %d command %d changed after later frames were read", i, j)
			}
		}
	}
}

// TestFrameCodecRefusesLongFrameFirst: the limit still applies before
// anything is allocated or read, with a codec that has buffers.
func TestFrameCodecRefusesLongFrameFirst(t *testing.T) {
	var wire bytes.Buffer
	w := bufio.NewWriter(&wire)
	var f frameCodec
	if err := f.write(w, forwardedBatch(4, 700)); err != nil {
		t.Fatal(err)
	}
	var req rpcRequest
	if err := f.read(bufio.NewReader(bytes.NewReader(wire.Bytes())), &req, 100); err == nil {
		t.Fatal("a frame over the limit was read")
	}
}

// BenchmarkForwardFrames is the framing of one forward round trip, both
// sides: a batch of 40 accepts (700 B each) written and read, its 40
// results written and read. "kept" keeps each connection's codec as the
// node does; "fresh" builds one per frame (as before stop 24).
func BenchmarkForwardFrames(b *testing.B) {
	req := forwardedBatch(40, 700)
	resp := &rpcResponse{Index: 12345, Results: make([]wireResult, 40)}
	for _, kept := range []bool{true, false} {
		b.Run(fmt.Sprintf("kept=%v", kept), func(b *testing.B) {
			var wire bytes.Buffer
			w, r := bufio.NewWriter(&wire), bufio.NewReader(&wire)
			var follower, leader frameCodec
			b.ReportAllocs()
			for range b.N {
				if !kept {
					follower, leader = frameCodec{}, frameCodec{}
				}
				var gotReq rpcRequest
				var gotResp rpcResponse
				if err := follower.write(w, req); err != nil {
					b.Fatal(err)
				}
				if err := leader.read(r, &gotReq, maxFrame); err != nil {
					b.Fatal(err)
				}
				if err := leader.write(w, resp); err != nil {
					b.Fatal(err)
				}
				if err := follower.read(r, &gotResp, maxFrame); err != nil {
					b.Fatal(err)
				}
				if len(gotReq.Cmds) != 40 || len(gotResp.Results) != 40 {
					b.Fatal("short frame")
				}
			}
		})
	}
}
