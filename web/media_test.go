package web_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waedge/waedge/keyring"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/seal"
	"github.com/waedge/waedge/web"
)

// mediaHarness serves the app on a real listener (uploads stream from a
// generator, nothing is buffered by the test) with an injected clock.
type mediaHarness struct {
	*harness
	clock atomic.Int64
	base  string
	a, b  map[string]string // two businesses
}

func newMediaHarness(t *testing.T) *mediaHarness {
	h := &mediaHarness{harness: newHarness(t)}
	h.clock.Store(time.Now().UnixNano())
	h.sealer = seal.New(h.c, testKEK(), h.now)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.app = web.New(web.Deps{Cluster: h.c, Sealer: h.sealer, Now: h.now, PublicURL: "http://" + ln.Addr().String()})
	done := make(chan struct{})
	go func() { defer close(done); _ = h.app.Listener(ln) }()
	t.Cleanup(func() { _ = h.app.ShutdownWithTimeout(5 * time.Second); <-done })
	h.base = "http://" + ln.Addr().String()
	h.a = h.createTenant("+15557770000")
	h.b = h.createTenant("+15558880000")
	return h
}

func (h *mediaHarness) advance(d time.Duration) { h.clock.Add(int64(d)) }

func (h *mediaHarness) now() time.Time { return time.Unix(0, h.clock.Load()) }

// gen is size deterministic bytes after prefix.
type gen struct {
	prefix []byte
	size   int64
	off    int64
}

