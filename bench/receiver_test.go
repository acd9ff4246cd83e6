package bench

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

func testSign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func startReceiver(t *testing.T) *receiver {
	t.Helper()
	rc, err := newReceiver("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rc.close)
	return rc
}

// post sends body to rc through net/http's client (kept-alive
// connections), signed with sig, and returns the status code.
func post(t *testing.T, client *http.Client, rc *receiver, path string, body io.Reader, sig string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, rc.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if sig != "" {
		req.Header.Set("X-Hub-Signature-256", sig)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// The bench's receiver is a server of its own: it must still check every
// signature, count an event once however often it comes, and answer
// net/http's client on kept-alive connections (lengths and chunked).
func TestReceiverChecksSignaturesAndDedupes(t *testing.T) {
	rc := startReceiver(t)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	a, b := []byte(`{"event":"a"}`), []byte(`{"event":"b"}`)
	for i, c := range []struct {
		body      io.Reader
		sig       string
		code      int
		delivered int
		bad       int64
	}{
		{bytes.NewReader(a), testSign("s3cret", a), 200, 1, 0},
		{bytes.NewReader(a), testSign("s3cret", a), 200, 1, 0},                       // a retry counts once
		{bytes.NewReader(b), testSign("other", b), 401, 1, 1},                        // another secret
		{bytes.NewReader(b), "", 401, 1, 2},                                          // unsigned
		{bytes.NewReader(b), "sha256=zz", 401, 1, 3},                                 // not hex
		{iotest.OneByteReader(bytes.NewReader(b)), testSign("s3cret", b), 200, 2, 3}, // chunked
		{bytes.NewReader(b), testSign("s3cret", b), 200, 2, 3},
	} {
		if got := post(t, client, rc, "/hook", c.body, c.sig); got != c.code {
			t.Errorf("request %d: %d, want %d", i, got, c.code)
		}
		if got := rc.delivered(); got != c.delivered {
			t.Errorf("request %d: %d delivered, want %d", i, got, c.delivered)
		}
		if got := rc.badSignatures.Load(); got != c.bad {
			t.Errorf("request %d: %d bad signatures, want %d", i, got, c.bad)
		}
	}
	if post(t, client, rc, "/bare", bytes.NewReader(b), testSign("s3cret", b)) != 200 || rc.bareOK.Load() != 1 || rc.delivered() != 2 {
		t.Errorf("/bare: %d bare, %d delivered; want 1 and 2", rc.bareOK.Load(), rc.delivered())
	}
	if !bytes.Equal(rc.sample, a) {
		t.Errorf("sample %q, want the first event", rc.sample)
	}
	resp, err := client.Get(rc.url + "/hook?hub.mode=subscribe&hub.challenge=abc%201&hub.verify_token=bench")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != "abc 1" {
		t.Errorf("handshake: %d %q, want 200 \"abc 1\"", resp.StatusCode, got)
	}
}

// rawExchange writes req on a new connection and returns all the receiver
// answered until it closed the connection or answered want answers.
func rawExchange(t *testing.T, rc *receiver, req string, want int) []*http.Response {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(rc.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var out []*http.Response
	for len(out) < want {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		out = append(out, resp)
	}
	return out
}

func TestReceiverFraming(t *testing.T) {
	rc := startReceiver(t)
	body := `{"event":"c"}`
	sig := testSign("s3cret", []byte(body))
	one := "POST /hook HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: " + sig + "\r\nContent-Length: 13\r\n\r\n" + body
	// Pipelined requests on one connection, each answered in turn.
	if got := rawExchange(t, rc, one+one, 2); len(got) != 2 || got[0].StatusCode != 200 || got[1].StatusCode != 200 || got[0].Close {
		t.Fatalf("two pipelined requests: %v", got)
	}
	// Expect: 100-continue gets the interim answer first.
	cont := "POST /hook HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nX-Hub-Signature-256: " + sig + "\r\nContent-Length: 13\r\n\r\n" + body
	c, err := net.Dial("tcp", strings.TrimPrefix(rc.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	head, _, _ := strings.Cut(cont, "\r\n\r\n")
	_, _ = io.WriteString(c, head+"\r\n\r\n")
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("Expect: 100-continue: %q %v", line, err)
	}
	_, _ = br.ReadString('\n')
	_, _ = io.WriteString(c, body)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("after 100-continue: %v %v", resp, err)
	}
	// Connection: close, and HTTP/1.0, end the connection after the answer.
	for _, req := range []string{
		strings.Replace(one, "Host: x\r\n", "Host: x\r\nConnection: close\r\n", 1),
		strings.Replace(one, "HTTP/1.1", "HTTP/1.0", 1),
	} {
		if got := rawExchange(t, rc, req+one, 2); len(got) != 1 || got[0].StatusCode != 200 || !got[0].Close {
			t.Errorf("%q: %d answers, want one that closes", req, len(got))
		}
	}
	// A length and a transfer coding together are refused (smuggling).
	both := strings.Replace(one, "Content-Length: 13\r\n", "Content-Length: 13\r\nTransfer-Encoding: chunked\r\n", 1)
	if got := rawExchange(t, rc, both, 1); len(got) != 1 || got[0].StatusCode != 400 {
		t.Errorf("length and coding: %v, want 400", got)
	}
	// A body past the bound is refused without being read.
	huge := "POST /hook HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: " + sig + "\r\nContent-Length: 99999999\r\n\r\n"
	if got := rawExchange(t, rc, huge, 1); len(got) != 1 || got[0].StatusCode != 400 {
		t.Errorf("huge body: %v, want 400", got)
	}
	if rc.delivered() != 1 || rc.badSignatures.Load() != 0 {
		t.Errorf("%d delivered, %d bad; want 1 and 0", rc.delivered(), rc.badSignatures.Load())
	}
}

// A held request counts when released; one whose sender closed the
// connection meanwhile (the dispatcher's timeout) does not: the event has
// not been delivered as far as the sender knows, and will come again.
func TestReceiverHeldRequests(t *testing.T) {
	rc := startReceiver(t)
	held := make(chan struct{}, 2)
	gaveUp := make(chan struct{}, 1)
	rc.onHold = func() { held <- struct{}{} }
	rc.onGaveUp = func() { gaveUp <- struct{}{} }
	release := rc.pause()
	defer release()
	dial := func(body string) net.Conn {
		c, err := net.Dial("tcp", strings.TrimPrefix(rc.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(c, "POST /hook HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: "+testSign("s3cret", []byte(body))+
			"\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
		<-held
		return c
	}
	quitter := dial(`{"event":"gone"}`)
	stayer := dial(`{"event":"stays"}`)
	defer stayer.Close()
	quitter.Close()
	<-gaveUp
	if rc.delivered() != 0 {
		t.Fatalf("%d delivered while held, want 0", rc.delivered())
	}
	release()
	resp, err := http.ReadResponse(bufio.NewReader(stayer), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("released: %v %v", resp, err)
	}
	if rc.delivered() != 1 {
		t.Errorf("%d delivered, want 1 (the request whose sender stayed)", rc.delivered())
	}
}
