package dashboard

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SessionTTL is how long a sign-in lasts: a working day.
const SessionTTL = 8 * time.Hour

// A session cookie is "<key id>.<expires unix>.<mac>": it names the API key
// that signed in and when the session ends, signed with HMAC-SHA256 under
// the firm's secret. It holds no secret of its own; every request still
// checks that the key is live, so revoking the key ends its sessions.
var errSession = errors.New("session is not valid")

func sessionMAC(secret, payload string) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte("dunlin-session|" + payload))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// signSession returns the cookie value for keyID, valid until exp.
func signSession(secret, keyID string, exp time.Time) string {
	payload := keyID + "." + strconv.FormatInt(exp.Unix(), 10)
	return payload + "." + sessionMAC(secret, payload)
}

// checkSession returns the key id of a cookie signed under any of secrets
// (newest first, for rotation) and not yet expired at now.
func checkSession(secrets []string, value string, now time.Time) (string, error) {
	if len(value) > 300 {
		return "", errSession
	}
	i := strings.LastIndexByte(value, '.')
	if i < 0 {
		return "", errSession
	}
	payload, mac := value[:i], value[i+1:]
	keyID, expS, ok := strings.Cut(payload, ".")
	if !ok || keyID == "" {
		return "", errSession
	}
	exp, err := strconv.ParseInt(expS, 10, 64)
	if err != nil {
		return "", errSession
	}
	for _, sec := range secrets {
		if hmac.Equal([]byte(sessionMAC(sec, payload)), []byte(mac)) {
			if now.Unix() >= exp {
				return "", errSession
			}
			return keyID, nil
		}
	}
	return "", errSession
}

// csrfToken binds a form to the session it was served in. SameSite=Strict
// and the cross-origin check already stop other sites' posts; the token
// also stops them in browsers that send neither Sec-Fetch-Site nor Origin.
func csrfToken(secret, session string) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte("dunlin-csrf|" + session))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

func csrfValid(secrets []string, session, token string) bool {
	for _, sec := range secrets {
		if token != "" && hmac.Equal([]byte(csrfToken(sec, session)), []byte(token)) {
			return true
		}
	}
	return false
}
