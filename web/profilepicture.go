package web

import (
	"bytes"
	"crypto/hmac"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	_ "image/png" // decodes PNG uploads
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
)

// Profile pictures: POST /{phone-number-id}/whatsapp_business_profile with
// profile_picture_handle (a handle of the resumable upload API) sets the
// picture; GET shows profile_picture_url. Like WhatsApp, waedge keeps a
// re-encoded copy (a JPEG whose longer side is at most 640 pixels), which
// fits one replicated command and outlives the upload.
const (
	profilePicturePath = "/v1/profile_picture/"
	profilePictureSide = 640
	profilePictureTTL  = 7 * 24 * time.Hour
)

// setProfilePicture replaces the number's picture with the image a
// handle names.
func (g *graphAPI) setProfilePicture(c *fiber.Ctx, t raftfsm.Tenant, handle string) error {
	m, err := g.resolveHandle(handle, t.BusinessID)
	if err != nil {
		return err
	}
	if m.MIME != "image/jpeg" && m.MIME != "image/png" {
		return graph.ErrInvalidParameter.Withf("profile_picture_handle must name a JPEG or PNG image, not %s", m.MIME)
	}
	raw, err := g.readMedia(m, cloudapi.MaxImageBytes)
	if err != nil {
		return err
	}
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return graph.ErrInvalidParameter.With("profile_picture_handle: the image cannot be decoded")
	}
	if b := img.Bounds(); b.Dx() < 1 || b.Dy() < 1 {
		return graph.ErrInvalidParameter.With("profile_picture_handle: the image is empty")
	}
	var out bytes.Buffer
	for q := 85; ; q -= 20 {
		out.Reset()
		if err := jpeg.Encode(&out, shrink(img, profilePictureSide), &jpeg.Options{Quality: q}); err != nil {
			return err
		}
		if out.Len() <= raftfsm.MaxProfilePicture || q <= 25 {
			break
		}
	}
	return g.propose(c, raftfsm.CmdSetProfilePicture, raftfsm.SetProfilePicture{PhoneNumberID: t.PhoneNumberID,
		BusinessID: t.BusinessID, MIME: "image/jpeg", Image: out.Bytes(), At: g.d.Now().UnixMilli()})
}

// shrink scales img down (box filter) so that its longer side is at most
// side pixels; a smaller image is returned as it is.
func shrink(img image.Image, side int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= side && h <= side {
		return img
	}
	nw, nh := side, h*side/w
	if h > w {
		nw, nh = w*side/h, side
	}
	nw, nh = max(nw, 1), max(nh, 1)
	dst := image.NewRGBA(image.Rect(0, 0, nw, nh))
	for y := range nh {
		y0, y1 := b.Min.Y+y*h/nh, b.Min.Y+max((y+1)*h/nh, y*h/nh+1)
		for x := range nw {
			x0, x1 := b.Min.X+x*w/nw, b.Min.X+max((x+1)*w/nw, x*w/nw+1)
			var r, g, bl, a, n uint64
			for sy := y0; sy < y1; sy++ {
				for sx := x0; sx < x1; sx++ {
					cr, cg, cb, ca := img.At(sx, sy).RGBA()
					r, g, bl, a, n = r+uint64(cr), g+uint64(cg), bl+uint64(cb), a+uint64(ca), n+1
				}
			}
			dst.Set(x, y, color.RGBA64{uint16(r / n), uint16(g / n), uint16(bl / n), uint16(a / n)})
		}
	}
	return dst
}

// profilePictureURL is the signed, expiring URL of a number's picture
// ("" when it has none).
func (g *graphAPI) profilePictureURL(phoneID string) (string, error) {
	p, err := g.d.Cluster.FSM().ProfilePictureOf(phoneID)
	if errors.Is(err, raftfsm.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	v := strconv.FormatInt(p.SetAt, 10)
	exp := strconv.FormatInt(g.d.Now().Add(profilePictureTTL).Unix(), 10)
	return g.d.PublicURL + profilePicturePath + phoneID + "?v=" + v + "&exp=" + exp + "&sig=" +
		g.uploadMAC("waedge profile picture v1", phoneID, v, exp), nil
}

// errPictureURL answers a picture URL that is not (or no longer) valid.
var errPictureURL = graph.ErrObjectNotFound.With("the profile picture URL is invalid or has expired; GET the business profile for a fresh one")

// profilePicture answers GET /v1/profile_picture/{phone-number-id}?v&exp&sig:
// the picture, without a token (WhatsApp shows profile pictures to
// everyone), for a signed URL that has not expired and names the current
// picture.
func (g *graphAPI) profilePicture(c *fiber.Ctx) error {
	phoneID := strings.Clone(c.Params("phone"))
	v, exp := c.Query("v"), c.Query("exp")
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || g.d.Now().Unix() > e ||
		!hmac.Equal([]byte(c.Query("sig")), []byte(g.uploadMAC("waedge profile picture v1", phoneID, v, exp))) {
		return errPictureURL
	}
	p, err := g.d.Cluster.FSM().ProfilePictureOf(phoneID)
	if errors.Is(err, raftfsm.ErrNotFound) || (err == nil && strconv.FormatInt(p.SetAt, 10) != v) {
		return errPictureURL
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, p.MIME)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
	return c.Send(p.Image)
}
