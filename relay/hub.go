package relay

import "sync"

// hub maps each online number to the one connection that currently owns it. A later login takes a
// number over (a new waedge leader replaces the old one), so exactly one connection receives and acks
// a number's queue at a time.
type hub struct {
	mu     sync.Mutex
	owners map[string]*session
}

func newHub() *hub { return &hub{owners: make(map[string]*session)} }

// attach makes s the owner of number, detaching it from a previous owner. A session that has already
// ended (a registration committed after its connection dropped) is not attached.
func (h *hub) attach(number string, s *session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.ended {
		return
	}
	prev := h.owners[number]
	h.owners[number] = s
	if prev != nil && prev != s {
		prev.detach(number)
	}
	s.attached(number)
}

// end marks s as ended and removes it as the owner of its numbers.
func (h *hub) end(s *session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s.ended = true
	s.mu.Lock() // lock order: hub, then session
	defer s.mu.Unlock()
	for n := range s.numbers {
		if h.owners[n] == s {
			delete(h.owners, n)
		}
	}
}

// owns reports whether s currently owns number.
func (h *hub) owns(number string, s *session) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.owners[number] == s
}

// owner returns the connection that currently owns number, or nil.
func (h *hub) owner(number string) *session {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.owners[number]
}

// online reports whether some connection owns number.
func (h *hub) online(number string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.owners[number] != nil
}

// notify wakes the owner of each number so it pushes newly queued deliveries.
func (h *hub) notify(numbers ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range numbers {
		if s := h.owners[n]; s != nil {
			s.wakeUp()
		}
	}
}

// typing hands an encoded typing frame to the owner of number, dropping it if the owner is busy or
// offline: typing indicators are ephemeral.
func (h *hub) typing(number string, frame []byte) {
	h.mu.Lock()
	s := h.owners[number]
	h.mu.Unlock()
	if s == nil {
		return
	}
	select {
	case s.typing <- frame:
	default:
	}
}
