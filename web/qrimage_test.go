package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"net/url"
	"strings"
	"testing"

	qrcode "github.com/skip2/go-qrcode"
)

// qrModules reads the module grid of a QR image of side n modules: dark
// modules of a PNG (sampled at each module's centre) or the unit squares
// of an SVG path.
func qrModules(t *testing.T, img []byte, svg bool, n int) [][]bool {
	t.Helper()
	grid := make([][]bool, n)
	for i := range grid {
		grid[i] = make([]bool, n)
	}
	if svg {
		_, d, ok := strings.Cut(string(img), `fill="#000" d="`)
		if !ok {
			t.Fatalf("svg without a path: %.200s", img)
		}
		d, _, _ = strings.Cut(d, `"`)
		for _, sq := range strings.Split(strings.TrimSuffix(d, "z"), "z") {
			var x, y int
			if _, err := fmt.Sscanf(sq, "M%d %dh1v1h-1", &x, &y); err != nil || x >= n || y >= n {
				t.Fatalf("svg square %q: %v", sq, err)
			}
			grid[y][x] = true
		}
		return grid
	}
	p, err := png.Decode(bytes.NewReader(img))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	side := p.Bounds().Dx()
	for y := range n {
		for x := range n {
			r, _, _, _ := p.At((2*x+1)*side/(2*n), (2*y+1)*side/(2*n)).RGBA()
			grid[y][x] = r < 0x8000
		}
	}
	return grid
}

// TestQRImage: generate_qr_image returns qr_image_url, and the URL serves
// a PNG or SVG whose modules are the QR code of the code's deep link (and
// of nothing else); GET with fields=qr_image_url.format(SVG) gives the
// same; a tampered signature, another format under the same signature, a
// code of another number and a deleted code all answer 400 code 100.
func TestQRImage(t *testing.T) {
	h := newHarness(t)
	a := h.createTenant("+15550038100")
	b := h.createTenant("+15550038200")
	tok, pn := a["access_token"], "/v21.0/"+a["phone_number_id"]
	var q struct {
		Code        string `json:"code"`
		DeepLinkURL string `json:"deep_link_url"`
		QRImageURL  string `json:"qr_image_url"`
	}
	code, out := h.do("POST", pn+"/message_qrdls", tok, `{"prefilled_message":"Cake order","generate_qr_image":"PNG"}`)
	if code != 200 || json.Unmarshal(out, &q) != nil || q.QRImageURL == "" {
		t.Fatalf("create: %d %s", code, out)
	}
	check := func(imageURL string, svg bool) {
		t.Helper()
		code, img := h.do("GET", imageURL, "", "")
		if code != 200 {
			t.Fatalf("image %s: %d %s", imageURL, code, img)
		}
		want, err := qrcode.New(q.DeepLinkURL, qrcode.Medium)
		if err != nil {
			t.Fatal(err)
		}
		bits := want.Bitmap()
		got := qrModules(t, img, svg, len(bits))
		for y := range bits {
			for x := range bits {
				if got[y][x] != bits[y][x] {
					t.Fatalf("image module (%d,%d) differs from the QR code of %s", x, y, q.DeepLinkURL)
				}
			}
		}
		other, _ := qrcode.New("https://wa.me/message/AAAAAAAAAAAAAA", qrcode.Medium)
		if ob := other.Bitmap(); len(ob) == len(bits) {
			same := true
			for y := range ob {
				for x := range ob {
					same = same && ob[y][x] == got[y][x]
				}
			}
			if same {
				t.Fatal("the image matches another deep link too")
			}
		}
	}
	check(q.QRImageURL, false)

	code, out = h.do("GET", pn+"/message_qrdls/"+q.Code+"?fields=code,qr_image_url.format(SVG)", tok, "")
	var list struct {
		Data []struct {
			QRImageURL string `json:"qr_image_url"`
		} `json:"data"`
	}
	if code != 200 || json.Unmarshal(out, &list) != nil || len(list.Data) != 1 || !strings.Contains(list.Data[0].QRImageURL, ".svg?") {
		t.Fatalf("get with fields: %d %s", code, out)
	}
	check(list.Data[0].QRImageURL, true)
	if code, out := h.do("GET", pn+"/message_qrdls", tok, ""); code != 200 || strings.Contains(string(out), "qr_image_url") {
		t.Fatalf("list without fields names an image: %d %s", code, out)
	}

	u, _ := url.Parse(q.QRImageURL)
	sig := u.Query().Get("sig")
	refused := map[string]string{
		"tampered signature": u.Path + "?sig=" + strings.Repeat("0", len(sig)),
		"no signature":       u.Path,
		"other format":       strings.TrimSuffix(u.Path, ".png") + ".svg?sig=" + sig,
		"other number":       strings.Replace(u.Path, a["phone_number_id"], b["phone_number_id"], 1) + "?sig=" + sig,
	}
	for what, p := range refused {
		if code, out := h.do("GET", p, "", ""); code != 400 || decodeEnvelope(t, out).Error.Code != 100 {
			t.Fatalf("%s: %d %s", what, code, out)
		}
	}
	if code, out := h.do("DELETE", pn+"/message_qrdls/"+q.Code, tok, ""); code != 200 {
		t.Fatalf("delete: %d %s", code, out)
	}
	if code, out := h.do("GET", q.QRImageURL, "", ""); code != 400 || decodeEnvelope(t, out).Error.Code != 100 {
		t.Fatalf("deleted code's image: %d %s", code, out)
	}
}
