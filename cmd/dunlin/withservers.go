package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"dunlin/shared/localstack"
)

// runWithServers starts one in-memory DynamoDB Local and one SES local on
// free ports, runs the command with their endpoints (and Chromium, for the
// browser tests) in the environment, and stops them. `make test` uses it so the whole test run shares one of each.
func runWithServers(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stderr, `Usage: dunlin with-servers -- CMD [ARGS...]

Starts DynamoDB Local and SES local on free ports (installing them into
.dunlin/ the first time), runs CMD with their endpoints in
DUNLIN_TEST_DYNAMODB_ENDPOINT and DUNLIN_TEST_SES_ENDPOINT, and stops
them when it ends. make test runs every test this way.
`)
		return nil
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return errors.New("usage: dunlin with-servers -- CMD [ARGS...]")
	}
	home, err := localstack.Home()
	if err != nil {
		return err
	}
	if err := localstack.Install(ctx, home, stderr); err != nil {
		return err
	}
	chromium, err := localstack.Chromium(ctx, stderr)
	if err != nil {
		return err
	}
	ddb, ses, err := localstack.StartFresh(ctx, home)
	if err != nil {
		return err
	}
	defer ddb.Stop()
	defer ses.Stop()
	fmt.Fprintf(stderr, "DynamoDB Local at %s, SES local at %s\n", ddb.Endpoint, ses.Endpoint)

	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Run the command in its own process group and, when we are told to stop,
	// signal the whole group: `go test` would otherwise leave its test
	// binaries running against servers that are about to stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Env = append(os.Environ(), localstack.EnvTestDynamoDB+"="+ddb.Endpoint, localstack.EnvTestSES+"="+ses.Endpoint,
		localstack.EnvTestChromium+"="+chromium)
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exitError(exit.ExitCode())
	}
	return err
}
