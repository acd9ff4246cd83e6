package connector

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/egress"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/raftfsm"
)

// Media travels as WhatsApp does it: the bytes are sealed with a fresh key
// and uploaded to the network as an opaque blob; the key and both hashes
// travel end to end inside the Signal message.

// maxNetworkMedia bounds media carried over the network: Meta's largest
// media (a 100 MB document). It was 16 MiB, so documents of 16–100 MB
// uploaded but failed when sent.
const maxNetworkMedia = network.MaxMediaSize

// errMedia marks media that cannot be carried (missing, too large,
// unreachable link).
var errMedia = errors.New("connector: media unavailable")

// outboundMedia loads an outbound message's media (an uploaded media id
// of the business, or a link), seals it, uploads the blob and returns the
// content to encrypt.
func (r *run) outboundMedia(ctx context.Context, n *number, id string, req *cloudapi.SendRequest) (network.Content, error) {
	m := req.MediaObject()
	blobs, ok := r.net.(network.BlobStore)
	if m == nil || !ok {
		return network.Content{}, errMedia
	}
	var data []byte
	var mime, filename string
	var err error
	if m.ID != "" {
		data, mime, filename, err = r.storedMedia(n, m.ID)
	} else {
		data, mime, err = r.fetchLink(ctx, m.Link, req.MessageType())
	}
	if err != nil {
		return network.Content{}, err
	}
	if m.Filename != "" {
		filename = m.Filename
	}
	blob, ref, err := network.SealMedia(data)
	if err != nil {
		return network.Content{}, err
	}
	blobID, err := blobs.PutBlob(ctx, blob)
	if err != nil {
		return network.Content{}, fmt.Errorf("upload blob: %w", err)
	}
	ref.BlobID, ref.MIMEType, ref.Caption, ref.Filename = blobID, mime, m.Caption, filename
	c := network.Content{ID: id, Type: req.MessageType(), Media: &ref}
	if req.Context != nil && network.ValidID(req.Context.MessageID) {
		c.Context = &network.Context{MessageID: req.Context.MessageID}
	}
	return c, c.Validate()
}

// storedMedia reads and opens an uploaded media of the number's business.
func (r *run) storedMedia(n *number, id string) ([]byte, string, string, error) {
	md, err := r.fsm.Media(id)
	if err != nil || md.BusinessID != n.businessID || md.Size > maxNetworkMedia {
		return nil, "", "", errMedia
	}
	var buf bytes.Buffer
	for i := uint32(0); i < md.Chunks; i++ {
		sealed, err := r.fsm.MediaChunk(id, i)
		if err != nil {
			return nil, "", "", errMedia
		}
		pt, err := r.c.d.Sealer.Open(raftfsm.MediaChunkAAD(id, i), sealed)
		if err != nil {
			return nil, "", "", errMedia
		}
		buf.Write(pt)
	}
	return buf.Bytes(), md.MIME, md.Filename, nil
}

// Media links are fetched as Meta fetches them: under the egress policy
// (no internal address, checked at every dial), at most 3 redirects, the
// message type's size limit (never buffering more than limit+1 bytes)
// and a deadline. Any failure fails the message with 131053 by status
// webhook; the send itself was accepted.
const (
	linkRedirects = 3
	linkTimeout   = 30 * time.Second
)

// linkClient is the HTTP client of media links.
func linkClient(p *egress.Policy) *http.Client {
	return p.Client(egress.ClientConfig{Timeout: linkTimeout, Redirects: linkRedirects})
}

// fetchLink downloads a media link of a message of type kind.
func (r *run) fetchLink(ctx context.Context, link, kind string) ([]byte, string, error) {
	ctx, cancel := context.WithTimeout(ctx, linkTimeout)
	defer cancel()
	limit := min(cloudapi.MediaSizeLimit(kind), maxNetworkMedia)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return nil, "", errMedia
	}
	resp, err := r.c.links.Do(req)
	if err != nil {
		if errors.Is(err, egress.ErrRefused) {
			r.c.log.Info("media link refused by the egress policy (see --egress-allow)")
		}
		return nil, "", fmt.Errorf("%w: %w", errMedia, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("%w: link answered %d", errMedia, resp.StatusCode)
	}
	if resp.ContentLength > limit {
		return nil, "", fmt.Errorf("%w: %d bytes, over the %d-byte limit of %s", errMedia, resp.ContentLength, limit, kind)
	}
	data, err := egress.ReadLimited(resp.Body, limit)
	if err != nil || len(data) == 0 {
		return nil, "", fmt.Errorf("%w: %v", errMedia, err)
	}
	mime := resp.Header.Get("Content-Type")
	if mime == "" {
		mime = http.DetectContentType(data)
	}
	return data, mime, nil
}

// inboundMedia downloads and opens a phone's media blob and stores it as a
// media of the business (sealed under the phone's retention class, chunked
// through Raft), returning its id for the webhook.
func (r *run) inboundMedia(ctx context.Context, n *number, ref *network.Media) (string, error) {
	blobs, ok := r.net.(network.BlobStore)
	if !ok {
		return "", errMedia
	}
	blob, err := blobs.GetBlob(ctx, ref.BlobID)
	if err != nil {
		return "", fmt.Errorf("download blob: %w", err)
	}
	data, err := network.OpenMedia(blob, *ref)
	if err != nil {
		return "", err
	}
	id, err := graph.NewID()
	if err != nil {
		return "", err
	}
	now := r.c.d.Now().UnixMilli()
	var chunks uint32
	for off := 0; off < len(data) || chunks == 0; off += raftfsm.MediaChunkSize {
		end := min(off+raftfsm.MediaChunkSize, len(data))
		sealed, err := r.c.d.Sealer.SealFor(ctx, n.retention(), raftfsm.MediaChunkAAD(id, chunks), data[off:end])
		if err != nil {
			return "", err
		}
		if err := r.mustPropose(ctx, raftfsm.CmdPutMediaChunk, raftfsm.PutMediaChunk{ID: id, PhoneNumberID: n.phoneID,
			BusinessID: n.businessID, Index: chunks, Sealed: sealed, CreatedAt: now}); err != nil {
			return "", err
		}
		chunks++
		if end == len(data) {
			break
		}
	}
	sum := sha256.Sum256(data)
	if err := r.mustPropose(ctx, raftfsm.CmdCommitMedia, raftfsm.CommitMedia{ID: id, PhoneNumberID: n.phoneID,
		BusinessID: n.businessID, MIME: ref.MIMEType, SHA256: sum, Size: int64(len(data)), Chunks: chunks,
		Filename: ref.Filename, At: now}); err != nil {
		return "", err
	}
	return id, nil
}

func (r *run) mustPropose(ctx context.Context, t raftfsm.CommandType, payload any) error {
	_, err := raftfsm.Outcome(r.propose(ctx, t, payload))
	return err
}
