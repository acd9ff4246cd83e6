package connector

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/waedge/waedge/cloudapi"
	"github.com/waedge/waedge/network"
	"github.com/waedge/waedge/raftfsm"
	"github.com/waedge/waedge/seal"
	"github.com/waedge/waedge/signalstore"
)

// outMsg is one queued message of a pair, decoded and ready to encrypt.
type outMsg struct {
	key  []byte
	m    revealed
	body []byte // the encoded network content
}

// pairKey names a (business number, consumer) pair: its shard and the
// group its queued messages are encrypted in.
type pairKey struct{ phoneID, peerRef string }

// maxGroup bounds how many of a pair's queued messages share one commit
// (a larger backlog is several groups, run one after the other on the
// pair's shard), keeping a Signal operation well inside a round.
const maxGroup = 64

// groupByPair splits pending messages into groups of one pair each, at
// most maxGroup long, each in queue (accept) order, the groups in order
// of their first message.
func groupByPair(pending []raftfsm.PendingMessage) [][]raftfsm.PendingMessage {
	open := map[pairKey]int{} // the pair's group still taking messages
	var groups [][]raftfsm.PendingMessage
	for _, pm := range pending {
		k := pairKey{pm.Message.PhoneNumberID, pm.Message.PeerRef}
		i, ok := open[k]
		if !ok || len(groups[i]) == maxGroup {
			i = len(groups)
			open[k] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], pm)
	}
	return groups
}

// prepare opens and decodes a pending message into what is encrypted; a
// message that can never be encrypted is marked failed (ok false).
func (r *run) prepare(ctx context.Context, n *number, pm raftfsm.PendingMessage) (outMsg, bool) {
	m, err := r.reveal(pm.Message)
	if err != nil {
		r.fail(ctx, n, pm.Key, revealed{Message: pm.Message}, cloudapi.ErrSomethingWrong)
		return outMsg{}, false
	}
	pt, err := seal.OpenContent(r.c.d.Sealer, m.Message, m.wamid)
	if err != nil {
		r.fail(ctx, n, pm.Key, m, cloudapi.ErrSomethingWrong)
		return outMsg{}, false
	}
	req, err := cloudapi.DecodeContent(pt)
	if err != nil {
		r.fail(ctx, n, pm.Key, m, cloudapi.ErrSomethingWrong)
		return outMsg{}, false
	}
	content, err := toNetwork(m.wamid, req)
	// A quoted or reacted-to consumer message is known to the phone by its
	// own envelope id, not by the Cloud API id.
	if content.Context != nil {
		content.Context.MessageID = r.networkID(content.Context.MessageID)
	}
	if content.Reaction != nil {
		content.Reaction.MessageID = r.networkID(content.Reaction.MessageID)
	}
	if errors.Is(err, errUnsupported) && req.MediaObject() != nil {
		content, err = r.outboundMedia(ctx, n, m.wamid, req)
		if err != nil && ctx.Err() == nil {
			r.fail(ctx, n, pm.Key, m, cloudapi.ErrMediaUpload)
			return outMsg{}, false
		}
	}
	if err != nil {
		r.fail(ctx, n, pm.Key, m, cloudapi.ErrUnsupportedMessage)
		return outMsg{}, false
	}
	body, err := network.EncodeContent(&content)
	if err != nil {
		r.fail(ctx, n, pm.Key, m, cloudapi.ErrUnsupportedMessage)
		return outMsg{}, false
	}
	return outMsg{key: pm.Key, m: m, body: body}, true
}

// encryptPair runs on the pair's shard (its session lock): every queued
// message of one consumer is encrypted in sequence under one overlay, the
// advanced session and all the envelopes are committed as one Signal
// operation (in the next round), and only then are the envelopes handed
// to the network, in order.
func (r *run) encryptPair(ctx context.Context, pms []raftfsm.PendingMessage) {
	n := r.phone(pms[0].Message.PhoneNumberID)
	if n == nil {
		r.releaseAll(pms) // the number is not on the network yet; retry later
		return
	}
	msgs := make([]outMsg, 0, len(pms))
	for _, pm := range pms {
		if om, ok := r.prepare(ctx, n, pm); ok {
			msgs = append(msgs, om)
		}
	}
	if len(msgs) == 0 {
		return
	}
	keys := make([]raftfsm.PendingMessage, len(msgs))
	for i, om := range msgs {
		keys[i] = raftfsm.PendingMessage{Key: om.key}
	}
	peer := msgs[0].m.peer // one pair: one consumer number
	for attempt := 0; attempt < 5; attempt++ {
		ov := newOverlay(ctx, r.fsm, r.c.d.Sealer, n.phoneID)
		st, err := signalstore.Open(ov)
		if err != nil {
			r.c.log.Error("open signal store", slog.String("phone_number_id", n.phoneID), slog.Any("err", err))
			r.releaseAll(keys)
			return
		}
		addr := signalstore.Address(peer, 1)
		has, err := st.ContainsSession(ctx, addr)
		if err != nil {
			r.releaseAll(keys)
			return
		}
		if !has && !r.startSession(ctx, n, st, peer, msgs) {
			return
		}
		envs := make([]network.Envelope, len(msgs))
		out := make([]raftfsm.OutboundEnvelope, len(msgs))
		for i, om := range msgs {
			kind, ct, err := st.Encrypt(ctx, addr, om.body)
			if err != nil {
				r.c.log.Warn("encrypt failed", slog.String("phone_number_id", n.phoneID), slog.Any("err", err))
				r.releaseAll(keys)
				return
			}
			envs[i] = network.Envelope{ID: om.m.wamid, From: n.digits, To: peer, FromDevice: 1, Kind: kind,
				Ciphertext: ct, Timestamp: r.c.d.Now().UnixMilli()}
			sealed, err := r.sealEnvelope(ctx, n.retention(), &envs[i])
			if err != nil {
				r.releaseAll(keys)
				return
			}
			out[i] = raftfsm.OutboundEnvelope{MessageKey: om.key, Sealed: sealed}
		}
		if err := r.capSession(ctx, st, addr); err != nil {
			r.releaseAll(keys)
			return
		}
		sc, err := ov.commit()
		if err != nil {
			r.releaseAll(keys)
			return
		}
		sc.Outbound = out
		err = r.commitSignal(ctx, sc)
		if errors.Is(err, raftfsm.ErrVersion) {
			continue // the session moved on under us: discard and redo
		}
		if err != nil {
			// Not known to be committed: the ciphertexts are discarded (if
			// they did commit, the envelope outbox resends these very
			// bytes). Or refused: one of them is no longer pending (done by
			// an earlier term, or expired), and the rest go again as a new
			// group.
			r.releaseAll(keys)
			return
		}
		r.send(ctx, n, envs, msgs)
		return
	}
	r.releaseAll(keys)
}

