// Package ids makes identifiers for Dunlin's records.
//
// An id is a type prefix ("cus_", "inv_") and 26 Crockford base32 characters:
// 48 bits of millisecond time then 80 random bits. Ids therefore sort by
// creation time, which gives list endpoints a stable, meaningful order, and
// are unguessable enough that one id tells nothing about another.
package ids

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ" // Crockford base32, sorts like its values

// New returns a new id with the given prefix, created at now.
func New(prefix string, now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic("ids: crypto/rand failed: " + err.Error()) // never happens on Linux
	}
	return prefix + encode(b)
}

// encode writes 128 bits as 26 base32 characters (the top 2 bits of the
// first character are always zero).
func encode(b [16]byte) string {
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// Valid reports whether s looks like an id with the given prefix. Handlers use
// it to answer 404 for garbage without touching the database.
func Valid(prefix, s string) bool {
	if len(s) != len(prefix)+26 || s[:len(prefix)] != prefix {
		return false
	}
	for i := len(prefix); i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' && c != 'I' && c != 'L' && c != 'O' && c != 'U') {
			return false
		}
	}
	return true
}
