package web_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawDo sends body as the raw request body with the given headers.
func (h *harness) rawDo(method, path string, headers map[string]string, body []byte) (int, []byte) {
	h.t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return h.send(req)
}

// testPNG is a w×h PNG with a gradient (so that scaling shows).
func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 90, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// startUpload opens a session and returns its id (upload:…?sig=…).
func (h *harness) startUpload(t *testing.T, tok, appID, query string) string {
	t.Helper()
	code, out := h.do("POST", "/v21.0/"+appID+"/uploads?"+query, tok, "")
	var s struct{ ID string }
	if code != 200 || json.Unmarshal(out, &s) != nil || !strings.HasPrefix(s.ID, "upload:") {
		t.Fatalf("start upload: %d %s", code, out)
	}
	return s.ID
}

// TestResumableUpload: a session (POST /{app-id}/uploads) takes the file
// in two requests with Meta's OAuth header and file_offset; GET tells the
// offset; the finished upload answers h; the handle sets the profile
// picture (re-encoded, at most 640 pixels), which GET
// whatsapp_business_profile shows as profile_picture_url and which serves
// without a token. Bad sessions, offsets, types and sizes are refused with
// nothing stored; another business can use neither the session nor the
// handle.
func TestResumableUpload(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550038500")
	b := h.createTenant("+15550038600")
	tok := a["access_token"]
	oauth := func(token, offset string) map[string]string {
		m := map[string]string{"Authorization": "OAuth " + token}
		if offset != "" {
			m["file_offset"] = offset
		}
		return m
	}
	img := testPNG(t, 900, 600) // larger than one 256 KiB chunk? not needed: split by hand
	if len(img) < 2000 {
		t.Fatalf("test image too small: %d", len(img))
	}

	// Refused sessions leave nothing.
	recordsBefore, chunksBefore, _ := h.c.FSM().MediaCount()
	for what, q := range map[string]string{
		"no type":       "file_length=10",
		"bad type":      "file_length=10&file_type=text/html",
		"no length":     "file_type=image/png",
		"zero length":   "file_length=0&file_type=image/png",
		"image too big": "file_length=5000001&file_type=image/png",
	} {
		if code, out := h.do("POST", "/v21.0/"+a["app_id"]+"/uploads?"+q, tok, ""); code != 400 || decodeEnvelope(t, out).Error.Code != 100 {
			t.Fatalf("%s: %d %s", what, code, out)
		}
	}
	if code, out := h.do("POST", "/v21.0/"+a["app_id"]+"/uploads?file_length=10&file_type=image/png", b["access_token"], ""); code != 400 || decodeEnvelope(t, out).Error.Code != 100 {
		t.Fatalf("another business's app: %d %s", code, out)
	}

	sid := h.startUpload(t, tok, a["app_id"], "file_name=logo.png&file_length="+strconv.Itoa(len(img))+"&file_type=image/png")
	path := "/v21.0/" + sid
	offset := func() int64 {
		t.Helper()
		code, out := h.rawDo("GET", path, oauth(tok, ""), nil)
		var s struct {
			ID     string `json:"id"`
			Offset int64  `json:"file_offset"`
		}
		if code != 200 || json.Unmarshal(out, &s) != nil || s.ID != sid {
			t.Fatalf("offset: %d %s", code, out)
		}
		return s.Offset
	}
	if offset() != 0 {
		t.Fatal("a new session has bytes")
	}
	// Another business, a forged signature, a wrong offset: refused.
	if code, out := h.rawDo("POST", path, oauth(b["access_token"], "0"), img); code != 400 || decodeEnvelope(t, out).Error.Code != 100 {
		t.Fatalf("foreign session: %d %s", code, out)
	}
	forged := path[:len(path)-4] + "0000"
	if code, out := h.rawDo("GET", forged, oauth(tok, ""), nil); code != 400 || decodeEnvelope(t, out).Error.Code != 100 {
		t.Fatalf("forged session: %d %s", code, out)
	}
	if code, out := h.rawDo("POST", path, oauth(tok, "5"), img); code != 400 || !strings.Contains(string(out), "file_offset must be 0") {
		t.Fatalf("wrong offset: %d %s", code, out)
	}
	if code, out := h.rawDo("POST", path, oauth(tok, ""), img); code != 400 {
		t.Fatalf("no offset: %d %s", code, out)
	}
	if code, out := h.rawDo("POST", path, oauth(tok, "0"), append(img, 'x')); code != 400 {
		t.Fatalf("longer than the file: %d %s", code, out)
	}
	if r, c, _ := h.c.FSM().MediaCount(); r != recordsBefore || c != chunksBefore {
		t.Fatalf("refused calls stored %d records %d chunks", r-recordsBefore, c-chunksBefore)
	}

	// A body shorter than the file: whole chunks are kept (here none,
	// the file is smaller than one chunk), the answer is the offset.
	code, out := h.rawDo("POST", path, oauth(tok, "0"), img[:1000])
	if code != 200 || !strings.Contains(string(out), `"file_offset":0`) {
		t.Fatalf("short body: %d %s", code, out)
	}
	code, out = h.rawDo("POST", path, oauth(tok, "0"), img)
	var done struct{ H string }
	if code != 200 || json.Unmarshal(out, &done) != nil || !strings.HasPrefix(done.H, "4::") {
		t.Fatalf("upload: %d %s", code, out)
	}
	if offset() != int64(len(img)) {
		t.Fatalf("offset after the upload: %d", offset())
	}

	// The handle sets the profile picture; another business cannot use it.
	profile := "/v21.0/" + a["phone_number_id"] + "/whatsapp_business_profile"
	if code, out := h.do("POST", "/v21.0/"+b["phone_number_id"]+"/whatsapp_business_profile", b["access_token"],
		`{"messaging_product":"whatsapp","profile_picture_handle":"`+done.H+`"}`); code != 400 || decodeEnvelope(t, out).Error.Code != 100 {
		t.Fatalf("foreign handle: %d %s", code, out)
	}
	// A changed last hex digit of the signature (never the digit it had).
	flipped := done.H[:len(done.H)-1] + map[bool]string{true: "1", false: "0"}[strings.HasSuffix(done.H, "0")]
	for _, bad := range []string{"4::aW1n:123:abc", flipped, "not-a-handle"} {
		if code, out := h.do("POST", profile, tok, `{"messaging_product":"whatsapp","profile_picture_handle":"`+bad+`"}`); code != 400 {
			t.Fatalf("bad handle %q: %d %s", bad, code, out)
		}
	}
	if code, out := h.do("GET", profile, tok, ""); code != 200 || strings.Contains(string(out), "profile_picture_url") {
		t.Fatalf("a refused handle set a picture: %d %s", code, out)
	}
	if code, out := h.do("POST", profile, tok, `{"messaging_product":"whatsapp","about":"Cakes","profile_picture_handle":"`+done.H+`"}`); code != 200 {
		t.Fatalf("set picture: %d %s", code, out)
	}
	code, out = h.do("GET", profile, tok, "")
	var prof struct {
		Data []struct {
			About string `json:"about"`
			URL   string `json:"profile_picture_url"`
		} `json:"data"`
	}
	if code != 200 || json.Unmarshal(out, &prof) != nil || len(prof.Data) != 1 || prof.Data[0].URL == "" || prof.Data[0].About != "Cakes" {
		t.Fatalf("profile: %d %s", code, out)
	}
	code, pic := h.rawDo("GET", prof.Data[0].URL, nil, nil)
	if code != 200 {
		t.Fatalf("picture: %d %s", code, pic)
	}
	got, err := jpeg.Decode(bytes.NewReader(pic))
	if err != nil {
		t.Fatalf("the picture is not a JPEG: %v", err)
	}
	if bnd := got.Bounds(); bnd.Dx() != 640 || bnd.Dy() != 426 {
		t.Fatalf("picture is %v, want 640×426", bnd)
	}
	// The colour of a corner survives (the picture is the uploaded one).
	if r, g, _, _ := got.At(630, 420).RGBA(); r>>8 < 200 || g>>8 < 200 {
		t.Fatalf("bottom-right corner is %d,%d; the upload's is near 255,255", r>>8, g>>8)
	}
	u, _ := url.Parse(prof.Data[0].URL)
	q := u.Query()
	q.Set("exp", strconv.FormatInt(mustInt(t, q.Get("exp"))+1, 10))
	if code, _ := h.rawDo("GET", u.Path+"?"+q.Encode(), nil, nil); code != 400 {
		t.Fatalf("extended picture URL: %d", code)
	}
}

