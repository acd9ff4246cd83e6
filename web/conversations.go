package web

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waedge/waedge/graph"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/seal"
)

// conversationRow is one consumer's conversation with a business number
// as the console lists it (its messages: the consumer export route).
type conversationRow struct {
	PhoneNumberID string `json:"phone_number_id"`
	WAID          string `json:"wa_id"`
	Messages      int    `json:"messages"`
	LastAt        int64  `json:"last_at"`
	LastDirection string `json:"last_direction"`
	LastType      string `json:"last_type"`
	LastStatus    string `json:"last_status"`
}

// conversations answers GET /admin/v1/businesses/:id/conversations?
// phone_number_id=&limit=&after=: the consumers with retained messages on
// one of the business's numbers, newest conversation first, limit 1…100
// (default 25), after = the previous page's cursor. Only the cluster
// admin and the business's own admin may call it (web/roles.go): the
// answer holds consumer numbers. A conversation whose number can no
// longer be opened (its data key expired) is left out.
func (a *adminAPI) conversations(c *fiber.Ctx) error {
	businessID, phoneID := strings.Clone(c.Params("id")), strings.Clone(c.Query("phone_number_id"))
	limit := c.QueryInt("limit", 25)
	if limit < 1 || limit > 100 {
		return graph.ErrParameterValue.With("limit must be between 1 and 100")
	}
	fsm := a.d.Cluster.FSM()
	ts, err := fsm.TenantsByBusiness(businessID)
	if err != nil {
		return err
	}
	if len(ts) == 0 {
		return errNoBusiness
	}
	if phoneID == "" {
		return graph.ErrMissingParameter.With("phone_number_id is required")
	}
	owned := false
	for _, t := range ts {
		owned = owned || t.PhoneNumberID == phoneID
	}
	if !owned {
		return graph.ErrObjectNotFound.With("no phone number with this id in this business")
	}
	afterAt, afterRef, err := parseConversationCursor(c.Query("after"))
	if err != nil {
		return err
	}
	convs, err := fsm.Conversations(phoneID)
	if err != nil {
		return err
	}
	out := []conversationRow{}
	next := ""
	var last *raftfsm.Conversation // the newest-listed conversation's, for the cursor
	for i := range convs {
		cv := &convs[i]
		if afterRef != "" && (cv.Last.CreatedAt > afterAt || (cv.Last.CreatedAt == afterAt && cv.PeerRef <= afterRef)) {
			continue // on an earlier page
		}
		if len(out) == limit {
			next = strconv.FormatInt(last.Last.CreatedAt, 10) + "." + last.PeerRef
			break
		}
		waID, ok := a.openPeer(cv.Last)
		if !ok {
			continue
		}
		last = cv
		out = append(out, conversationRow{PhoneNumberID: phoneID, WAID: waID, Messages: cv.Messages, LastAt: cv.Last.CreatedAt / 1000,
			LastDirection: cv.Last.Direction, LastType: cv.Last.Type, LastStatus: cv.Last.Status})
	}
	paging := fiber.Map{}
	if next != "" {
		paging["cursors"] = fiber.Map{"after": next}
	}
	return c.JSON(fiber.Map{"data": out, "paging": paging})
}

// openPeer opens the consumer's number a stored message is with.
func (a *adminAPI) openPeer(m raftfsm.Message) (string, bool) {
	if a.d.Sealer == nil {
		return "", false
	}
	wamid, err := seal.OpenID(a.d.Sealer, m)
	if err != nil {
		return "", false
	}
	p, err := seal.OpenPeer(a.d.Sealer, m, wamid)
	return p, err == nil
}

// parseConversationCursor reads "<unix ms>.<consumer reference>".
func parseConversationCursor(s string) (int64, string, error) {
	if s == "" {
		return 0, "", nil
	}
	at, ref, ok := strings.Cut(s, ".")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || ref == "" {
		return 0, "", graph.ErrParameterValue.With("after is not a cursor of this list")
	}
	return n, strings.Clone(ref), nil
}
