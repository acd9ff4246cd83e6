package connector

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/raftfsm"
)

// billing is the conversation and pricing object of an outbound status
// under the per-message pricing model: templates are billable in their
// template's category (category: the message's stored pricing category,
// the one billing and stats count), anything else is a free reply inside
// the customer service window. The conversation id is stable for the
// pair for the UTC day, without revealing the consumer's number.
func billing(phoneID, peerRef, typ, category string, now time.Time) *cloudapi.Billing {
	day := now.UTC().Unix() / 86400
	h := sha256.Sum256([]byte(phoneID + "\x00" + peerRef + "\x00" + strconv.FormatInt(day, 10)))
	b := &cloudapi.Billing{ConversationID: hex.EncodeToString(h[:16]), Origin: "service",
		PricingType: "free_customer_service", Category: "service"}
	if typ == "template" {
		c := raftfsm.PricingCategory(category)
		if c == raftfsm.CategoryService { // records from before categories were stored
			c = raftfsm.CategoryUtility
		}
		b.Origin, b.Billable, b.PricingType, b.Category = c, true, "regular", c
	}
	return b
}
