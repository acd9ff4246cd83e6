package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/graph"
)

// qrImagePath prefixes the image URLs of QR codes (no Graph version, like
// media downloads). The URL is <phone-number-id>/<code>.<png|svg>?sig=…
const qrImagePath = "/v1/qr/"

// qrImagePixels is the side of a PNG image: Meta's images are print-sized.
const qrImagePixels = 512

// qrImageSig signs a QR image URL: HMAC-SHA256 under the media-URL key,
// domain-separated from media downloads, over phone number, code and
// format. The URL carries no expiry (Meta's qr_image_url is meant to be
// printed and embedded), so the signature is what makes it unguessable;
// deleting the code ends it.
func (g *graphAPI) qrImageSig(phoneID, code, format string) string {
	key := g.d.Sealer.URLKey()
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte("waedge qr image v1\x00"))
	m.Write([]byte(phoneID))
	m.Write([]byte{0})
	m.Write([]byte(code))
	m.Write([]byte{0})
	m.Write([]byte(format))
	return hex.EncodeToString(m.Sum(nil))
}

// qrImageURL is the qr_image_url of a code in format (PNG or SVG).
func (g *graphAPI) qrImageURL(phoneID, code, format string) string {
	ext := strings.ToLower(format)
	return g.d.PublicURL + qrImagePath + phoneID + "/" + code + "." + ext + "?sig=" + g.qrImageSig(phoneID, code, format)
}

// errQRImage answers an image URL that is not (or no longer) valid.
var errQRImage = graph.ErrObjectNotFound.With("the QR image URL is invalid, or its code was deleted")

// qrImage answers GET /v1/qr/{phone-number-id}/{code}.{png|svg}?sig=…:
// the QR code of the code's deep link. No token is needed (the image is
// meant to be shared); a wrong signature and a deleted code answer alike.
func (g *graphAPI) qrImage(c *fiber.Ctx) error {
	phoneID := strings.Clone(c.Params("phone"))
	code, ext, ok := strings.Cut(strings.Clone(c.Params("file")), ".")
	format := strings.ToUpper(ext)
	if !ok || (format != "PNG" && format != "SVG") || !cloudapi.ValidQRCode(code) ||
		!hmac.Equal([]byte(c.Query("sig")), []byte(g.qrImageSig(phoneID, code, format))) {
		return errQRImage
	}
	var q cloudapi.QRCode
	if found, err := g.setting(phoneID, settingQRPrefix+code, &q); err != nil {
		return err
	} else if !found {
		return errQRImage
	}
	qr, err := qrcode.New(q.DeepLinkURL, qrcode.Medium)
	if err != nil {
		return err
	}
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set(fiber.HeaderCacheControl, "private, max-age=300")
	if format == "SVG" {
		c.Set(fiber.HeaderContentType, "image/svg+xml")
		return c.SendString(qrSVG(qr.Bitmap()))
	}
	png, err := qr.PNG(qrImagePixels)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "image/png")
	return c.Send(png)
}

// qrSVG draws a QR bitmap (quiet zone included) as an SVG: one unit square
// per dark module, scaled by the viewer.
func qrSVG(bits [][]bool) string {
	n := len(bits)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" shape-rendering="crispEdges">`, n, n, qrImagePixels, qrImagePixels)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y, row := range bits {
		for x, dark := range row {
			if dark {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x, y)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String()
}
