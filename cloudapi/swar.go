package cloudapi

import "encoding/binary"

// Eight bytes at a time: the send's JSON is scanned and written byte by
// byte, and most of it is one long plain-ASCII text parameter. These word
// tests (the classic "has a zero byte" and "has a byte less than n" bit
// tricks, exact as to whether any byte matches) let the loops of
// fastScan.rawString and appendJSONString skip eight ordinary bytes with
// one test and fall back to the byte loop for a word that holds anything
// else.

const (
	swarLo = 0x0101010101010101
	swarHi = 0x8080808080808080
)

// word8 is the 8 bytes of s from i on (i+8 <= len(s)), little-endian:
// one bounds check and, with the constant indexes, one 8-byte load.
func word8(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// word8b is word8 of a byte slice.
func word8b(b []byte, i int) uint64 { return binary.LittleEndian.Uint64(b[i : i+8]) }

// hasByte reports whether any byte of x is b.
func hasByte(x uint64, b byte) bool {
	y := x ^ (swarLo * uint64(b))
	return (y-swarLo)&^y&swarHi != 0
}

// quietString8 reports whether none of the 8 bytes of x ends or escapes a
// JSON string or is a control byte: no '"', no '\\', nothing below 0x20
// (bytes from 0x80 are fine: UTF-8 is checked apart).
func quietString8(x uint64) bool {
	return (x-swarLo*0x20)&^x&swarHi == 0 && !hasByte(x, '"') && !hasByte(x, '\\')
}

// plainJSON8 reports whether all 8 bytes of x are plainJSON: ASCII from
// 0x20 on, none of " \ < > &.
func plainJSON8(x uint64) bool {
	return x&swarHi == 0 && (x-swarLo*0x20)&^x&swarHi == 0 &&
		!hasByte(x, '"') && !hasByte(x, '\\') && !hasByte(x, '<') && !hasByte(x, '>') && !hasByte(x, '&')
}
