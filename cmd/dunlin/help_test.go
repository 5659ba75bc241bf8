package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"regexp"
	"testing"
)

// TestEveryCommandHasHelp: each command the usage lists answers --help
// with its usage and no error, and does nothing else (no server started,
// no table touched).
func TestEveryCommandHasHelp(t *testing.T) {
	var top bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &top, &top); err != nil {
		t.Fatal(err)
	}
	commands := regexp.MustCompile(`(?m)^  dunlin ([a-z-]+)`).FindAllStringSubmatch(top.String(), -1)
	if len(commands) < 7 {
		t.Fatalf("the usage lists %d commands:\n%s", len(commands), top.String())
	}
	seen := map[string]bool{}
	for _, c := range commands {
		name := c[1]
		if seen[name] {
			continue
		}
		seen[name] = true
		var out bytes.Buffer
		err := run(context.Background(), []string{name, "--help"}, &out, &out)
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			t.Errorf("dunlin %s --help: %v\n%s", name, err, out.String())
			continue
		}
		if !bytes.Contains(bytes.ToLower(out.Bytes()), []byte("usage")) {
			t.Errorf("dunlin %s --help printed no usage:\n%s", name, out.String())
		}
	}
}
