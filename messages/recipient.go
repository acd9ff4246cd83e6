package messages

import (
	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/raftfsm"
)

// checkRecipient refuses, before anything is sealed or proposed, a send
// the platform would not deliver because of the recipient or the number's
// standing (docs/cloud-api.md §11.7):
//   - the business blocked the recipient (block_users): 131026;
//   - a business-initiated send (a template outside the 24-hour window)
//     while the number's quality rating is RED: 131048, the spam rate
//     limit Meta applies to numbers whose messages were blocked or
//     reported too often;
//   - a marketing template to a user who stopped marketing messages
//     (user_preferences): 131050.
//
// Each is judged on this replica's state (st, read once per send), as the
// 24-hour window is: a block committed a moment ago through another node
// is seen once this replica has applied it.
func checkRecipient(phone raftfsm.Phone, st raftfsm.RecipientState, typ, category string) error {
	if st.Blocked {
		return cloudapi.ErrRecipientBlocked
	}
	if typ != "template" {
		return nil
	}
	if raftfsm.QualityOf(phone) == raftfsm.QualityRed && !st.WindowOpen {
		return cloudapi.ErrSpamRateLimit
	}
	if category == raftfsm.CategoryMarketing && st.MarketingStopped {
		return cloudapi.ErrMarketingOptedOut
	}
	return nil
}
