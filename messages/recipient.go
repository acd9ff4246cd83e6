package messages

import (
	"time"

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
// Each is judged on this replica's state, as the 24-hour window is: a
// block committed a moment ago through another node is seen once this
// replica has applied it.
func (s *Service) checkRecipient(phone raftfsm.Phone, ref, typ, category string, now time.Time) error {
	fsm := s.d.Cluster.FSM()
	if fsm.Blocked(phone.ID, ref) {
		return cloudapi.ErrRecipientBlocked
	}
	if typ != "template" {
		return nil
	}
	if raftfsm.QualityOf(phone) == raftfsm.QualityRed && !fsm.WindowOpen(phone.ID, ref, now.UnixMilli()) {
		return cloudapi.ErrSpamRateLimit
	}
	if category == raftfsm.CategoryMarketing && fsm.MarketingStopped(phone.ID, ref) {
		return cloudapi.ErrMarketingOptedOut
	}
	return nil
}
