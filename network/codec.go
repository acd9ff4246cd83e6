package network

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// envelopeFormat is the version byte that starts every binary envelope.
const envelopeFormat = 1

// AppendEnvelope appends the compact binary encoding of e:
//
//	format(1) kind(1) uvarint(fromDevice) varint(timestamp)
//	str(id) str(from) str(to) str(profileName) bytes(ciphertext)
//
// where str and bytes are a uvarint length followed by the bytes. It does not validate e.
func AppendEnvelope(dst []byte, e *Envelope) []byte {
	dst = append(dst, envelopeFormat, byte(e.Kind))
	dst = binary.AppendUvarint(dst, uint64(e.FromDevice))
	dst = binary.AppendVarint(dst, e.Timestamp)
	dst = appendBytes(dst, []byte(e.ID))
	dst = appendBytes(dst, []byte(e.From))
	dst = appendBytes(dst, []byte(e.To))
	dst = appendBytes(dst, []byte(e.ProfileName))
	return appendBytes(dst, e.Ciphertext)
}

// MarshalEnvelope validates e and returns its binary encoding.
func MarshalEnvelope(e *Envelope) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return AppendEnvelope(make([]byte, 0, 64+len(e.ID)+len(e.ProfileName)+len(e.Ciphertext)), e), nil
}

// UnmarshalEnvelope parses and validates a binary envelope. Trailing bytes are an error; the
// ciphertext is copied, so b may be reused.
func UnmarshalEnvelope(b []byte) (Envelope, error) {
	r := reader{b: b}
	e, err := r.envelope()
	if err != nil {
		return Envelope{}, err
	}
	if !r.done() {
		return Envelope{}, fmt.Errorf("trailing bytes after envelope: %w", ErrBadFrame)
	}
	return e, nil
}

// EncodeDelivery returns the binary encoding of a delivery (the payload of a FrameDeliver frame):
//
//	type(1) str(id) body
//
// where body is a binary envelope for DeliveryEnvelope and JSON otherwise.
func EncodeDelivery(d *Delivery) ([]byte, error) {
	if err := d.validate(); err != nil {
		return nil, err
	}
	dst := append(make([]byte, 0, 128), byte(d.Type))
	dst = appendBytes(dst, []byte(d.ID))
	var body any
	switch d.Type {
	case DeliveryEnvelope:
		return AppendEnvelope(dst, d.Envelope), nil
	case DeliveryReceipt:
		body = d.Receipt
	case DeliveryTyping:
		body = d.Typing
	case DeliverySignal:
		body = d.Signal
	}
	p, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode delivery: %w", err)
	}
	return append(dst, p...), nil
}

// DecodeDelivery parses and validates a binary delivery.
func DecodeDelivery(b []byte) (Delivery, error) {
	if len(b) > MaxFrameSize {
		return Delivery{}, ErrFrameTooLarge
	}
	r := reader{b: b}
	t, err := r.byte()
	if err != nil {
		return Delivery{}, err
	}
	id, err := r.str(MaxIDLen)
	if err != nil {
		return Delivery{}, err
	}
	d := Delivery{Type: DeliveryType(t), ID: id}
	switch d.Type {
	case DeliveryEnvelope:
		e, err := r.envelope()
		if err != nil {
			return Delivery{}, err
		}
		if !r.done() {
			return Delivery{}, fmt.Errorf("trailing bytes after delivery: %w", ErrBadFrame)
		}
		d.Envelope = &e
	case DeliveryReceipt:
		d.Receipt = new(Receipt)
		err = decodeJSON(r.rest(), d.Receipt)
	case DeliveryTyping:
		d.Typing = new(Typing)
		err = decodeJSON(r.rest(), d.Typing)
	case DeliverySignal:
		d.Signal = new(Signal)
		err = decodeJSON(r.rest(), d.Signal)
	default:
		return Delivery{}, fmt.Errorf("delivery type %d: %w", t, ErrBadFrame)
	}
	if err != nil {
		return Delivery{}, err
	}
	if err := d.validate(); err != nil {
		return Delivery{}, err
	}
	return d, nil
}

