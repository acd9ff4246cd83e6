package web

import (
	"encoding/hex"
	"errors"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/seal"
)

// Consumer rights (issue 5): export and erase everything stored about one
// consumer (wa_id) for one business, across the business's numbers. The
// handlers are for the cluster admin and the business's own admin (web/roles.go).

// consumerRefs returns the consumer's reference on every number of the
// business; a business without numbers answers like a missing one.
func (a *adminAPI) consumerRefs(businessID, waID string) ([]raftfsm.ConsumerRef, error) {
	waID = strings.TrimPrefix(strings.TrimSpace(waID), "+")
	if waID == "" || strings.Trim(waID, "0123456789") != "" || len(waID) > 20 {
		return nil, graph.ErrParameterValue.With("wa_id must be the consumer's number, digits only")
	}
	ts, err := a.d.Cluster.FSM().TenantsByBusiness(businessID)
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, graph.ErrObjectNotFound.With("no business with this id")
	}
	refs := make([]raftfsm.ConsumerRef, 0, len(ts))
	for _, t := range ts {
		refs = append(refs, raftfsm.ConsumerRef{PhoneNumberID: t.PhoneNumberID, Ref: a.d.Sealer.ConsumerRef(t.PhoneNumberID, waID)})
	}
	return refs, nil
}

// exportedMessage is one message in a consumer export.
type exportedMessage struct {
	ID        string `json:"id,omitempty"`
	Direction string `json:"direction"`
	Type      string `json:"type"`
	Status    string `json:"status"`
	CreatedAt int64  `json:"created_at"`
	UpdatedAt int64  `json:"updated_at"`
	Content   any    `json:"content,omitempty"`
	// Unreadable is set when the content's data key is gone (expired).
	Unreadable bool `json:"unreadable,omitempty"`
}

// exportedMedia is a stored media the consumer sent or received (its
// bytes: GET /{media-id} with the business's token).
type exportedMedia struct {
	ID       string `json:"id"`
	MIME     string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	FileSize int64  `json:"file_size"`
	Filename string `json:"filename,omitempty"`
}

// exportedNumber is what one business number holds about the consumer.
type exportedNumber struct {
	PhoneNumberID  string            `json:"phone_number_id"`
	Messages       []exportedMessage `json:"messages"`
	Media          []exportedMedia   `json:"media"`
	WindowOpenedAt int64             `json:"window_opened_at,omitempty"`
	SignalSession  bool              `json:"signal_session"`
	SignalRecords  int               `json:"signal_records"`
}

// consumerData reads what r's number holds about the consumer, with every
// message opened, and the ids of the media those messages carry.
func (a *adminAPI) consumerData(r raftfsm.ConsumerRef) (raftfsm.ConsumerData, []exportedMessage, []string, error) {
	d, err := a.d.Cluster.FSM().ConsumerData(r)
	if err != nil {
		return d, nil, nil, err
	}
	msgs := make([]exportedMessage, 0, len(d.Messages))
	var media []string
	for _, m := range d.Messages {
		e, ids := a.exportMessage(m)
		msgs = append(msgs, e)
		for _, id := range ids {
			if !slices.Contains(media, id) {
				media = append(media, id)
			}
		}
	}
	return d, msgs, media, nil
}

// consumerExport answers GET /admin/v1/businesses/:id/consumers/export?wa_id=…
func (a *adminAPI) consumerExport(c *fiber.Ctx) error {
	businessID, waID := strings.Clone(c.Params("id")), strings.Clone(c.Query("wa_id"))
	refs, err := a.consumerRefs(businessID, waID)
	if err != nil {
		return err
	}
	out := make([]exportedNumber, 0, len(refs))
	for _, r := range refs {
		d, msgs, media, err := a.consumerData(r)
		if err != nil {
			return err
		}
		n := exportedNumber{PhoneNumberID: r.PhoneNumberID, Messages: msgs, Media: []exportedMedia{},
			WindowOpenedAt: d.WindowOpenedAt, SignalRecords: len(d.SignalKeys)}
		for _, k := range d.SignalKeys {
			if strings.HasPrefix(k, "sessions\x00") {
				n.SignalSession = true
			}
		}
		for _, id := range media {
			m, err := a.d.Cluster.FSM().Media(id)
			if err != nil || m.BusinessID != businessID {
				continue // expired or deleted meanwhile
			}
			n.Media = append(n.Media, exportedMedia{ID: m.ID, MIME: m.MIME, SHA256: hex.EncodeToString(m.SHA256[:]),
				FileSize: m.Size, Filename: m.Filename})
		}
		out = append(out, n)
	}
	return c.JSON(fiber.Map{"business_id": businessID, "wa_id": strings.TrimPrefix(waID, "+"), "phone_numbers": out})
}

// exportMessage opens one stored message for the export; it also returns
// the ids of the stored media the message carries (sent by the consumer,
// or sent to them by uploaded id).
func (a *adminAPI) exportMessage(m raftfsm.Message) (exportedMessage, []string) {
	e := exportedMessage{Direction: m.Direction, Type: m.Type, Status: m.Status, CreatedAt: m.CreatedAt / 1000, UpdatedAt: m.UpdatedAt / 1000}
	wamid, err := seal.OpenID(a.d.Sealer, m)
	if err != nil {
		e.ID, e.Unreadable = "ref:"+m.IDRef, true
		return e, nil
	}
	e.ID = wamid
	pt, err := seal.OpenContent(a.d.Sealer, m, wamid)
	if err != nil {
		e.Unreadable = true
		return e, nil
	}
	var media []string
	if cloudapi.IsInboundContent(pt) {
		if in, err := cloudapi.DecodeInboundContent(pt); err == nil {
			e.Content = in
			if id := in.MediaID(); id != "" {
				media = append(media, id)
			}
		}
	} else if out, err := cloudapi.DecodeContent(pt); err == nil {
		e.Content = out
		media = out.MediaIDs()
	}
	if e.Content == nil {
		e.Content = hex.EncodeToString(pt)
	}
	return e, media
}

// consumerErase answers POST /admin/v1/businesses/:id/consumers/erase
// {"wa_id":"…"} with CmdEraseConsumer (one Raft command).
func (a *adminAPI) consumerErase(c *fiber.Ctx) error {
	var req struct {
		WAID string `json:"wa_id"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	businessID := strings.Clone(c.Params("id"))
	refs, err := a.consumerRefs(businessID, req.WAID)
	if err != nil {
		return err
	}
	var media []string
	for _, r := range refs {
		_, _, ids, err := a.consumerData(r)
		if err != nil {
			return err
		}
		media = append(media, ids...)
	}
	cmd, err := raftfsm.EncodeCommand(raftfsm.CmdEraseConsumer, raftfsm.EraseConsumer{BusinessID: businessID, Refs: refs, MediaIDs: media})
	if err != nil {
		return err
	}
	v, err := raftfsm.Outcome(a.d.Cluster.Propose(c.UserContext(), cmd))
	if errors.Is(err, raftfsm.ErrNotFound) {
		return graph.ErrObjectNotFound.With("no business with this id")
	}
	if err != nil {
		return err
	}
	r, err := raftfsm.DecodeEraseResult(v)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"success": true, "messages": r.Messages, "windows": r.Windows, "signal_records": r.Signal, "media": r.Media})
}
