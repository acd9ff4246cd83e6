package connector

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/waedge/waedge/cloudapi"
)

// billing is the conversation and pricing object of an outbound status
// under the per-message pricing model: templates are billable, anything
// else is a free reply inside the customer service window. The
// conversation id is stable for the pair for the UTC day, without
// revealing the consumer's number.
func billing(phoneID, peerRef, typ string, now time.Time) *cloudapi.Billing {
	day := now.UTC().Unix() / 86400
	h := sha256.Sum256([]byte(phoneID + "\x00" + peerRef + "\x00" + strconv.FormatInt(day, 10)))
	b := &cloudapi.Billing{ConversationID: hex.EncodeToString(h[:16]), Origin: "service",
		PricingType: "free_customer_service", Category: "service"}
	if typ == "template" {
		b.Origin, b.Billable, b.PricingType, b.Category = "utility", true, "regular", "utility"
	}
	return b
}