func (d *Delivery) validate() error {
	set := 0
	for _, p := range []bool{d.Envelope != nil, d.Receipt != nil, d.Typing != nil, d.Signal != nil} {
		if p {
			set++
		}
	}
	if set != 1 {
		return fmt.Errorf("delivery must carry exactly one item: %w", ErrInvalid)
	}
	if d.Type == DeliveryTyping {
		if d.ID != "" && !ValidID(d.ID) {
			return fmt.Errorf("delivery id: %w", ErrInvalid)
		}
	} else if !ValidID(d.ID) {
		return fmt.Errorf("delivery id: %w", ErrInvalid)
	}
	switch d.Type {
	case DeliveryEnvelope:
		if d.Envelope == nil {
			break
		}
		if d.ID != d.Envelope.ID {
			return fmt.Errorf("delivery id differs from envelope id: %w", ErrInvalid)
		}
		return d.Envelope.Validate()
	case DeliveryReceipt:
		if d.Receipt != nil {
			return d.Receipt.Validate()
		}
	case DeliveryTyping:
		if d.Typing != nil {
			return d.Typing.Validate()
		}
	case DeliverySignal:
		if d.Signal != nil {
			return d.Signal.Validate()
		}
	default:
		return fmt.Errorf("delivery type %d: %w", d.Type, ErrInvalid)
	}
	return fmt.Errorf("delivery type %d does not match its item: %w", d.Type, ErrInvalid)
}

func appendBytes(dst, p []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(p)))
	return append(dst, p...)
}

// reader decodes the binary formats defensively: every length is checked against what is left.
type reader struct {
	b   []byte
	off int
}

func (r *reader) done() bool   { return r.off == len(r.b) }
func (r *reader) rest() []byte { return r.b[r.off:] }

func (r *reader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, fmt.Errorf("unexpected end: %w", ErrBadFrame)
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *reader) uvarint() (uint64, error) {
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		return 0, fmt.Errorf("bad uvarint: %w", ErrBadFrame)
	}
	r.off += n
	return v, nil
}

func (r *reader) varint() (int64, error) {
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		return 0, fmt.Errorf("bad varint: %w", ErrBadFrame)
	}
	r.off += n
	return v, nil
}

func (r *reader) bytes(max int) ([]byte, error) {
	n, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	if n > uint64(max) || n > uint64(len(r.b)-r.off) {
		return nil, fmt.Errorf("field length %d: %w", n, ErrBadFrame)
	}
	p := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return p, nil
}

func (r *reader) str(max int) (string, error) {
	p, err := r.bytes(max)
	return string(p), err
}

func (r *reader) envelope() (Envelope, error) {
	var e Envelope
	format, err := r.byte()
	if err != nil {
		return e, err
	}
	if format != envelopeFormat {
		return e, fmt.Errorf("envelope format %d: %w", format, ErrBadFrame)
	}
	kind, err := r.byte()
	if err != nil {
		return e, err
	}
	e.Kind = Kind(kind)
	dev, err := r.uvarint()
	if err != nil {
		return e, err
	}
	if dev > 1<<32-1 {
		return e, fmt.Errorf("device id: %w", ErrBadFrame)
	}
	e.FromDevice = uint32(dev)
	if e.Timestamp, err = r.varint(); err != nil {
		return e, err
	}
	if e.ID, err = r.str(MaxIDLen); err != nil {
		return e, err
	}
	if e.From, err = r.str(15); err != nil {
		return e, err
	}
	if e.To, err = r.str(15); err != nil {
		return e, err
	}
	if e.ProfileName, err = r.str(MaxProfileNameLen); err != nil {
		return e, err
	}
	ct, err := r.bytes(MaxCiphertextSize)
	if err != nil {
		return e, err
	}
	e.Ciphertext = append([]byte(nil), ct...)
	if err := e.Validate(); err != nil {
		return Envelope{}, err
	}
	return e, nil
}