func (g *gen) Read(p []byte) (int, error) {
	if g.off >= g.size {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > g.size-g.off {
		n = g.size - g.off
	}
	for i := int64(0); i < n; i++ {
		o := g.off + i
		if o < int64(len(g.prefix)) {
			p[i] = g.prefix[o]
		} else {
			p[i] = byte(o*7 + o>>9)
		}
	}
	g.off += n
	return int(n), nil
}

func content(prefix []byte, size int64) []byte {
	b, _ := io.ReadAll(&gen{prefix: prefix, size: size})
	return b
}

// part is one multipart field: a value, or a generated file.
type part struct {
	name, value      string
	filename, ctype  string
	prefix           []byte
	size             int64
	isFile, noCTHead bool
}

func field(name, value string) part { return part{name: name, value: value} }

func file(ctype string, prefix []byte, size int64) part {
	return part{name: "file", filename: "f.bin", ctype: ctype, prefix: prefix, size: size, isFile: true}
}

// multipartBody streams parts; it returns the reader and its length.
func multipartBody(parts []part) (io.Reader, int64, string) {
	const boundary = "waedgeTestBoundary7MA4YWxk"
	var rs []io.Reader
	var n int64
	add := func(r io.Reader, size int64) { rs = append(rs, r); n += size }
	str := func(s string) { add(strings.NewReader(s), int64(len(s))) }
	for _, p := range parts {
		str("--" + boundary + "\r\n")
		if p.isFile {
			str(`Content-Disposition: form-data; name="` + p.name + `"; filename="` + p.filename + "\"\r\n")
			if p.ctype != "" {
				str("Content-Type: " + p.ctype + "\r\n")
			}
			str("\r\n")
			add(&gen{prefix: p.prefix, size: p.size}, p.size)
		} else {
			str(`Content-Disposition: form-data; name="` + p.name + "\"\r\n\r\n" + p.value)
		}
		str("\r\n")
	}
	str("--" + boundary + "--\r\n")
	return io.MultiReader(rs...), n, "multipart/form-data; boundary=" + boundary
}

func (h *mediaHarness) request(method, path, token string, body io.Reader, size int64, ctype string) (int, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	req.ContentLength = size
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return resp.StatusCode, b
}

// upload posts parts to tenant's /media (query is appended verbatim).
func (h *mediaHarness) upload(tenant map[string]string, query string, parts ...part) (int, []byte) {
	h.t.Helper()
	body, n, ct := multipartBody(parts)
	return h.request("POST", "/v21.0/"+tenant["phone_number_id"]+"/media"+query, tenant["access_token"], body, n, ct)
}

func (h *mediaHarness) mustUpload(tenant map[string]string, query string, parts ...part) string {
	h.t.Helper()
	code, b := h.upload(tenant, query, parts...)
	var out struct{ ID string }
	if code != 200 || json.Unmarshal(b, &out) != nil || len(out.ID) < 15 || len(out.ID) > 16 {
		h.t.Fatalf("upload: %d %s", code, b)
	}
	return out.ID
}

// uploadErr expects a Graph error with gcode and no stored media at all.
func (h *mediaHarness) uploadErr(gcode int, tenant map[string]string, query string, parts ...part) {
	h.t.Helper()
	before, beforeChunks, _ := h.c.FSM().MediaCount()
	code, b := h.upload(tenant, query, parts...)
	if code == 200 || decodeEnvelope(h.t, b).Error.Code != gcode {
		h.t.Fatalf("upload: %d %s, want code %d", code, b, gcode)
	}
	if recs, chunks, _ := h.c.FSM().MediaCount(); recs != before || chunks != beforeChunks {
		h.t.Fatalf("a failed upload left %d records %d chunks", recs-before, chunks-beforeChunks)
	}
}

type mediaInfo struct {
	MessagingProduct string `json:"messaging_product"`
	URL              string `json:"url"`
	MIME             string `json:"mime_type"`
	SHA256           string `json:"sha256"`
	FileSize         int64  `json:"file_size"`
	ID               string `json:"id"`
}

func (h *mediaHarness) info(tenant map[string]string, id string) mediaInfo {
	h.t.Helper()
	code, b := h.request("GET", "/v21.0/"+id, tenant["access_token"], nil, 0, "")
	var m mediaInfo
	if code != 200 || json.Unmarshal(b, &m) != nil || m.ID != id || m.MessagingProduct != "whatsapp" {
		h.t.Fatalf("GET media: %d %s", code, b)
	}
	return m
}

// download fetches a media URL with token.
func (h *mediaHarness) download(rawURL, token string) (int, []byte, http.Header) {
	h.t.Helper()
	req, _ := http.NewRequest("GET", rawURL, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// checkStored GETs id and downloads it: mime, size, sha256 and bytes.
func (h *mediaHarness) checkStored(tenant map[string]string, id, mime string, want []byte) mediaInfo {
	h.t.Helper()
	m := h.info(tenant, id)
	sum := sha256.Sum256(want)
	if m.MIME != mime || m.FileSize != int64(len(want)) || m.SHA256 != hex.EncodeToString(sum[:]) {
		h.t.Fatalf("media info %+v, want %s %d bytes", m, mime, len(want))
	}
	code, got, hdr := h.download(m.URL, tenant["access_token"])
	if code != 200 || !bytes.Equal(got, want) || hdr.Get("Content-Type") != mime || hdr.Get("Content-Length") != fmt.Sprint(len(want)) {
		h.t.Fatalf("download: %d, %d bytes (want %d), %v", code, len(got), len(want), hdr)
	}
	return m
}

var (
	pngMagic  = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	jpegMagic = []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00")
	webpMagic = []byte("RIFF\x00\x00\x00\x00WEBPVP8 \x00\x00\x00\x00\x00")
	webpAnim  = []byte("RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x02\x00\x00\x00")
	pdfMagic  = []byte("%PDF-1.7\n")
)

func TestMediaUploadFieldOrders(t *testing.T) {
	h := newMediaHarness(t)
	a := h.a
	want := content(pngMagic, 1000)
	png := file("image/png", pngMagic, 1000)
	for name, tc := range map[string]struct {
		query string
		parts []part
	}{
		"product, type, file":           {"", []part{field("messaging_product", "whatsapp"), field("type", "image/png"), png}},
		"file, type, product":           {"", []part{png, field("type", "image/png"), field("messaging_product", "whatsapp")}},
		"type, file, product":           {"", []part{field("type", "image/png"), png, field("messaging_product", "whatsapp")}},
		"product in query, no type":     {"?messaging_product=whatsapp", []part{png}},
		"sniffed from octet-stream":     {"", []part{file("application/octet-stream", pngMagic, 1000), field("messaging_product", "whatsapp")}},
		"sniffed without content type":  {"?messaging_product=whatsapp", []part{file("", pngMagic, 1000)}},
		"unknown field and ttl ignored": {"?messaging_product=whatsapp", []part{field("ttl_minutes", "60"), png, field("x", "y")}},
	} {
		t.Run(name, func(t *testing.T) {
			h.t = t
			id := h.mustUpload(a, tc.query, tc.parts...)
			h.checkStored(a, id, "image/png", want)
		})
	}
	h.t = t
	// Text sniffed from content.
	id := h.mustUpload(a, "?messaging_product=whatsapp", file("", []byte("hello, world\n"), 13))
	h.checkStored(a, id, "text/plain", []byte("hello, world\n"))

	for name, parts := range map[string][]part{
		"no product":       {png},
		"wrong product":    {png, field("messaging_product", "messenger")},
		"no file":          {field("messaging_product", "whatsapp"), field("type", "image/png")},
		"two files":        {field("messaging_product", "whatsapp"), png, png},
		"product last bad": {png, field("type", "image/png"), field("messaging_product", "x")},
	} {
		t.Run(name, func(t *testing.T) { h.t = t; h.uploadErr(100, a, "", parts...) })
	}
	h.t = t
	h.uploadErr(100, a, "?messaging_product=sms", png)
	// Not multipart at all.
	if code, b := h.request("POST", "/v21.0/"+a["phone_number_id"]+"/media", a["access_token"], strings.NewReader("{}"), 2, "application/json"); code != 400 || decodeEnvelope(t, b).Error.Code != 100 {
		t.Fatalf("JSON upload: %d %s", code, b)
	}
	// Another business's phone number answers like a missing one; no token is 190.
	body, n, ct := multipartBody([]part{png, field("messaging_product", "whatsapp")})
	if code, b := h.request("POST", "/v21.0/"+h.b["phone_number_id"]+"/media", a["access_token"], body, n, ct); code != 400 || decodeEnvelope(t, b).Error.Code != 100 {
		t.Fatalf("foreign phone: %d %s", code, b)
	}
	body, n, ct = multipartBody([]part{png, field("messaging_product", "whatsapp")})
	if code, b := h.request("POST", "/v21.0/"+a["phone_number_id"]+"/media", "", body, n, ct); code != 401 || decodeEnvelope(t, b).Error.Code != 190 {
		t.Fatalf("no token: %d %s", code, b)
	}
}

func TestMediaKindsAndLimits(t *testing.T) {
	h := newMediaHarness(t)
	a := h.a
	q := "?messaging_product=whatsapp"
	for _, tc := range []struct {
		mime   string
		prefix []byte
		limit  int64
	}{
		{"audio/aac", nil, 16_000_000},
		{"audio/amr", nil, 16_000_000},
		{"audio/mpeg", nil, 16_000_000},
		{"audio/mp4", nil, 16_000_000},
		{"audio/ogg", nil, 16_000_000},
		{"text/plain", []byte("text"), 100_000_000},
		{"application/pdf", pdfMagic, 100_000_000},
		{"application/msword", nil, 100_000_000},
		{"application/vnd.openxmlformats-officedocument.wordprocessingml.document", nil, 100_000_000},
		{"application/vnd.ms-excel", nil, 100_000_000},
		{"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", nil, 100_000_000},
		{"application/vnd.ms-powerpoint", nil, 100_000_000},
		{"application/vnd.openxmlformats-officedocument.presentationml.presentation", nil, 100_000_000},
		{"image/jpeg", jpegMagic, 5_000_000},
		{"image/png", pngMagic, 5_000_000},
		{"image/webp", webpMagic, 100_000},
		{"video/mp4", nil, 16_000_000},
		{"video/3gp", nil, 16_000_000},
	} {
		t.Run(tc.mime, func(t *testing.T) {
			h.t = t
			id := h.mustUpload(a, q, field("type", tc.mime), file(tc.mime, tc.prefix, 2000))
			h.checkStored(a, id, tc.mime, content(tc.prefix, 2000))
		})
	}
	h.t = t
	// Parameters are accepted and dropped (audio/ogg; codecs=opus).
	id := h.mustUpload(a, q, field("type", "audio/ogg; codecs=opus"), file("audio/ogg", nil, 10))
	if m := h.info(a, id); m.MIME != "audio/ogg" {
		t.Fatalf("ogg: %+v", m)
	}
	// Unsupported types: declared, from the part, or sniffed.
	h.uploadErr(131053, a, q, field("type", "image/gif"), file("image/gif", []byte("GIF89a"), 100))
	h.uploadErr(131053, a, q, file("image/gif", []byte("GIF89a"), 100))
	h.uploadErr(131053, a, q, file("", []byte("GIF89a"), 100))
	h.uploadErr(131053, a, q, file("application/zip", []byte("PK\x03\x04"), 100), field("type", "application/zip"))
	// Content that is not the image it claims to be.
	h.uploadErr(131053, a, q, field("type", "image/png"), file("image/png", jpegMagic, 100))
	// Empty file.
	h.uploadErr(131053, a, q, field("type", "text/plain"), file("text/plain", nil, 0))

	// Size limits at and over each, with the real sizes. The document
	// limit (100 MB) goes through the whole pipeline twice.
	for _, tc := range []struct {
		name, mime string
		prefix     []byte
		limit      int64
		typeFirst  bool
	}{
		{"image", "image/jpeg", jpegMagic, 5_000_000, true},
		{"image type last", "image/png", pngMagic, 5_000_000, false},
		{"audio", "audio/mpeg", nil, 16_000_000, true},
		{"video", "video/mp4", nil, 16_000_000, false},
		{"static sticker", "image/webp", webpMagic, 100_000, true},
		{"animated sticker", "image/webp", webpAnim, 500_000, false},
		{"document", "application/pdf", pdfMagic, 100_000_000, true},
	} {
		t.Run("limit "+tc.name, func(t *testing.T) {
			h.t = t
			parts := func(size int64) []part {
				f := file(tc.mime, tc.prefix, size)
				if tc.typeFirst {
					return []part{field("type", tc.mime), f}
				}
				return []part{f, field("type", tc.mime)}
			}
			id := h.mustUpload(a, q, parts(tc.limit)...)
			if m := h.info(a, id); m.FileSize != tc.limit || m.MIME != tc.mime {
				t.Fatalf("at the limit: %+v", m)
			}
			h.uploadErr(131053, a, q, parts(tc.limit+1)...)
		})
	}
	h.t = t
	// A static sticker between the static and the animated limit.
	h.uploadErr(131053, a, q, file("image/webp", webpMagic, 200_000))
	// A body over the whole upload limit is refused from its length. Raw
	// HTTP: the answer comes while the client is still sending, and an
	// http.Client reports the reset of its write instead of the answer.
	body, n, ct := multipartBody([]part{file("application/pdf", pdfMagic, 102_000_000)})
	resp := h.raw("POST /v21.0/"+a["phone_number_id"]+"/media"+q, a["access_token"], ct, n, body)
	if resp.code != 400 || decodeEnvelope(t, resp.body).Error.Code != 131053 || !resp.closed {
		t.Fatalf("over the upload limit: %+v", resp)
	}
}

type rawResp struct {
	code   int
	body   []byte
	closed bool // the server asked to close the connection
}

// raw sends one request over a fresh connection, writing the body
// concurrently, and reads the answer.
func (h *mediaHarness) raw(line, token, ctype string, size int64, body io.Reader) rawResp {
	h.t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.base, "http://"))
	if err != nil {
		h.t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(conn, "%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		line, token, ctype, size)
	go func() { _, _ = io.Copy(conn, body) }()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		h.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return rawResp{code: resp.StatusCode, body: b, closed: resp.Close}
}

// TestUploadKeepAlive: a refused upload whose body was not read (here by
// the auth middleware) does not spill into the next request on the
// connection.
func TestUploadKeepAlive(t *testing.T) {
	h := newMediaHarness(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	body, n, ct := multipartBody([]part{field("messaging_product", "whatsapp"), file("image/png", pngMagic, 50_000)})
	fmt.Fprintf(conn, "POST /v21.0/%s/media HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		h.a["phone_number_id"], ct, n)
	if _, err := io.Copy(conn, body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 401 {
		t.Fatalf("no token: %v %v", resp, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err = http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("next request on the connection: %v %v", resp, err)
	}
}

func TestMediaChunkBoundaries(t *testing.T) {
	h := newMediaHarness(t)
	q := "?messaging_product=whatsapp"
	for _, tc := range []struct {
		size   int64
		chunks uint32
	}{{1, 1}, {raftfsm.MediaChunkSize - 1, 1}, {raftfsm.MediaChunkSize, 1}, {raftfsm.MediaChunkSize + 1, 2}, {3 * raftfsm.MediaChunkSize, 3}} {
		id := h.mustUpload(h.a, q, file("text/plain", []byte("t"), tc.size))
		h.checkStored(h.a, id, "text/plain", content([]byte("t"), tc.size))
		m, err := h.c.FSM().Media(id)
		if err != nil || m.Chunks != tc.chunks {
			t.Fatalf("%d bytes: %d chunks (%v), want %d", tc.size, m.Chunks, err, tc.chunks)
		}
		// Every chunk is sealed: the stored bytes are not the plaintext (a
		// 1-byte file is too short to tell by search; it must still not be
		// stored as itself).
		for i := uint32(0); i < m.Chunks; i++ {
			c, _ := h.c.FSM().MediaChunk(id, i)
			plain := content([]byte("t"), min(tc.size, 64))
			chunkLen := min(int64(raftfsm.MediaChunkSize), tc.size-int64(i)*raftfsm.MediaChunkSize)
			if int64(len(c)) <= chunkLen || (len(plain) >= 16 && bytes.Contains(c, plain)) {
				t.Fatalf("%d bytes: chunk %d (%d bytes) stored in the clear", tc.size, i, len(c))
			}
		}
	}
}

func TestMediaURLAndIsolation(t *testing.T) {
	h := newMediaHarness(t)
	a, b := h.a, h.b
	want := content(jpegMagic, 300_000)
	id := h.mustUpload(a, "", field("messaging_product", "whatsapp"), file("image/jpeg", jpegMagic, 300_000))
	m := h.checkStored(a, id, "image/jpeg", want)
	u, err := url.Parse(m.URL)
	if err != nil || u.Scheme+"://"+u.Host != h.base || !strings.HasPrefix(u.Path, "/v1/media/download/"+id) {
		t.Fatalf("url %s", m.URL)
	}
	expect := func(what, rawURL, token string, code, gcode int) {
		t.Helper()
		c, body, _ := h.download(rawURL, token)
		if c != code || decodeEnvelope(t, body).Error.Code != gcode {
			t.Fatalf("%s: %d %s", what, c, body)
		}
		if bytes.Contains(body, want[:1000]) {
			t.Fatalf("%s: error leaks media", what)
		}
	}
	expect("no bearer", m.URL, "", 401, 190)
	expect("bad bearer", m.URL, "nope", 401, 190)
	expect("other business", m.URL, b["access_token"], 400, 100)
	sig := u.Query().Get("sig")
	tampered := strings.Replace(m.URL, sig, strings.Repeat("0", len(sig)), 1)
	expect("tampered sig", tampered, a["access_token"], 400, 100)
	later := *u
	qv := later.Query()
	qv.Set("exp", fmt.Sprint(time.Now().Add(time.Hour).Unix()))
	later.RawQuery = qv.Encode()
	expect("extended expiry", later.String(), a["access_token"], 400, 100)
	// phone_number_id must be the owner's when given.
	if code, body := h.request("GET", "/v21.0/"+id+"?phone_number_id="+a["phone_number_id"], a["access_token"], nil, 0, ""); code != 200 {
		t.Fatalf("own phone filter: %d %s", code, body)
	}

	// A foreign business sees the media exactly as a missing id.
	missing := "1234567890123456"
	same := func(what string, mk func(id string) (int, []byte)) {
		t.Helper()
		c1, b1 := mk(id)
		c2, b2 := mk(missing)
		e1, e2 := decodeEnvelope(t, b1), decodeEnvelope(t, b2)
		e1.Error.FBTraceID, e2.Error.FBTraceID = "", ""
		e1.Error.ErrorData.Details = strings.ReplaceAll(e1.Error.ErrorData.Details, id, "ID")
		e2.Error.ErrorData.Details = strings.ReplaceAll(e2.Error.ErrorData.Details, missing, "ID")
		if c1 != c2 || e1 != e2 || c1 != 400 {
			t.Fatalf("%s: foreign %d %s, missing %d %s", what, c1, b1, c2, b2)
		}
	}
	same("GET", func(x string) (int, []byte) { return h.request("GET", "/v21.0/"+x, b["access_token"], nil, 0, "") })
	same("DELETE", func(x string) (int, []byte) { return h.request("DELETE", "/v21.0/"+x, b["access_token"], nil, 0, "") })
	same("GET with other phone", func(x string) (int, []byte) {
		return h.request("GET", "/v21.0/"+x+"?phone_number_id="+b["phone_number_id"], a["access_token"], nil, 0, "")
	})
	same("DELETE with other phone", func(x string) (int, []byte) {
		return h.request("DELETE", "/v21.0/"+x+"?phone_number_id="+b["phone_number_id"], a["access_token"], nil, 0, "")
	})

	// Expired URL: 5 minutes.
	h.advance(4*time.Minute + 59*time.Second)
	if c, _, _ := h.download(m.URL, a["access_token"]); c != 200 {
		t.Fatalf("URL before expiry: %d", c)
	}
	h.advance(2 * time.Minute)
	expect("expired URL", m.URL, a["access_token"], 400, 100)
	fresh := h.info(a, id)
	if c, got, _ := h.download(fresh.URL, a["access_token"]); c != 200 || !bytes.Equal(got, want) {
		t.Fatalf("fresh URL: %d", c)
	}

	// DELETE, then the id and its URLs are gone.
	if code, body := h.request("DELETE", "/v21.0/"+id+"?phone_number_id="+a["phone_number_id"], a["access_token"], nil, 0, ""); code != 200 || string(body) != `{"success":true}` {
		t.Fatalf("delete: %d %s", code, body)
	}
	if code, body := h.request("GET", "/v21.0/"+id, a["access_token"], nil, 0, ""); code != 400 || decodeEnvelope(t, body).Error.Code != 100 {
		t.Fatalf("GET after delete: %d %s", code, body)
	}
	expect("download after delete", fresh.URL, a["access_token"], 400, 100)
	if code, body := h.request("DELETE", "/v21.0/"+id, a["access_token"], nil, 0, ""); code != 400 || decodeEnvelope(t, body).Error.Code != 100 {
		t.Fatalf("second delete: %d %s", code, body)
	}
	if recs, chunks, _ := h.c.FSM().MediaCount(); recs != 0 || chunks != 0 {
		t.Fatalf("after delete: %d records %d chunks", recs, chunks)
	}
}

// sendFixtures uploads an image and a PDF of business A and an image of
// business B, and opens A's window with 15551234567.
func (h *mediaHarness) sendFixtures() (img, doc, foreign string) {
	h.t.Helper()
	img = h.mustUpload(h.a, "?messaging_product=whatsapp", file("image/png", pngMagic, 100))
	doc = h.mustUpload(h.a, "?messaging_product=whatsapp", file("application/pdf", pdfMagic, 100))
	foreign = h.mustUpload(h.b, "?messaging_product=whatsapp", file("image/png", pngMagic, 100))
	h.openWindow(h.a["phone_number_id"], "15551234567", time.Unix(0, h.clock.Load()))
	return img, doc, foreign
}

func TestMediaRetentionAndMessages(t *testing.T) {
	h := newMediaHarness(t)
	a := h.a
	pn := a["phone_number_id"]
	id, doc, other := h.sendFixtures()
	to := "15551234567"
	send := func(typ, mediaID string) (int, int) {
		code, b := h.do("POST", "/v21.0/"+pn+"/messages", a["access_token"],
			`{"messaging_product":"whatsapp","to":"`+to+`","type":"`+typ+`","`+typ+`":{"id":"`+mediaID+`"}}`)
		if code == 200 {
			return code, 0
		}
		return code, decodeEnvelope(t, b).Error.Code
	}
	if code, gc := send("image", id); code != 200 {
		t.Fatalf("image by id: %d %d", code, gc)
	}
	if code, gc := send("document", doc); code != 200 {
		t.Fatalf("document by id: %d %d", code, gc)
	}
	for what, tc := range map[string][2]string{
		"unknown id":          {"image", "1234567890123456"},
		"other business":      {"image", other},
		"image as document":   {"document", id},
		"document as sticker": {"sticker", doc},
	} {
		if code, gc := send(tc[0], tc[1]); code != 400 || gc != 131053 {
			t.Fatalf("%s: %d %d", what, code, gc)
		}
	}
	// 30 days later the media is gone for every read.
	m := h.info(a, id)
	h.advance(30*24*time.Hour - time.Minute)
	h.info(a, id)
	h.advance(time.Minute)
	if code, b := h.request("GET", "/v21.0/"+id, a["access_token"], nil, 0, ""); code != 400 || decodeEnvelope(t, b).Error.Code != 100 {
		t.Fatalf("GET after 30 days: %d %s", code, b)
	}
	if code, b := h.request("DELETE", "/v21.0/"+id, a["access_token"], nil, 0, ""); code != 400 || decodeEnvelope(t, b).Error.Code != 100 {
		t.Fatalf("DELETE after 30 days: %d %s", code, b)
	}
	_ = m
	to = "15551234568"
	h.openWindow(pn, to, time.Unix(0, h.clock.Load()))
	if code, gc := send("image", id); code != 400 || gc != 131053 {
		t.Fatalf("image by expired id: %d %d", code, gc)
	}
}

// TestMediaSealedUnderPhoneRetention: media of a number with 1-hour
// retention is sealed under that retention class's data key, so the expiry
// run that deletes it also destroys the key: a copy of a chunk taken
// before (what a backup or an old Raft log segment holds) no longer opens,
// on this node or on one that never cached the key.
func TestMediaSealedUnderPhoneRetention(t *testing.T) {
	h := newMediaHarness(t)
	a := h.a
	if code, b := h.do("POST", "/admin/v1/phones/"+a["phone_number_id"]+"/retention", "admin-tok", `{"retention_hours":1}`); code != 200 {
		t.Fatalf("retention: %d %s", code, b)
	}
	want := content(pngMagic, 300_000) // two chunks
	id := h.mustUpload(a, "?messaging_product=whatsapp", file("image/png", pngMagic, int64(len(want))))
	h.checkStored(a, id, "image/png", want)
	var copies [][]byte
	for i := uint32(0); i < 2; i++ {
		c, err := h.c.FSM().MediaChunk(id, i)
		if err != nil {
			t.Fatal(err)
		}
		copies = append(copies, c)
	}

	// Past the retention and the key's hour: the expiry run deletes the
	// media and destroys its key.
	h.advance(2*time.Hour + time.Minute)
	r, err := h.c.Propose(t.Context(), mustCmd(t, raftfsm.CmdExpire, raftfsm.Expire{Now: h.now().UnixMilli()}))
	if err != nil || r.Err != nil {
		t.Fatal(err, r.Err)
	}
	res, err := raftfsm.DecodeExpireResult(r.Value)
	if err != nil {
		t.Fatal(err)
	}
	h.sealer.Forget(res.DestroyedKeys) // what every node's expire hook does
	if recs, chunks, _ := h.c.FSM().MediaStored(id); recs+chunks != 0 {
		t.Fatalf("media left after expiry: %d records, %d chunks", recs, chunks)
	}
	fresh := seal.New(h.c, testKEK(), h.now)
	for i, c := range copies {
		for name, s := range map[string]*seal.Sealer{"this node": h.sealer, "a fresh node": fresh} {
			if _, err := s.Open(raftfsm.MediaChunkAAD(id, uint32(i)), c); !errors.Is(err, keyring.ErrKeyDestroyed) {
				t.Fatalf("%s opens chunk %d after expiry: %v", name, i, err)
			}
		}
	}
}

// TestStreamedBodiesElsewhere: with request-body streaming on, JSON routes
// still see their body (also chunked) and keep the 4 MiB limit.
func TestStreamedBodiesElsewhere(t *testing.T) {
	h := newMediaHarness(t)
	// Chunked (no Content-Length) JSON body.
	code, b := h.request("POST", "/admin/v1/tenants", "admin-tok", io.MultiReader(strings.NewReader(`{"name":"Chunked",`), strings.NewReader(`"phone":"+15559990000"}`)), -1, "application/json")
	if code != 200 || !bytes.Contains(b, []byte(`"phone_number_id"`)) {
		t.Fatalf("chunked JSON: %d %s", code, b)
	}
	// A chunked body over 4 MiB is refused.
	big := &gen{prefix: []byte(`{"name":"`), size: 4<<20 + 10}
	req, _ := http.NewRequest("POST", h.base+"/admin/v1/tenants", io.MultiReader(big))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer admin-tok")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 413 || decodeEnvelope(t, body).Error.Code != 100 {
			t.Fatalf("chunked over the limit: %d %s", resp.StatusCode, body)
		}
	} // else: the server answered and closed while the client was still sending
	// Keep-alive requests after an upload still parse.
	id := h.mustUpload(h.a, "?messaging_product=whatsapp", file("text/plain", []byte("x"), 10))
	h.info(h.a, id)
}

// TestMediaUploadMemoryBounded uploads a 60 MB document and samples the
// heap: the upload holds one chunk at a time, not the file.
func TestMediaUploadMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads 60 MB")
	}
	h := newMediaHarness(t)
	const size = 60_000_000
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()
	id := h.mustUpload(h.a, "?messaging_product=whatsapp", file("application/pdf", pdfMagic, size))
	close(stop)
	<-sampled
	growth := int64(peak.Load()) - int64(base.HeapInuse)
	t.Logf("60 MB upload: peak HeapInuse growth %.1f MB", float64(growth)/1e6)
	if growth > 30_000_000 {
		t.Fatalf("upload of %d bytes grew the heap by %d bytes", size, growth)
	}
	// The download streams too.
	m := h.info(h.a, id)
	req, _ := http.NewRequest("GET", m.URL, nil)
	req.Header.Set("Authorization", "Bearer "+h.a["access_token"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	hs := sha256.New()
	n, err := io.Copy(hs, resp.Body)
	if err != nil || n != size || hex.EncodeToString(hs.Sum(nil)) != m.SHA256 {
		t.Fatalf("download: %d bytes %v", n, err)
	}
}

// TestMediaIDsInHeaders: media ids inside an interactive header and in
// template header parameters are checked like a media message's own id —
// an unknown id, another business's, or media of the wrong kind is 131053
// (as for a top-level image by that id), names the field, and stores
// nothing; the business's own media of the right kind is sent.
func TestMediaIDsInHeaders(t *testing.T) {
	h := newMediaHarness(t)
	a := h.a
	pn := a["phone_number_id"]
	img, doc, foreign := h.sendFixtures()
	const unknown = "1234567890123456"
	code, out := h.do("POST", "/v21.0/"+a["waba_id"]+"/message_templates", a["access_token"],
		`{"name":"receipt","language":"en","category":"UTILITY","components":[{"type":"HEADER","format":"IMAGE"},{"type":"BODY","text":"Your receipt"}]}`)
	if code != 200 {
		t.Fatalf("template: %d %s", code, out)
	}
	send := func(body string) (int, []byte) {
		return h.do("POST", "/v21.0/"+pn+"/messages", a["access_token"], `{"messaging_product":"whatsapp","to":"15551234567",`+body+`}`)
	}
	interactive := func(kind, id string) string {
		return `"type":"interactive","interactive":{"type":"button","header":{"type":"` + kind + `","` + kind + `":{"id":"` + id + `"}},` +
			`"body":{"text":"ok?"},"action":{"buttons":[{"type":"reply","reply":{"id":"y","title":"Yes"}}]}}`
	}
	template := func(kind, id string) string {
		return `"type":"template","template":{"name":"receipt","language":{"code":"en"},"components":[{"type":"header",` +
			`"parameters":[{"type":"` + kind + `","` + kind + `":{"id":"` + id + `"}}]}]}`
	}
	// A carousel: the second card's header image is the one under test.
	carousel := func(id string) string {
		card := func(i int, id string) string {
			return fmt.Sprintf(`{"card_index":%d,"components":[{"type":"header","parameters":[{"type":"image","image":{"id":"%s"}}]}]}`, i, id)
		}
		return `"type":"template","template":{"name":"receipt","language":{"code":"en"},"components":[{"type":"header",` +
			`"parameters":[{"type":"image","image":{"id":"` + img + `"}}]},{"type":"carousel","cards":[` + card(0, img) + `,` + card(1, id) + `]}]}`
	}
	// The reference: a top-level image by an unknown id.
	refCode, refOut := send(`"type":"image","image":{"id":"` + unknown + `"}`)
	ref := decodeEnvelope(t, refOut)
	if refCode != 400 || ref.Error.Code != 131053 {
		t.Fatalf("top-level unknown id: %d %s", refCode, refOut)
	}
	stored := h.c.FSM().MessageCount()
	for _, tc := range []struct{ name, body, field string }{
		{"interactive, unknown id", interactive("image", unknown), "interactive.header.image.id"},
		{"interactive, other business", interactive("image", foreign), "interactive.header.image.id"},
		{"interactive, document as image", interactive("image", doc), "interactive.header.image.id"},
		{"interactive, image as video", interactive("video", img), "interactive.header.video.id"},
		{"template, unknown id", template("image", unknown), "template.components[0].parameters[0].image.id"},
		{"template, other business", template("image", foreign), "template.components[0].parameters[0].image.id"},
		{"template, image as document", template("document", img), "template.components[0].parameters[0].document.id"},
		{"carousel card, unknown id", carousel(unknown), "template.components[1].cards[1].components[0].parameters[0].image.id"},
		{"carousel card, other business", carousel(foreign), "template.components[1].cards[1].components[0].parameters[0].image.id"},
	} {
		code, out := send(tc.body)
		e := decodeEnvelope(t, out)
		if code != refCode || e.Error.Code != ref.Error.Code || e.Error.Message != ref.Error.Message ||
			!strings.HasPrefix(e.Error.ErrorData.Details, tc.field+" ") {
			t.Fatalf("%s: %d %s, want %d %d naming %s", tc.name, code, out, refCode, ref.Error.Code, tc.field)
		}
	}
	if n := h.c.FSM().MessageCount(); n != stored {
		t.Fatalf("refused sends stored %d messages", n-stored)
	}
	for name, body := range map[string]string{"interactive": interactive("image", img), "template": template("image", img),
		"interactive document": interactive("document", doc)} {
		if code, out := send(body); code != 200 {
			t.Fatalf("%s with own media: %d %s", name, code, out)
		}
	}
	if n := h.c.FSM().MessageCount(); n != stored+3 {
		t.Fatalf("stored %d messages, want 3", n-stored)
	}
}

// slowCluster commits each proposal after a delay, as a loaded cluster does.
type slowCluster struct {
	*fakeCluster
	delay time.Duration
}

func (c *slowCluster) Propose(ctx context.Context, cmd []byte) (raftfsm.Result, error) {
	select {
	case <-time.After(c.delay):
	case <-ctx.Done():
		return raftfsm.Result{}, ctx.Err()
	}
	return c.fakeCluster.Propose(ctx, cmd)
}

// TestSlowUploadOutlastsRequestTimeout: a media upload may take as long as
// the server lets its body arrive (uploadTimeout, 10 minutes for up to
// 100 MB), not just the request deadline every other route gets. Before,
// an upload whose chunks took longer than RequestTimeout (30 s) to commit
// — a 20 MB document on a loaded machine — was answered 503 "timed out;
// retry", and every retry the same.
func TestSlowUploadOutlastsRequestTimeout(t *testing.T) {
	h := newMediaHarness(t)
	const timeout = 200 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Three proposals (two chunks and the commit) of 150 ms each: 450 ms.
	slow := &slowCluster{fakeCluster: h.c, delay: 3 * timeout / 4}
	app := web.New(web.Deps{Cluster: slow, Sealer: h.sealer, Now: h.now, PublicURL: "http://" + ln.Addr().String(),
		RequestTimeout: timeout})
	done := make(chan struct{})
	go func() { defer close(done); _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.ShutdownWithTimeout(5 * time.Second); <-done })
	h.base = "http://" + ln.Addr().String()

	const size = raftfsm.MediaChunkSize + 1000
	body, n, ct := multipartBody([]part{field("messaging_product", "whatsapp"), file("application/pdf", pdfMagic, size)})
	code, b := h.request("POST", "/v21.0/"+h.a["phone_number_id"]+"/media", h.a["access_token"], body, n, ct)
	var out struct{ ID string }
	if code != 200 || json.Unmarshal(b, &out) != nil {
		t.Fatalf("slow upload: %d %s", code, b)
	}
	h.checkStored(h.a, out.ID, "application/pdf", content(pdfMagic, size))
	// Other routes keep the request deadline (surface_test.go checks that).
}
