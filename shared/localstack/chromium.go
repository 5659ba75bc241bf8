package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
)

// EnvTestChromium names the Chromium the browser tests drive.
const EnvTestChromium = "DUNLIN_TEST_CHROMIUM"

// Chromium finds Debian's Chromium, installing the package when it is
// missing and this process may (root, with apt-get): the dashboard's
// browser tests need a real browser, and no test tool may download its own.
func Chromium(ctx context.Context, log io.Writer) (string, error) {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	if _, err := exec.LookPath("apt-get"); err != nil || os.Geteuid() != 0 {
		return "", errors.New("chromium is not installed; install Debian's chromium package (apt-get install chromium)")
	}
	fmt.Fprintln(log, "installing Debian's chromium for the browser tests (once)...")
	install := func() error {
		cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "chromium")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get install chromium: %w\n%s", err, tail(out, 2000))
		}
		return nil
	}
	if err := install(); err != nil {
		// The package lists may be missing or stale on a fresh machine.
		if out, uerr := exec.CommandContext(ctx, "apt-get", "update").CombinedOutput(); uerr != nil {
			return "", fmt.Errorf("apt-get update: %w\n%s", uerr, tail(out, 2000))
		}
		if err := install(); err != nil {
			return "", err
		}
	}
	return exec.LookPath("chromium")
}