// TestResumableUploadResumes: a 600 kB PDF sent in two requests — the
// first breaks off mid-chunk, keeps its whole chunk and answers the
// offset, which GET confirms; the second sends the rest from there. The
// handle works in a DOCUMENT header template of the business, and not for
// an IMAGE header or another business; a file whose content is not its
// file_type is refused and leaves nothing.
func TestResumableUploadResumes(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550038700")
	b := h.createTenant("+15550038800")
	tok := a["access_token"]
	doc := content([]byte("%PDF-1.7\n"), 600_000)
	sid := h.startUpload(t, tok, a["app_id"], "file_name=menu.pdf&file_length=600000&file_type=application/pdf")
	hdr := func(offset string) map[string]string {
		return map[string]string{"Authorization": "OAuth " + tok, "file_offset": offset}
	}
	code, out := h.rawDo("POST", "/"+sid, hdr("0"), doc[:300_000])
	if code != 200 || !strings.Contains(string(out), `"file_offset":262144`) {
		t.Fatalf("first part: %d %s", code, out)
	}
	code, out = h.rawDo("GET", "/v21.0/"+sid, map[string]string{"Authorization": "Bearer " + tok}, nil)
	if code != 200 || !strings.Contains(string(out), `"file_offset":262144`) {
		t.Fatalf("offset: %d %s", code, out)
	}
	code, out = h.rawDo("POST", "/"+sid, hdr("262144"), doc[262144:])
	var done struct{ H string }
	if code != 200 || json.Unmarshal(out, &done) != nil || done.H == "" {
		t.Fatalf("second part: %d %s", code, out)
	}
	// The stored file is the PDF, byte for byte.
	parts := strings.Split(done.H, ":")
	m, err := h.c.FSM().Media(parts[3])
	if err != nil || m.MIME != "application/pdf" || m.Size != 600_000 || m.SHA256 != sha256.Sum256(doc) || m.Filename != "menu.pdf" {
		t.Fatalf("stored media %+v %v", m, err)
	}
	tpl := func(format, handle string) string {
		return `{"name":"menu_` + strings.ToLower(format) + `","language":"en_US","category":"UTILITY","components":[` +
			`{"type":"HEADER","format":"` + format + `","example":{"header_handle":["` + handle + `"]}},{"type":"BODY","text":"Our menu"}]}`
	}
	if code, out := h.do("POST", "/v21.0/"+a["waba_id"]+"/message_templates", tok, tpl("DOCUMENT", done.H)); code != 200 {
		t.Fatalf("document header template: %d %s", code, out)
	}
	if code, out := h.do("POST", "/v21.0/"+a["waba_id"]+"/message_templates", tok, tpl("IMAGE", done.H)); code != 400 || decodeEnvelope(t, out).Error.Code != 100 {
		t.Fatalf("a PDF as an image header: %d %s", code, out)
	}
	if code, out := h.do("POST", "/v21.0/"+b["waba_id"]+"/message_templates", b["access_token"], tpl("DOCUMENT", done.H)); code != 400 || decodeEnvelope(t, out).Error.Code != 100 {
		t.Fatalf("another business's handle: %d %s", code, out)
	}

	// Content that is not the declared type: refused, nothing kept.
	r0, c0, _ := h.c.FSM().MediaCount()
	fake := content([]byte("GIF89a"), 300_000)
	sid = h.startUpload(t, tok, a["app_id"], "file_length=300000&file_type=image/png")
	if code, out := h.rawDo("POST", "/"+sid, hdr("0"), fake); code != 400 {
		t.Fatalf("a GIF as image/png: %d %s", code, out)
	}
	if r, c, _ := h.c.FSM().MediaCount(); r != r0 || c != c0 {
		t.Fatalf("a refused file left %d records %d chunks", r-r0, c-c0)
	}
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestResumableUploadOverHTTP: on a real listener a 3 MB PDF streams
// through one chunked POST (nothing buffers the whole body) and is stored
// byte for byte; a session expires after an hour, and a larger body than
// the session's file is refused with nothing left behind.
func TestResumableUploadOverHTTP(t *testing.T) {
	h := newMediaHarness(t)
	const size = 3_000_000
	post := func(path string, body io.Reader, length int64, offset string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest("POST", h.base+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = length // -1: chunked
		req.Header.Set("Authorization", "OAuth "+h.a["access_token"])
		req.Header.Set("file_offset", offset)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	sid := h.startUpload(t, h.a["access_token"], h.a["app_id"], "file_length=3000000&file_type=application/pdf")
	code, out := post("/v21.0/"+sid, &gen{prefix: []byte("%PDF-1.4\n"), size: size}, -1, "0")
	var done struct{ H string }
	if code != 200 || json.Unmarshal(out, &done) != nil || done.H == "" {
		t.Fatalf("upload: %d %s", code, out)
	}
	want, _ := io.ReadAll(&gen{prefix: []byte("%PDF-1.4\n"), size: size})
	m, err := h.c.FSM().Media(strings.Split(done.H, ":")[3])
	if err != nil || m.Size != size || m.SHA256 != sha256.Sum256(want) {
		t.Fatalf("stored %+v %v", m, err)
	}

	r0, c0, _ := h.c.FSM().MediaCount()
	sid = h.startUpload(t, h.a["access_token"], h.a["app_id"], "file_length=600000&file_type=application/pdf")
	if code, out := post("/v21.0/"+sid, &gen{prefix: []byte("%PDF-1.4\n"), size: 700_000}, -1, "0"); code != 400 || decodeEnvelope(t, out).Error.Code != 100 {
		t.Fatalf("a chunked body longer than the file: %d %s", code, out)
	}
	if r, c, _ := h.c.FSM().MediaCount(); r != r0 || c != c0 {
		t.Fatalf("a refused body left %d records %d chunks", r-r0, c-c0)
	}
	h.advance(time.Hour)
	if code, out := post("/v21.0/"+sid, &gen{prefix: []byte("%PDF-1.4\n"), size: 600_000}, 600_000, "0"); code != 400 || decodeEnvelope(t, out).Error.Code != 100 {
		t.Fatalf("an expired session: %d %s", code, out)
	}
}
