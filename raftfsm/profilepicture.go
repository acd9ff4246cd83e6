package raftfsm

import (
	"bytes"
	"errors"

	bolt "go.etcd.io/bbolt"
)

// MaxProfilePicture bounds a stored profile picture (the proposer
// re-encodes uploads to a 640-pixel JPEG, far below this).
const MaxProfilePicture = 768 << 10

// ProfilePicture is a phone number's profile picture. It is business
// information shown publicly by WhatsApp (not message content), so it is
// stored as the image itself, without a data key that retention would
// destroy.
type ProfilePicture struct {
	PhoneNumberID string
	BusinessID    string
	MIME          string
	Image         []byte
	SetAt         int64 // unix ms, chosen by the proposer
}

// SetProfilePicture is the payload of CmdSetProfilePicture: the picture
// replaces the number's (Image empty: removes it).
type SetProfilePicture struct {
	PhoneNumberID string
	BusinessID    string
	MIME          string
	Image         []byte
	At            int64 // unix ms
}

func (f *FSM) applySetProfilePicture(tx *bolt.Tx, payload []byte) ([]byte, error) {
	var c SetProfilePicture
	decode(payload, &c)
	if len(c.Image) > MaxProfilePicture || (len(c.Image) > 0 && c.MIME == "") {
		return nil, domainErr(ErrInvalid, "profile picture of %d bytes", len(c.Image))
	}
	if _, err := ownPhone(tx, c.PhoneNumberID, c.BusinessID); err != nil {
		return nil, err
	}
	if len(c.Image) == 0 {
		mustDelete(tx, bucketProfilePictures, []byte(c.PhoneNumberID))
		return nil, nil
	}
	mustPut(tx, bucketProfilePictures, []byte(c.PhoneNumberID), marshal(ProfilePicture{
		PhoneNumberID: c.PhoneNumberID, BusinessID: c.BusinessID, MIME: c.MIME, Image: c.Image, SetAt: c.At}))
	return nil, nil
}

// ProfilePictureOf returns a phone number's profile picture (ErrNotFound
// when it has none).
func (f *FSM) ProfilePictureOf(phoneID string) (ProfilePicture, error) {
	var p ProfilePicture
	err := f.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketProfilePictures).Get([]byte(phoneID))
		if v == nil {
			return ErrNotFound
		}
		if err := unmarshal(v, &p); err != nil {
			return err
		}
		p.Image = bytes.Clone(p.Image)
		return nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return ProfilePicture{}, err
	}
	return p, err
}

// UploadChunk returns a copy of chunk index of a media, committed or not
// (a resumable upload reads back what it stored). Still sealed.
func (f *FSM) UploadChunk(id string, index uint32) ([]byte, error) {
	var out []byte
	err := f.View(func(tx *bolt.Tx) error {
		out = get(tx, bucketMediaChunks, mediaChunkKey(id, index))
		if out == nil {
			return ErrNotFound
		}
		return nil
	})
	return out, err
}
