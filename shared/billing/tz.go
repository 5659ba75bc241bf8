package billing

import (
	"sync"
	"time"
)

var zones sync.Map // name -> *time.Location

// Location returns the named IANA zone, UTC for "" or an unknown name.
// Names are validated when they are saved, so the fallback only guards
// against data written by hand. Loaded zones are cached: LoadLocation
// parses tzdata on every call.
func Location(name string) *time.Location {
	if name == "" {
		return time.UTC
	}
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	zones.Store(name, loc)
	return loc
}

// validZone reports whether name is an IANA zone (not "Local", not "").
func validZone(name string) bool {
	if name == "" || name == "Local" {
		return false
	}
	_, err := time.LoadLocation(name)
	return err == nil
}
