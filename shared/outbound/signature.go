package outbound

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Headers every delivery carries.
const (
	SignatureHeader = "Dunlin-Signature"  // t=<unix seconds>,v1=<hex HMAC-SHA256>
	EventIDHeader   = "Dunlin-Event-Id"   // the event's id: receivers de-duplicate on it
	EventTypeHeader = "Dunlin-Event-Type" // the event's type
)

// DefaultTolerance is how far a signature's timestamp may be from the
// receiver's clock: it bounds how long a captured request can be replayed.
const DefaultTolerance = 5 * time.Minute

// Sign returns the Dunlin-Signature header value for body sent at t:
// HMAC-SHA256, keyed with the endpoint's secret, over the decimal unix
// time, a dot, and the body exactly as sent. The time is signed so that a
// captured request cannot be replayed outside the receiver's tolerance.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Errors Verify returns.
var (
	ErrBadSignatureHeader = errors.New("outbound: Dunlin-Signature header is not t=<unix>,v1=<hex>")
	ErrSignatureMismatch  = errors.New("outbound: signature does not match the body")
	ErrSignatureTooOld    = errors.New("outbound: signature timestamp is outside the tolerance")
)

// Verify checks a Dunlin-Signature header against the raw request body,
// for receivers written in Go. It accepts the header when any v1 value
// matches (several appear while a secret is rotated) and its timestamp is
// within tolerance of now (0 means DefaultTolerance). The comparison is
// constant-time.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrBadSignatureHeader
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrBadSignatureHeader
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrSignatureTooOld
	}
	want := []byte(mac(secret, ts, body))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), want) {
			return nil
		}
	}
	return ErrSignatureMismatch
}
