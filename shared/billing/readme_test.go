package billing

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeNamesEveryAlertKind keeps the README's list of alert kinds
// true: every Alert... constant declared in this package (a kind, not a
// state) is named there in backticks.
func TestReadmeNamesEveryAlertKind(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	decl := regexp.MustCompile(`\bAlert[A-Z]\w*\s*=\s*"([a-z_]+)"`)
	states := map[string]bool{AlertOpen: true, AlertAcknowledged: true, AlertResolved: true}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range decl.FindAllStringSubmatch(string(src), -1) {
			if states[m[1]] {
				continue
			}
			n++
			if !strings.Contains(string(readme), "`"+m[1]+"`") {
				t.Errorf("README does not name the alert kind %s (%s)", m[1], f)
			}
		}
	}
	if n < 9 {
		t.Errorf("found %d alert kinds; the pattern no longer finds their declarations", n)
	}
}
