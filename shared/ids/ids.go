// Package ids makes identifiers for Dunlin's records.
//
// An id is a type prefix ("cus_", "inv_") and 26 Crockford base32 characters:
// 48 bits of millisecond time then 80 random bits. Ids therefore sort by
// creation time, which gives list endpoints a stable, meaningful order, and
// are unguessable enough that one id tells nothing about another.
package ids

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ" // Crockford base32, sorts like its values

var (
	mu     sync.Mutex
	lastMS uint64
	last   [16]byte
)

// New returns a new id with the given prefix, created at now. Within one
// process ids are strictly increasing: an id made in the same millisecond as
// the previous one (or after the clock stepped back) is the previous one plus
// one, so creation order survives fast bursts and fixed test clocks.
func New(prefix string, now time.Time) string {
	mu.Lock()
	defer mu.Unlock()
	ms := uint64(now.UnixMilli())
	if ms <= lastMS {
		for i := 15; i >= 6; i-- { // increment the 80-bit random part
			last[i]++
			if last[i] != 0 {
				break
			}
		}
		return prefix + encode(last)
	}
	lastMS = ms
	binary.BigEndian.PutUint64(last[:8], ms<<16)
	if _, err := rand.Read(last[6:]); err != nil {
		panic("ids: crypto/rand failed: " + err.Error()) // never happens on Linux
	}
	return prefix + encode(last)
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

// Keyed returns the id with the given prefix made at t for key: the same
// for the same t and key, so a record meant to exist once (an alert raised
// once a day) can be written under a condition that it does not exist.
func Keyed(prefix string, t time.Time, key string) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixMilli())<<16)
	h := sha256.Sum256([]byte(key))
	copy(b[6:], h[:10])
	return prefix + encode(b)
}

// Floor returns the smallest id with the given prefix that can be made at
// t or later: a key-range bound for "created since t".
func Floor(prefix string, t time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixMilli())<<16)
	return prefix + encode(b)
}