// startSession builds the pair's session from the consumer's bundle. On
// failure it has dealt with the messages (failed, retried later or
// released) and returns false.
func (r *run) startSession(ctx context.Context, n *number, st *signalstore.SignalStore, peer string, msgs []outMsg) bool {
	b, err := r.net.FetchBundle(ctx, peer)
	if err == nil {
		err = st.StartSession(ctx, b)
		if err != nil {
			err = network.ErrUnknownRecipient // a bundle no session can be built from
		}
	}
	if err == nil {
		return true
	}
	for _, om := range msgs {
		switch {
		case errors.Is(err, network.ErrNotRegistered), errors.Is(err, network.ErrUnknownRecipient):
			r.fail(ctx, n, om.key, om.m, cloudapi.ErrUndeliverable)
		case errors.Is(err, network.ErrRateLimited):
			r.retryIn(om.key, time.Second) // the relay's bundle budget: not every poll
		default:
			r.release(om.key)
		}
	}
	return false
}

// releaseAll releases the claims of pms.
func (r *run) releaseAll(pms []raftfsm.PendingMessage) {
	for _, pm := range pms {
		r.release(pm.Key)
	}
}

// resend hands a committed envelope to the network again (after a failover
// or a failed send): the stored bytes, never a new encryption.
func (r *run) resend(ctx context.Context, se raftfsm.StoredEnvelope) {
	m, err := r.reveal(se.Message)
	if err != nil {
		return // expired meanwhile
	}
	b, err := r.c.d.Sealer.Open(seal.EnvelopeAAD(m.wamid), se.Sealed)
	if err != nil {
		return
	}
	env, err := network.UnmarshalEnvelope(b)
	if err != nil {
		return
	}
	n := r.phone(m.PhoneNumberID)
	if n == nil {
		return
	}
	r.send(ctx, n, []network.Envelope{env}, []outMsg{{key: se.Key, m: m}})
}

// send hands committed envelopes to the network, in order, and commits
// what became of them — sent, or failed when the consumer blocked the
// business — as one status batch of a later round. An envelope the network
// did not take stays in the outbox and is resent after cfg.Resend.
func (r *run) send(ctx context.Context, n *number, envs []network.Envelope, msgs []outMsg) {
	var updates []raftfsm.StatusUpdate
	var keys [][]byte
	blocked := false
	for i, env := range envs {
		// The resend timer starts now, at the hand-over, not when the
		// message was claimed for encryption: under load the claim can be
		// older than cfg.Resend by the time the envelope is committed, and
		// every envelope still waiting for its `sent` commit was then sent
		// a second time (extra work for the relay and the phone).
		r.touch(msgs[i].key)
		err := r.net.Send(ctx, env)
		switch {
		case errors.Is(err, network.ErrBlocked):
			blocked = true
			updates = append(updates, r.statusUpdate(ctx, n, msgs[i].m, raftfsm.StatusFailed, cloudapi.ErrUndeliverable))
		case err == nil:
			updates = append(updates, r.statusUpdate(ctx, n, msgs[i].m, raftfsm.StatusSent, nil))
		default:
			continue
		}
		keys = append(keys, msgs[i].key)
	}
	if len(keys) == 0 {
		return
	}
	if blocked {
		r.statuses(ctx, n, updates, keys, nil)
		return
	}
	go r.statuses(ctx, n, updates, keys, nil)
}

// fail marks an accepted message failed (it can never be encrypted).
func (r *run) fail(ctx context.Context, n *number, key []byte, m revealed, cause error) {
	sc := raftfsm.SignalCommit{PhoneNumberID: n.phoneID,
		Failed: []raftfsm.StatusUpdate{r.statusUpdate(ctx, n, m, raftfsm.StatusFailed, cause)}}
	if err := r.commitSignal(ctx, sc); err != nil {
		r.release(key)
	}
}
